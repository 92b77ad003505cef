"""The Handler protocol and registry: what an entity app provides so the engine can run
batches of it. The engine knows no entity; ledger and inventory register theirs in
AppConfig.ready().

A handler runs in four steps, each over the whole batch:
  clean(record)      parse one record's data; no database (pure)
  load(records)      fetch everything the batch refers to, one query per kind
  validate(record)   in request order, against what was loaded and what earlier records
                     of the batch staged, so operations see each other
  write(records)     persist the staged changes of the good records, one statement per kind
and, when the write meets a unique constraint another transaction won,
  find_conflicts(records) marks the records that lost, so the others can be written."""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from django.db.models import Model, Q

from batch.engine.codes import ErrorCode, FieldCode, RequestCode
from batch.engine.envelope import BatchOptions
from batch.engine.fields import Detail, Schema
from batch.engine.records import Record
from bigledger.errors import RequestError
from bigledger.models import Company


@dataclass
class BatchContext:
    company: Company
    user: Any
    options: BatchOptions
    today: date
    _permissions: dict = field(default_factory=dict)

    def can(self, model: type[Model], action: str) -> bool:
        key = (model, action)
        if key not in self._permissions:
            meta = model._meta
            self._permissions[key] = self.user is not None and self.user.has_perm(
                f"{meta.app_label}.{action}_{meta.model_name}"
            )
        return self._permissions[key]


# The model permissions each operation needs: an upsert may create or update.
PERMISSION_ACTIONS = {
    "create": ("add",),
    "update": ("change",),
    "upsert": ("add", "change"),
    "delete": ("delete",),
}


class Handler:
    """What an entity provides so the engine, files, templates, the admin and the OpenAPI
    schema can serve it. Every hook any of them calls is declared here, with its default."""

    entity: ClassVar[str]
    """The URL name: POST /v1/batch/{entity} ("customers", "journal-entries")."""
    model: ClassVar[type[Model]]
    """The model a record becomes; its add/change/delete permissions guard the operations."""
    max_records: ClassVar[int]
    """The most operations a sync batch of this entity may carry (a job's chunk size)."""
    operations: ClassVar[frozenset[str]]
    """The operations the entity supports, of "create", "update", "upsert", "delete"."""
    create_schema: ClassVar[Schema]
    """The fields of a create's `data`; also the template's and the OpenAPI's."""
    update_schema: ClassVar[Schema | None] = None
    """The fields of an update's `data` (None when updates are not supported)."""
    delete_schema: ClassVar[Schema | None] = None
    """The fields of a delete's `data`: the record's identifiers."""
    field_map: ClassVar[dict[str, str]] = {}
    """JSON path (dotted for nested fields) -> model attribute, for values copied as they
    are; exports read these columns straight from the model."""
    match_fields: ClassVar[tuple[str, ...]] = ()
    """The JSON fields an upsert is matched on, in order, after `id`."""
    extra_match_fields: ClassVar[tuple[str, ...]] = ()
    """Fields an upsert matches on only when options.matchOn names them ("email");
    options.matchOn names any of these and of match_fields, in its own order."""
    key_references: ClassVar[dict[str, str]] = {}
    """Fields naming another record an operation relies on, at any depth of its data, as
    field -> the key they are compared with ("parentId" -> "id"). With each record's own
    keys (`id`, `externalId`, match_fields, extra_match_fields) they tell which operations
    of a job must apply in request order (batch.jobs.lanes)."""
    file_example: ClassVar[list[dict[str, str]] | None] = None
    """Example rows {column: value} for the templates; None lets them be made from the
    columns and the company's own codes."""

    @classmethod
    def template_lists(cls, company: Company) -> dict[str, list[str]]:
        """The company's own codes for the templates' dropdowns, keyed by field name
        ("taxCode", "customerNumber" …). None by default."""
        return {}

    def __init__(self, ctx: BatchContext):
        self.ctx = ctx
        self.company = ctx.company

    # Step 1: parse -----------------------------------------------------------------------

    @classmethod
    def schema_for(cls, operation: str) -> Schema | None:
        """The fields of `operation`'s data, or None when the entity has none for it. An
        upsert takes what a create or an update takes; which one it needs is known once it
        is matched (clean_for_create)."""
        if operation == "upsert":
            return upsert_schema(cls)
        return {
            "create": cls.create_schema,
            "update": cls.update_schema,
            "delete": cls.delete_schema,
        }[operation]

    @classmethod
    def check_options(cls, options: BatchOptions) -> None:
        """Refuse, before anything runs, options this entity cannot honour."""
        allowed = (*cls.match_fields, *cls.extra_match_fields)
        unknown = [name for name in options.match_on if name not in allowed]
        if unknown:
            takes = ", ".join(allowed) if allowed else "no field"
            raise RequestError(
                RequestCode.INVALID_REQUEST,
                f"options.matchOn: {cls.entity} can match on {takes}; not {', '.join(unknown)}.",
                details=[{"field": "options.matchOn", "message": f"Takes {takes}."}],
            )

    def clean(self, record: Record) -> None:
        partial = record.operation != "create"
        values, details = self.schema_for(record.operation).clean(record.op.data, partial=partial)
        record.values = values
        if details:
            record.fail_fields(details)

    def clean_for_create(self, record: Record) -> bool:
        """An upsert that matched nothing becomes a create: its data must be what a create
        takes (the fields that only name a record are left out). False, with the record
        failed, when it is not."""
        data = {
            name: value
            for name, value in record.op.data.items()
            if name in self.create_schema.fields
        }
        values, details = self.create_schema.clean(data)
        if details:
            record.fail_fields(details)
            return False
        record.values = values
        record.applied = "create"
        return True

    def match_order(self) -> tuple[str, ...]:
        """The fields an upsert is matched by, after `id`: options.matchOn, else the
        entity's own order."""
        return self.ctx.options.match_on or self.match_fields

    # Steps 2–4: provided by each entity --------------------------------------------------

    def load(self, records: list[Record]) -> None:
        """Fetch what the batch refers to; one query per kind, whatever the batch size."""

    def validate(self, record: Record) -> None:
        getattr(self, f"validate_{record.operation}")(record)

    def write(self, records: list[Record]) -> None:
        raise NotImplementedError

    def find_conflicts(self, records: list[Record]) -> bool:
        """After an IntegrityError: mark records that lost a race; True if any were."""
        return False

    def discard(self, record: Record) -> None:
        """Forget what `record` staged: it will not be written (skipped after a failure).
        Handlers that write from their own staged state rather than `records` override it."""

    # Shared helpers ------------------------------------------------------------------------

    def scoped(self, model: type[Model] | None = None):
        return (model or self.model).objects.for_company(self.company)

    @staticmethod
    def reject(record: Record, field: str, message: str, code: FieldCode) -> None:
        record.fail_fields([Detail(field, message, code)])


EXTERNAL_ID = "externalId"


def is_external(param: str) -> bool:
    """Whether a JSON field names a record by its external id ("customerExternalId")."""
    return param.endswith("ExternalId") or param == EXTERNAL_ID


class ReferenceIndex:
    """Rows of one model found by public id or natural key (`by_ref`) or by external id
    (`by_external`, a namespace of its own: another system's ids may look like ours), all
    loaded in one query. Each row is one object however many names find it."""

    def __init__(
        self,
        queryset,
        natural_key: str,
        refs: Iterable[str],
        *,
        external_refs: Iterable[str] = (),
        select_related=(),
    ):
        refs = {ref for ref in refs if ref}
        external_refs = {ref for ref in external_refs if ref}
        self.natural_key = natural_key
        self.by_ref: dict[str, Any] = {}
        self.by_external: dict[str, Any] = {}
        if not refs and not external_refs:
            return
        condition = Q(public_id__in=refs) | Q(**{f"{natural_key}__in": refs}) if refs else Q()
        if external_refs:
            condition |= Q(external_id__in=external_refs)
        rows = queryset.filter(condition)
        if select_related:
            rows = rows.select_related(*select_related)
        for row in rows:
            self.by_ref[row.public_id] = row
            self.by_ref.setdefault(getattr(row, natural_key), row)
            if getattr(row, "external_id", None):
                self.by_external[row.external_id] = row

    def get(self, ref: str | None):
        return self.by_ref.get(ref) if ref else None

    def get_external(self, ref: str | None):
        return self.by_external.get(ref) if ref else None

    def lookup(self, param: str, ref: str | None):
        """The row `ref` names when sent as `param` ("customerExternalId" or "customerId")."""
        return self.get_external(ref) if is_external(param) else self.get(ref)

    def rows(self) -> list:
        """Every row loaded, once each."""
        return list(
            {id(row): row for row in (*self.by_ref.values(), *self.by_external.values())}.values()
        )

    def add(self, row, natural_key_value: str) -> None:
        self.by_ref[row.public_id] = row
        self.by_ref[natural_key_value] = row

    def add_external(self, row, external_id: str | None) -> None:
        if external_id:
            self.by_external[external_id] = row

    def discard(self, row, natural_key_value: str) -> None:
        self.by_ref.pop(row.public_id, None)
        self.by_ref.pop(natural_key_value, None)
        external_id = getattr(row, "external_id", None)
        if external_id and self.by_external.get(external_id) is row:
            del self.by_external[external_id]


def split_refs(values: Iterable[dict], params: Iterable[str]) -> tuple[set[str], set[str]]:
    """The references `values` send under `params`: (ids and natural keys, external ids)."""
    refs, external = set(), set()
    for value in values:
        for param in params:
            ref = value.get(param)
            if ref:
                (external if is_external(param) else refs).add(ref)
    return refs, external


def duplicate_error(record: Record, field: str, value: str, message: str = "") -> None:
    """`field` of the record holds a value another record already has."""
    message = message or f"{field[0].upper()}{field[1:]} '{value}' already exists"
    record.fail(
        ErrorCode.DUPLICATE_ERROR,
        message,
        field=field,
        details=[Detail(field, message, FieldCode.DUPLICATE)],
    )


def reference_error(record: Record, field: str, what: str, ref: str) -> None:
    record.fail(
        ErrorCode.REFERENCE_ERROR,
        f"{what} '{ref}' does not exist.",
        field=field,
        details=[Detail(field, f"{what} '{ref}' does not exist.", FieldCode.NOT_FOUND)],
    )


@functools.cache
def upsert_schema(handler: type[Handler]) -> Schema:
    """What an upsert's data may hold: a create's fields and an update's, which name the
    record too."""
    return Schema({**handler.create_schema.fields, **handler.update_schema.fields})


_registry: dict[str, type[Handler]] = {}


def register(handler: type[Handler]) -> type[Handler]:
    _registry[handler.entity] = handler
    return handler


def get_handler(entity: str) -> type[Handler] | None:
    return _registry.get(entity)


def registered_handlers() -> dict[str, type[Handler]]:
    return dict(_registry)
