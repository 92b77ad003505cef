"""A handler for master data — rows named by a natural key, created, updated and deleted
in place (customers, suppliers, items, accounts). Entity handlers declare their fields,
keys and references; this class does the set-based work:

- one query loads the rows that updates, upserts and deletes name (by public id, natural
  key or external id), one more the rows an upsert matches on another field (matchOn);
- one query per unique field finds what the database already holds for the batch's values;
- validation runs in order on in-memory state, so a create followed by an update of the
  same record, or two creates with the same email, behave as if applied one by one;
- an update that would change nothing is `unchanged` and writes nothing;
- the write is one DELETE (and one INSERT of tombstones), one UPDATE and one INSERT (plus
  one number allocation).

An update or delete names its row by `id`, else `externalId`, else the natural key. An
upsert is matched by `id`, else by each of `match_order()` in turn (externalId, then the
natural key, or what options.matchOn names): matched, it is an update; unmatched, a create."""

from collections import defaultdict
from typing import Any, ClassVar

from django.db import connection
from django.db.models import F, Model, Q
from django.db.models.base import ModelState
from django.db.models.functions import Lower
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from batch.engine.bulk import company_keys, copy_insert, values_update
from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.fields import MISSING, Detail
from batch.engine.handlers import EXTERNAL_ID, Handler, ReferenceIndex, duplicate_error
from batch.engine.locks import lock_keys
from batch.engine.records import Record
from bigledger.models import PublicIdGenerator, Tombstone
from bigledger.numbers import allocate_numbers, format_number, next_number_hint


def dig(values: dict, parts: tuple[str, ...]) -> Any:
    """values["address"]["city"] for ("address", "city"); MISSING when absent."""
    current: Any = values
    for part in parts:
        if not isinstance(current, dict) or part not in current:
            return MISSING
        current = current[part]
    return current


def differs(instance: Model, attr: str, snapshot: dict) -> bool:
    """Whether `attr` of `instance` is not what it was (a foreign key set by object is
    compared by its id when the snapshot holds the id)."""
    if attr not in snapshot:
        attr = f"{attr}_id"
    if attr not in snapshot:
        return True
    return getattr(instance, attr) != snapshot[attr]


def owner_key(instance: Model) -> tuple:
    """Who holds a unique value: a stored row by pk, a staged new row by identity."""
    return ("pk", instance.pk) if instance.pk else ("new", id(instance))


class PublicIds:
    """A public id default for a batch's new rows: ids made a block at a time
    (PublicIdGenerator.batch, half the cost of one call per id), each block twice the last,
    so a batch of one row makes few spare ids and a batch of 500 six calls."""

    FIRST_BLOCK, LAST_BLOCK = 8, 1024

    def __init__(self, generator: PublicIdGenerator):
        self.generator = generator
        self.spare: list[str] = []
        self.block = self.FIRST_BLOCK

    def __call__(self) -> str:
        if not self.spare:
            self.spare = self.generator.batch(self.block)
            self.block = min(self.block * 2, self.LAST_BLOCK)
        return self.spare.pop()


def fresh_default(field):
    """What makes a field's callable default for each new row of a batch."""
    if isinstance(field.default, PublicIdGenerator):
        return PublicIds(field.default)
    return field.get_default


class NewRows:
    """Unsaved rows of one model for one batch, each what `model(**fixed)` makes, without
    Model.__init__ per row: it asks every field for its default (a dozen calls a row), so a
    batch of 500 creates spent more on building rows than on writing them. The constant
    defaults are taken once; the callable ones are called for each row (public ids drawn
    from blocks made for the batch: PublicIds)."""

    def __init__(self, model: type[Model], **fixed):
        prototype = model(**fixed)
        self.model = model
        self.values = {name: value for name, value in vars(prototype).items() if name != "_state"}
        self.cached = dict(prototype._state.fields_cache)
        self.fresh = [
            (field.attname, fresh_default(field))
            for field in model._meta.concrete_fields
            if field.has_default() and callable(field.default) and field.name not in fixed
        ]
        # A receiver of Model.__init__'s signals would miss the rows made here.
        self.plain = not (pre_init.has_listeners(model) or post_init.has_listeners(model))
        self.fixed = fixed

    def __call__(self) -> Model:
        if not self.plain:
            return self.model(**self.fixed)
        row = self.model.__new__(self.model)
        attributes = vars(row)
        attributes.update(self.values)
        state = ModelState()
        state.fields_cache = self.cached.copy()
        row._state = state
        for attname, default in self.fresh:
            attributes[attname] = default()
        return row


class MasterDataHandler(Handler):
    natural_key: ClassVar[str]  # model field naming a row, e.g. "number", "item_code"
    natural_key_param: ClassVar[str]  # the JSON field that carries it, e.g. "customerNumber"
    # JSON field -> (model field, case-insensitive): unique per company. externalId is one.
    unique_fields: ClassVar[dict[str, tuple[str, bool]]] = {}
    # (prefix, width) when the natural key is a number the system allocates.
    numbered: ClassVar[tuple[str, int] | None] = None
    # JSON path (dotted for nested) -> model attribute, for plain values.
    field_map: ClassVar[dict[str, str]] = {}
    what: ClassVar[str] = "Record"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.index: ReferenceIndex | None = None
        # Per unique field: value -> owner_key() of the row holding it, as the batch goes.
        self.owners: dict[str, dict[Any, tuple]] = defaultdict(dict)
        self.held: dict[str, dict[tuple, Any]] = defaultdict(dict)  # the reverse: owner -> value
        self.blocked: set[int] = set()
        self.created: dict[int, Model] = {}  # id(instance) -> instance, staged inserts
        self.changed: dict[int, tuple[Model, set[str]]] = {}  # staged updates and their fields
        self.deleted: dict[int, Model] = {}  # id(instance) -> instance, staged deletes
        self.instances: dict[tuple, Model] = {}  # owner_key() -> the row, loaded or staged
        self.tombstones: dict[str, Tombstone] = {}  # public or external id -> gone before
        self.next_number = 1
        self.new_rows = NewRows(self.model, company=self.company)
        # field_map with each path split once: (path parts, attribute).
        self.paths = [(tuple(path.split(".")), attr) for path, attr in self.field_map.items()]

    # Load ----------------------------------------------------------------------------------

    def identify(self, record: Record) -> tuple[str, str | None]:
        """The field that names the row an update or delete is for, and its value: `id`,
        else `externalId`, else the natural key."""
        values = record.values
        for param in ("id", EXTERNAL_ID, self.natural_key_param):
            if values.get(param):
                return param, values[param]
        return "id", None

    def load(self, records: list[Record]) -> None:
        named = [record for record in records if record.operation in ("update", "delete")]
        upserts = [record for record in records if record.operation == "upsert"]
        if upserts and not self.ctx.options.validate_only:
            lock_keys(f"{self.company.pk}:{self.entity}", self.upsert_keys(upserts))
        refs, external = set(), set()
        for record in named:
            param, ref = self.identify(record)
            (external if param == EXTERNAL_ID else refs).add(ref)
        for record in upserts:
            refs.update(filter(None, (record.values.get("id"),)))
            refs.update(filter(None, (record.values.get(self.natural_key_param),)))
            external.update(filter(None, (record.values.get(EXTERNAL_ID),)))
        self.index = ReferenceIndex(self.scoped(), self.natural_key, refs, external_refs=external)
        loaded = self.index.rows()
        self.load_matches(upserts, loaded)
        for row in loaded:
            self.instances[owner_key(row)] = row
        looked_up = {EXTERNAL_ID: external, self.natural_key_param: refs}
        for param, (model_field, insensitive) in self.unique_fields.items():
            wanted = {
                self.unique_value(value, insensitive)
                for record in records
                if (value := record.values.get(param))
            }
            if not insensitive and wanted <= looked_up.get(param, set()):
                # The index looked every one of them up already: no second query.
                self.owners[param] = {
                    value: owner_key(row)
                    for row in loaded
                    if (value := getattr(row, model_field)) in wanted
                }
            else:
                self.owners[param] = self.find_owners(model_field, insensitive, wanted)
            self.held[param] = {owner: value for value, owner in self.owners[param].items()}
        self.load_references(records)
        if self.numbered:
            self.next_number = 1 + next_number_hint(company=self.company, prefix=self.numbered[0])
        existing = [row.pk for row in loaded]
        if existing and self.checks_use(records):
            self.blocked = self.rows_in_use(existing)
        self.load_tombstones([record for record in named if record.operation == "delete"])

    def upsert_keys(self, records: list[Record]) -> set[str]:
        """What the batch's upserts may match on, to lock (batch.engine.locks)."""
        keys = set()
        for record in records:
            for param in (EXTERNAL_ID, self.natural_key_param, *self.match_order()):
                value = record.values.get(param)
                if value:
                    insensitive = self.unique_fields.get(param, ("", False))[1]
                    keys.add(f"{param}={self.unique_value(value, insensitive)}")
        return keys

    def load_matches(self, upserts: list[Record], loaded: list[Model]) -> None:
        """The rows upserts match on fields other than ids and keys (options.matchOn
        ["email"]), as the same objects the index holds."""
        other = [
            param
            for param in self.match_order()
            if param not in (EXTERNAL_ID, self.natural_key_param)
        ]
        condition = Q()
        for param in other:
            model_field, insensitive = self.unique_fields[param]
            wanted = {
                self.unique_value(value, insensitive)
                for record in upserts
                if (value := record.values.get(param))
            }
            if wanted:
                condition |= Q(**{f"_match_{param}__in": wanted})
        if not condition:
            return
        rows = self.scoped().annotate(
            **{
                f"_match_{param}": Lower(field) if insensitive else F(field)
                for param in other
                for field, insensitive in (self.unique_fields[param],)
            }
        )
        known = {row.pk: row for row in loaded}
        for row in rows.filter(condition):
            row = known.setdefault(row.pk, row)
            self.instances[owner_key(row)] = row

    def load_tombstones(self, deletes: list[Record]) -> None:
        """Of the rows deletes name and the batch did not find, those deleted before: a
        delete of them changes nothing."""
        missing = [self.identify(record) for record in deletes]
        missing = [
            (param, ref) for param, ref in missing if ref and self.lookup(param, ref) is None
        ]
        ids = {ref for param, ref in missing if param == "id"}
        external = {ref for param, ref in missing if param == EXTERNAL_ID}
        if not ids and not external:
            return
        gone = Tombstone.objects.filter(company=self.company, model=self.model._meta.label_lower)
        for tombstone in gone.filter(Q(public_id__in=ids) | Q(external_id__in=external)):
            self.tombstones[tombstone.public_id] = tombstone
            if tombstone.external_id:
                self.tombstones.setdefault(tombstone.external_id, tombstone)

    def find_owners(self, model_field: str, insensitive: bool, values: set) -> dict:
        if not values:
            return {}
        if connection.vendor == "postgresql":
            found = company_keys(
                self.model,
                company_id=self.company.pk,
                field=model_field,
                values=values,
                insensitive=insensitive,
            )
            return {value: ("pk", pk) for value, pk in found}
        rows = self.scoped()
        if insensitive:
            rows = rows.exclude(**{model_field: ""}).annotate(_key=Lower(model_field))
            return {
                key: ("pk", pk)
                for key, pk in rows.filter(_key__in=values).values_list("_key", "pk")
            }
        rows = rows.filter(**{f"{model_field}__in": values})
        return {value: ("pk", pk) for value, pk in rows.values_list(model_field, "pk")}

    @staticmethod
    def unique_value(value: str, insensitive: bool) -> str:
        return value.lower() if insensitive else value

    def load_references(self, records: list[Record]) -> None:
        """Hook: load what records refer to (tax codes, parent accounts …)."""

    def rows_in_use(self, pks: list[int]) -> set[int]:
        """Hook: of these rows, those other records depend on (they cannot be deleted)."""
        return set()

    def checks_use(self, records: list[Record]) -> bool:
        """Whether the batch needs rows_in_use: only a delete does, by default, so a batch
        of updates and upserts is spared those queries."""
        return any(record.operation == "delete" for record in records)

    # Validate ------------------------------------------------------------------------------

    def validate_upsert(self, record: Record) -> None:
        if record.values.get("id"):
            instance = self.find(record)  # our id names a row that exists, or nothing
            if instance is None:
                return
        else:
            instance, unmatched = self.match(record)
            if unmatched is not None:
                param, ref = unmatched
                message = (
                    f"{self.what} '{ref}' not found; {param} is given by BigLedger, so an "
                    "upsert cannot create a record by it."
                )
                record.fail(ErrorCode.NOT_FOUND, message, field=param)
                return
        if instance is None:
            if self.clean_for_create(record):
                self.validate_create(record)
            return
        record.applied = "update"
        self.stage(record, instance, creating=False)

    def match(self, record: Record) -> tuple[Model | None, tuple[str, str] | None]:
        """The row an upsert without an id is for, by each field of match_order() in turn;
        with, when nothing matched, a key the upsert named that a create cannot keep."""
        values = record.values
        for param in self.match_order():
            value = values.get(param)
            if value:
                instance = self.holder(param, value)
                if instance is not None:
                    return instance, None
        sent = values.get(self.natural_key_param)
        if sent and self.natural_key_param not in self.create_schema.fields:
            return None, (self.natural_key_param, sent)
        return None, None

    def holder(self, param: str, value: str) -> Model | None:
        """The row holding `value` of `param` now, as the batch so far left it."""
        if param in self.unique_fields:
            insensitive = self.unique_fields[param][1]
            owner = self.owners[param].get(self.unique_value(value, insensitive))
            return self.instances.get(owner) if owner is not None else None
        return self.lookup(param, value)

    def validate_create(self, record: Record) -> None:
        instance = self.new_rows()
        if self.numbered:
            # A provisional number, so later operations of the batch can name the record;
            # the real one is allocated under lock at write time (usually the same).
            prefix, width = self.numbered
            setattr(instance, self.natural_key, format_number(prefix, width, self.next_number))
        self.stage(record, instance, creating=True)
        if record.target is instance and self.numbered:
            self.next_number += 1

    def validate_update(self, record: Record) -> None:
        instance = self.find(record)
        if instance is not None:
            self.stage(record, instance, creating=False)

    def validate_delete(self, record: Record) -> None:
        param, ref = self.identify(record)
        tombstone = self.tombstones.get(ref) if param in ("id", EXTERNAL_ID) else None
        if tombstone is not None and self.lookup(param, ref) is None:
            record.applied = "unchanged"  # deleted before: deleting again changes nothing
            record.data = {"id": tombstone.public_id, EXTERNAL_ID: tombstone.external_id}
            return
        instance = self.find(record)
        if instance is None:
            return
        if instance.pk in self.blocked:
            record.fail(ErrorCode.CONFLICT, self.in_use_message(instance))
            return
        for param, (model_field, insensitive) in self.unique_fields.items():
            value = self.unique_value(getattr(instance, model_field), insensitive)
            if self.owners[param].get(value) == owner_key(instance):
                del self.owners[param][value]
                self.held[param].pop(owner_key(instance), None)
        self.index.discard(instance, getattr(instance, self.natural_key))
        if self.created.pop(id(instance), None) is None:
            self.deleted[id(instance)] = instance
        self.changed.pop(id(instance), None)
        record.target = instance

    def in_use_message(self, instance: Model) -> str:
        return f"{self.what} is in use by other records and cannot be deleted."

    def find(self, record: Record) -> Model | None:
        param, ref = self.identify(record)
        if not ref:
            self.reject(
                record,
                "id",
                f"id, externalId or {self.natural_key_param} is required for {record.operation}.",
                FieldCode.REQUIRED,
            )
            return None
        instance = self.lookup(param, ref)
        if instance is None:
            record.fail(ErrorCode.NOT_FOUND, f"{self.what} '{ref}' not found.", field=param)
        return instance

    def lookup(self, param: str, ref: str) -> Model | None:
        """The row `ref` names as `param` now; a key or external id renamed earlier in the
        batch names nothing any more."""
        if param == EXTERNAL_ID:
            instance = self.index.get_external(ref)
            return instance if instance is not None and instance.external_id == ref else None
        instance = self.index.get(ref)
        if instance is not None and ref not in (
            instance.public_id,
            getattr(instance, self.natural_key),
        ):
            return None
        return instance

    def stage(self, record: Record, instance: Model, *, creating: bool) -> None:
        if not self.claim_unique_values(record, instance):
            return
        # A new row that fails is dropped, so only a stored one needs restoring.
        snapshot = {} if creating else self.snapshot(instance)
        assigned = self.assign(instance, record.values)
        details = self.check(record, instance, creating=creating)
        if details or record.error is not None:
            for attr, value in snapshot.items():
                setattr(instance, attr, value)
            if details:
                record.fail_fields(details)
            return
        self.commit_unique_values(record, instance)
        record.target = instance
        if creating:
            self.created[id(instance)] = instance
            self.instances[owner_key(instance)] = instance
            return
        changed = {attr for attr in assigned if differs(instance, attr, snapshot)}
        if not changed:
            record.applied = "unchanged"  # nothing to write, nothing to tell the feed
        elif id(instance) not in self.created:
            self.changed.setdefault(id(instance), (instance, set()))[1].update(changed)

    def snapshot(self, instance: Model) -> dict:
        return {attr: getattr(instance, attr) for attr in self.assignable_attrs()}

    def assignable_attrs(self) -> list[str]:
        return list(self.field_map.values())

    def assign(self, instance: Model, values: dict) -> set[str]:
        """Copy the values the record sent onto the instance; returns the attributes set."""
        changed = set()
        for parts, attr in self.paths:
            value = dig(values, parts)
            if value is MISSING:
                continue
            if value is None:
                value = self.model._meta.get_field(attr).get_default()
            setattr(instance, attr, value)
            changed.add(attr)
        return changed | self.assign_references(instance, values)

    def assign_references(self, instance: Model, values: dict) -> set[str]:
        """Hook: set foreign keys from resolved references; returns the attributes set."""
        return set()

    def check(self, record: Record, instance: Model, *, creating: bool) -> list[Detail]:
        """Hook: rules across fields and references, on the instance as it would be saved."""
        return []

    def claim_unique_values(self, record: Record, instance: Model) -> bool:
        for param, (_, insensitive) in self.unique_fields.items():
            value = record.values.get(param)
            if not value:
                continue
            owner = self.owners[param].get(self.unique_value(value, insensitive))
            if owner is not None and owner != owner_key(instance):
                duplicate_error(record, param, value)
                return False
        return True

    def commit_unique_values(self, record: Record, instance: Model) -> None:
        for param, (_, insensitive) in self.unique_fields.items():
            value = record.values.get(param)
            if not value:
                continue
            owners, mine = self.owners[param], owner_key(instance)
            old = self.held[param].pop(mine, None)
            if old is not None and owners.get(old) == mine:
                del owners[old]  # the row gives up its old value
            key = self.unique_value(value, insensitive)
            owners[key] = mine
            self.held[param][mine] = key
        if self.natural_key_param in record.values or not instance.pk:
            natural = getattr(instance, self.natural_key)
            if natural:
                self.index.add(instance, natural)
        self.index.add_external(instance, instance.external_id)

    # Write ---------------------------------------------------------------------------------

    def write(self, records: list[Record]) -> None:
        if self.deleted:
            Tombstone.bury(self.deleted.values())
            self.delete_rows([row.pk for row in self.deleted.values()])
        if self.changed:
            rows = [row for row, _ in self.changed.values()]
            fields = set().union(*(fields for _, fields in self.changed.values()))
            self.update(rows, sorted(fields | ({"updated_at"} & self.model_fields())))
        creates = list(self.created.values())
        if creates:
            if self.numbered:
                prefix, width = self.numbered
                numbers = allocate_numbers(
                    company=self.company, prefix=prefix, width=width, count=len(creates)
                )
                for instance, number in zip(creates, numbers, strict=True):
                    setattr(instance, self.natural_key, number)
            self.insert(creates)
        for record in records:
            if record.target is not None:
                record.data = self.result_data(record.target)

    def delete_rows(self, pks: list[int]) -> None:
        """One DELETE for the batch. Django's collector would chunk it by 100 and re-check
        relations the handler already checked (rows_in_use); rows that cascade are the
        handler's to delete first. A dependent committed meanwhile by another transaction
        still stops the DELETE at the foreign key, and find_conflicts names it."""
        rows = self.scoped().filter(pk__in=pks)
        rows._raw_delete(rows.db)

    def update(self, rows: list[Model], fields: list[str]) -> None:
        if "updated_at" in fields:  # bulk_update skips auto_now
            now = timezone.now()
            for row in rows:
                row.updated_at = now
        values_update(self.model, rows, fields)

    def insert(self, instances: list[Model]) -> None:
        copy_insert(self.model, instances)

    def model_fields(self) -> set[str]:
        return {field.attname for field in self.model._meta.concrete_fields} | {
            field.name for field in self.model._meta.concrete_fields
        }

    def result_data(self, instance: Model) -> dict:
        return {
            "id": instance.public_id,
            self.natural_key_param: getattr(instance, self.natural_key),
            EXTERNAL_ID: instance.external_id,
        }

    def find_conflicts(self, records: list[Record]) -> bool:
        """Re-read the unique values and the deleted rows' dependents: what a concurrent
        batch committed meanwhile now shows."""
        found = False
        deleting = {row.pk: row for row in self.deleted.values()}
        for pk in self.rows_in_use(list(deleting)) if deleting else ():
            record = next(r for r in records if r.target is deleting[pk])
            record.fail(ErrorCode.CONFLICT, self.in_use_message(deleting[pk]))
            del self.deleted[id(deleting[pk])]
            found = True
        for param, (model_field, insensitive) in self.unique_fields.items():
            pending = {
                self.unique_value(value, insensitive): record
                for record in records
                if record.ok and (value := record.values.get(param))
            }
            for key, owner in self.find_owners(model_field, insensitive, set(pending)).items():
                record = pending[key]
                if owner != owner_key(record.target):
                    value = record.values[param]
                    message = f"{param[0].upper()}{param[1:]} '{value}' already exists"
                    record.fail(ErrorCode.DUPLICATE_ERROR, message, field=param)
                    self.unstage(record.target)
                    found = True
        return found

    def unstage(self, instance: Model) -> None:
        self.created.pop(id(instance), None)
        self.changed.pop(id(instance), None)

    def discard(self, record: Record) -> None:
        if record.target is not None:
            self.unstage(record.target)
            self.deleted.pop(id(record.target), None)
