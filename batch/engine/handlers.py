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

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from django.db.models import Model, Q

from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.envelope import BatchOptions
from batch.engine.fields import Detail, Schema
from batch.engine.records import Record
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


PERMISSION_ACTIONS = {"create": "add", "update": "change", "delete": "delete"}


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
    """The operations the entity supports, of "create", "update", "delete"."""
    create_schema: ClassVar[Schema]
    """The fields of a create's `data`; also the template's and the OpenAPI's."""
    update_schema: ClassVar[Schema | None] = None
    """The fields of an update's `data` (None when updates are not supported)."""
    delete_schema: ClassVar[Schema | None] = None
    """The fields of a delete's `data`: the record's identifiers."""
    field_map: ClassVar[dict[str, str]] = {}
    """JSON path (dotted for nested fields) -> model attribute, for values copied as they
    are; exports read these columns straight from the model."""
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
        """The fields of `operation`'s data, or None when the entity has none for it."""
        return {
            "create": cls.create_schema,
            "update": cls.update_schema,
            "delete": cls.delete_schema,
        }[operation]

    def clean(self, record: Record) -> None:
        partial = record.operation != "create"
        values, details = self.schema_for(record.operation).clean(record.op.data, partial=partial)
        record.values = values
        if details:
            record.fail_fields(details)

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


class ReferenceIndex:
    """Rows of one model found by public id or natural key, loaded in one query."""

    def __init__(self, queryset, natural_key: str, refs: Iterable[str], *, select_related=()):
        refs = {ref for ref in refs if ref}
        self.by_ref: dict[str, Any] = {}
        if not refs:
            return
        rows = queryset.filter(Q(public_id__in=refs) | Q(**{f"{natural_key}__in": refs}))
        if select_related:
            rows = rows.select_related(*select_related)
        for row in rows:
            self.by_ref[row.public_id] = row
            self.by_ref.setdefault(getattr(row, natural_key), row)

    def get(self, ref: str | None):
        return self.by_ref.get(ref) if ref else None

    def add(self, row, natural_key_value: str) -> None:
        self.by_ref[row.public_id] = row
        self.by_ref[natural_key_value] = row

    def discard(self, row, natural_key_value: str) -> None:
        self.by_ref.pop(row.public_id, None)
        self.by_ref.pop(natural_key_value, None)


def reference_error(record: Record, field: str, what: str, ref: str) -> None:
    record.fail(
        ErrorCode.REFERENCE_ERROR,
        f"{what} '{ref}' does not exist.",
        field=field,
        details=[Detail(field, f"{what} '{ref}' does not exist.", FieldCode.NOT_FOUND)],
    )


_registry: dict[str, type[Handler]] = {}


def register(handler: type[Handler]) -> type[Handler]:
    _registry[handler.entity] = handler
    return handler


def get_handler(entity: str) -> type[Handler] | None:
    return _registry.get(entity)


def registered_handlers() -> dict[str, type[Handler]]:
    return dict(_registry)
