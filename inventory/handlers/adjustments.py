"""Stock adjustments in batches: create only. Stock on hand is checked in memory, in request
order, against the stock levels load() read (and locked): an increase followed by a decrease
of the same item and location works, two decreases that together exceed stock fail at the
second. write() hands the good records to the stock service, which moves, costs and posts."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import DatabaseError

from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.fields import Detail, Field, Schema
from batch.engine.handlers import EXTERNAL_ID, Handler, ReferenceIndex, reference_error, split_refs
from batch.engine.parsers import (
    MAX_AMOUNT,
    Choice,
    Date,
    ExternalId,
    ExternalReference,
    Quantity,
    Reference,
    Text,
)
from batch.engine.records import Record
from batch.files.templates import template_list
from bigledger.money import to_money
from ledger.handlers.external_ids import ExternalIds

from ..models import AdjustmentType, Item, ItemType, Location, StockAdjustment, StockLevel
from ..services import (
    COST,
    AdjustmentDraft,
    InsufficientStock,
    apply_adjustment,
    create_stock_adjustments,
    empty_stock_level,
    lock_stock_levels,
)

# What Decimal(18, 4) quantities and Decimal(18, 2) money columns can hold.
QUANTITY_LIMIT = Decimal(10) ** 14
MONEY_LIMIT = Decimal(10) ** 16

# A cost per unit, ≥ 0, up to 4 decimal places; a bad one is an INVALID_AMOUNT.
unit_cost = Quantity(places=4, what="Unit cost", code=FieldCode.INVALID_AMOUNT)

# The ways a record names its item and its location, in the order they are read.
ITEM_PARAMS = ("itemId", "itemCode", "itemExternalId")
LOCATION_PARAMS = ("locationId", "locationCode")

ADJUSTMENT = Schema(
    {
        "itemId": Field(Reference()),
        "itemCode": Field(Reference()),
        "itemExternalId": Field(ExternalReference()),
        "locationId": Field(Reference()),
        "locationCode": Field(Reference()),
        "adjustmentType": Field(Choice(AdjustmentType.values), required=True),
        "quantity": Field(Quantity(positive=True), required=True),
        "unitCost": Field(unit_cost),
        "reason": Field(Text(200, blank=False), required=True),
        "reference": Field(Text(100)),
        "date": Field(Date()),
        EXTERNAL_ID: Field(ExternalId()),
    }
)


def named(values: dict, params: tuple[str, ...]) -> tuple[str, str | None]:
    """The JSON field that names a referenced row, and its value (the first of `params`
    sent: id before natural key before external id)."""
    for param in params:
        if values.get(param):
            return param, values[param]
    return params[0], None


@dataclass
class StagedAdjustment:
    draft: AdjustmentDraft
    quantity_on_hand: Decimal


class StockAdjustmentHandler(Handler):
    entity = "stock-adjustments"
    model = StockAdjustment
    max_records = 500
    operations = frozenset({"create"})
    create_schema = ADJUSTMENT
    # An item's adjustments apply in request order: a decrease may need an earlier increase.
    key_references = dict(zip(ITEM_PARAMS, ITEM_PARAMS, strict=True))

    @classmethod
    def template_lists(cls, company) -> dict[str, list[str]]:
        items = Item.objects.for_company(company).filter(active=True, type=ItemType.INVENTORY)
        locations = Location.objects.for_company(company).filter(active=True)
        return {
            "itemCode": template_list(items, "item_code"),
            "locationCode": template_list(locations, "code"),
        }

    def __init__(self, ctx):
        super().__init__(ctx)
        self.items: ReferenceIndex | None = None
        self.locations: ReferenceIndex | None = None
        self.levels: dict[tuple[int, int], StockLevel] = {}
        self.loaded: dict[tuple[int, int], tuple] = {}  # the levels as load() read them
        self.external_ids: ExternalIds | None = None

    # Clean: no database ---------------------------------------------------------------------

    def clean(self, record: Record) -> None:
        values, details = self.create_schema.clean(record.op.data)
        if values.get("date") is None:
            values["date"] = self.ctx.today
        details += self.rule_problems(values, details)
        record.values = values
        if details:
            record.fail_fields(details)
        elif values["adjustmentType"] == AdjustmentType.DECREASE and "unitCost" in values:
            record.warn(
                "UNIT_COST_IGNORED",
                "A decrease takes stock out at the moving average cost; unitCost is ignored.",
                field="unitCost",
            )

    def rule_problems(self, values: dict, details: list[Detail]) -> list[Detail]:
        faulty = {detail.field for detail in details}
        problems = []
        for params in (ITEM_PARAMS, LOCATION_PARAMS):
            field, ref = named(values, params)
            if ref is None and not faulty & set(params):
                message = f"{', '.join(params[:-1])} or {params[-1]} is required."
                problems.append(Detail(field, message, FieldCode.REQUIRED))
        increase = values.get("adjustmentType") == AdjustmentType.INCREASE
        if increase and values.get("unitCost") is None and "unitCost" not in faulty:
            message = "unitCost is required for an increase."
            problems.append(Detail("unitCost", message, FieldCode.REQUIRED))
        if values["date"] > self.ctx.today and not self.company.allow_future_dates:
            problems.append(
                Detail("date", "Date must not be in the future.", FieldCode.FUTURE_DATE)
            )
        return problems

    # Load -----------------------------------------------------------------------------------

    def load(self, records: list[Record]) -> None:
        values = [record.values for record in records]
        refs, external = split_refs(values, ITEM_PARAMS)
        self.items = ReferenceIndex(self.scoped(Item), "item_code", refs, external_refs=external)
        refs, _ = split_refs(values, LOCATION_PARAMS)
        self.locations = ReferenceIndex(self.scoped(Location), "code", refs)
        self.external_ids = ExternalIds(self.scoped(), records)
        pairs = set()
        for record in records:
            item, location = self.item_of(record), self.location_of(record)
            if item is not None and location is not None and usable(item, location):
                pairs.add((item.pk, location.pk))
        self.levels = self.load_levels(pairs)
        self.loaded = {key: state_of(level) for key, level in self.levels.items()}

    def load_levels(self, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
        """Lock the levels the batch moves (creating missing ones at zero) so what validate()
        computes is what write() will find; a validateOnly batch only reads them."""
        if not pairs:
            return {}
        if not self.ctx.options.validate_only:
            return lock_stock_levels(company=self.company, pairs=pairs)
        rows = self.scoped(StockLevel).filter(
            item_id__in={item_id for item_id, _ in pairs},
            location_id__in={location_id for _, location_id in pairs},
        )
        return {key: row for row in rows if (key := (row.item_id, row.location_id)) in pairs}

    def item_of(self, record: Record) -> Item | None:
        return self.items.lookup(*named(record.values, ITEM_PARAMS))

    def location_of(self, record: Record) -> Location | None:
        return self.locations.lookup(*named(record.values, LOCATION_PARAMS))

    # Validate -------------------------------------------------------------------------------

    def validate_create(self, record: Record) -> None:
        if not self.external_ids.free(record):
            return
        item, location = self.resolve(record)
        if item is None or location is None:
            return
        values = record.values
        draft = AdjustmentDraft(
            item=item,
            location=location,
            adjustment_type=values["adjustmentType"],
            quantity=values["quantity"],
            reason=values["reason"],
            date=values["date"],
            unit_cost=values.get("unitCost"),
            reference=values.get("reference") or "",
            external_id=values.get(EXTERNAL_ID),
        )
        level = self.level_for(item, location)
        problem = capacity_problem(level, draft)
        if problem is not None:
            record.fail_fields([problem])
            return
        if not self.moved(record, level, draft):
            return
        self.external_ids.keep(record)
        record.target = StagedAdjustment(draft, quantity_on_hand=level.quantity)

    def moved(self, record: Record, level: StockLevel, draft: AdjustmentDraft) -> bool:
        """Move the level by the draft; False, with the record failed, when the stock is
        not there."""
        try:
            apply_adjustment(level, draft)
        except InsufficientStock:
            self.reject(
                record,
                "quantity",
                f"Only {level.quantity.normalize():f} of {draft.item.item_code} on hand at "
                f"{draft.location.code}; cannot decrease by {draft.quantity.normalize():f}.",
                FieldCode.INSUFFICIENT_STOCK,
            )
            return False
        return True

    def resolve(self, record: Record) -> tuple[Item | None, Location | None]:
        """The record's item and location, or (None, None) with the record failed."""
        values = record.values
        item_field, item_ref = named(values, ITEM_PARAMS)
        location_field, location_ref = named(values, LOCATION_PARAMS)
        item = self.items.lookup(item_field, item_ref)
        location = self.locations.lookup(location_field, location_ref)
        missing = [
            (field, what, ref)
            for field, what, ref, row in (
                (item_field, "Item", item_ref, item),
                (location_field, "Location", location_ref, location),
            )
            if row is None
        ]
        if missing:
            report_missing(record, missing)
            return None, None
        details = [
            *disagreement(self.items, values, ITEM_PARAMS, item),
            *disagreement(self.locations, values, LOCATION_PARAMS, location),
            *item_problems(item, item_field),
            *location_problems(location, location_field),
        ]
        if details:
            record.fail_fields(details)
            return None, None
        return item, location

    def level_for(self, item: Item, location: Location) -> StockLevel:
        key = (item.pk, location.pk)
        if key not in self.levels:  # validateOnly, nothing held here yet
            self.levels[key] = empty_stock_level(company=self.company, item=item, location=location)
        return self.levels[key]

    # Write ----------------------------------------------------------------------------------

    def write(self, records: list[Record]) -> None:
        drafts = [record.target.draft for record in records]
        try:
            adjustments = create_stock_adjustments(company=self.company, drafts=drafts)
        except InsufficientStock as error:
            # Cannot happen: load() locked these levels. Should it, fail the write like any
            # database error, so the executor undoes it and reports it.
            raise DatabaseError(f"stock moved under a lock: {error}") from error
        for record, adjustment in zip(records, adjustments, strict=True):
            record.data = {
                "id": adjustment.public_id,
                "number": adjustment.number,
                "quantityOnHand": record.target.quantity_on_hand,
                "unitCost": adjustment.unit_cost,
                "value": adjustment.value,
                EXTERNAL_ID: adjustment.external_id,
            }

    def find_conflicts(self, records: list[Record]) -> bool:
        """An externalId another batch stored since load(): that adjustment is a
        DUPLICATE_ERROR, and the others are moved again without it — a later decrease may
        have counted on the stock it brought in."""
        if not self.external_ids.find_conflicts(records):
            return False
        for key, level in self.levels.items():
            level.quantity, level.value, level.average_cost = self.loaded.get(key, ZERO_STATE)
        for record in records:
            if record.ok:
                staged = record.target
                level = self.levels[(staged.draft.item.pk, staged.draft.location.pk)]
                if self.moved(record, level, staged.draft):
                    staged.quantity_on_hand = level.quantity
        return True


ZERO_STATE = (Decimal(0), Decimal(0), Decimal(0))


def state_of(level: StockLevel) -> tuple[Decimal, Decimal, Decimal]:
    return level.quantity, level.value, level.average_cost


def usable(item: Item, location: Location) -> bool:
    return item.active and item.type == ItemType.INVENTORY and location.active


def disagreement(index: ReferenceIndex, values: dict, params: tuple[str, ...], row):
    """An id, a natural key and an external id sent together must name the same row."""
    first, _ = named(values, params)
    for param in params:
        ref = values.get(param)
        if param != first and ref and index.lookup(param, ref) is not row:
            message = f"{param} '{ref}' does not name what {first} names."
            return [Detail(param, message, FieldCode.INVALID_VALUE)]
    return []


def item_problems(item: Item, field: str) -> list[Detail]:
    details = []
    if not item.active:
        details.append(Detail(field, f"Item {item.item_code} is inactive.", FieldCode.INACTIVE))
    if item.type != ItemType.INVENTORY:
        kind = item.get_type_display().lower()
        message = f"Item {item.item_code} is a {kind} item; only inventory items hold stock."
        details.append(Detail(field, message, FieldCode.INVALID_VALUE))
    return details


def location_problems(location: Location, field: str) -> list[Detail]:
    if location.active:
        return []
    return [Detail(field, f"Location {location.code} is inactive.", FieldCode.INACTIVE)]


def capacity_problem(level: StockLevel, draft: AdjustmentDraft) -> Detail | None:
    """An increase worth more than MAX_AMOUNT, or whose stock, value or average cost would
    not fit the columns that keep them."""
    if draft.adjustment_type != AdjustmentType.INCREASE:
        return None
    quantity = level.quantity + draft.quantity
    if quantity >= QUANTITY_LIMIT:
        return Detail("quantity", "Stock on hand would be too large.", FieldCode.INVALID_NUMBER)
    worth = draft.quantity * draft.unit_cost  # compared before it is rounded to the cent
    if worth > MAX_AMOUNT:
        message = f"quantity × unitCost must be at most {MAX_AMOUNT}."
        return Detail("unitCost", message, FieldCode.INVALID_AMOUNT)
    value = level.value + to_money(worth)
    if value >= MONEY_LIMIT:
        return Detail("unitCost", "The stock's value would be too large.", FieldCode.INVALID_AMOUNT)
    if (value / quantity).quantize(COST, ROUND_HALF_UP) >= QUANTITY_LIMIT:
        message = "The stock's average cost would be too large for its quantity."
        return Detail("unitCost", message, FieldCode.INVALID_AMOUNT)
    return None


def report_missing(record: Record, missing: list[tuple[str, str, str]]) -> None:
    if len(missing) == 1:
        field, what, ref = missing[0]
        reference_error(record, field, what, ref)
        return
    record.fail(
        ErrorCode.REFERENCE_ERROR,
        "Several references do not exist.",
        details=[
            Detail(field, f"{what} '{ref}' does not exist.", FieldCode.NOT_FOUND)
            for field, what, ref in missing
        ],
    )


HANDLERS = [StockAdjustmentHandler]
