"""Stock adjustments: move stock, keep the moving average cost, post the value.

An increase posts Dr inventory / Cr stock adjustment at the given unit cost; a decrease
posts Dr stock adjustment / Cr inventory at the moving average cost. Stock levels of the
touched item/location pairs are locked for the transaction, so concurrent batches queue."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from bigledger.models import Company
from bigledger.money import ZERO, to_money
from bigledger.numbers import allocate_numbers
from ledger.models import AccountRole, JournalSource
from ledger.services.journals import (
    JournalDraft,
    LineDraft,
    post_journal_entries,
    posting_accounts,
    require_role,
)

from .models import AdjustmentType, Item, Location, StockAdjustment, StockLevel, StockMovement

COST = Decimal("0.0001")


class InsufficientStock(ValueError):
    pass


@dataclass
class AdjustmentDraft:
    item: Item
    location: Location
    adjustment_type: str
    quantity: Decimal
    reason: str
    date: date
    unit_cost: Decimal | None = None
    reference: str = ""
    external_id: str | None = None

    @property
    def signed_quantity(self) -> Decimal:
        if self.adjustment_type == AdjustmentType.INCREASE:
            return self.quantity
        return -self.quantity


def empty_stock_level(*, company: Company, item, location) -> StockLevel:
    """A level at zero for a pair with no row yet (or one only read, under validateOnly)."""
    return StockLevel(
        company=company,
        item=item,
        location=location,
        quantity=Decimal(0),
        average_cost=Decimal(0),
        value=ZERO,
    )


def lock_stock_levels(*, company: Company, pairs) -> dict[tuple[int, int], StockLevel]:
    """The StockLevel rows for (item id, location id) pairs, created at zero where missing,
    locked until the transaction ends."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    StockLevel.objects.bulk_create(
        [StockLevel(company=company, item_id=i, location_id=loc) for i, loc in pairs],
        ignore_conflicts=True,
    )
    item_ids = {item_id for item_id, _ in pairs}
    levels = (
        StockLevel.objects.for_company(company)
        .filter(item_id__in=item_ids)
        .select_for_update()
        .order_by("item_id", "location_id")
    )
    wanted = set(pairs)
    return {
        (level.item_id, level.location_id): level
        for level in levels
        if (level.item_id, level.location_id) in wanted
    }


def apply_adjustment(level: StockLevel, draft: AdjustmentDraft) -> tuple[Decimal, Decimal]:
    """Move `level` by the draft in memory; returns (unit cost, signed value)."""
    if draft.adjustment_type == AdjustmentType.INCREASE:
        unit_cost = draft.unit_cost
        value = to_money(draft.quantity * unit_cost)
        level.quantity += draft.quantity
        level.value += value
    else:
        if draft.quantity > level.quantity:
            raise InsufficientStock(
                f"{draft.item.item_code} has {level.quantity.normalize()} on hand"
            )
        unit_cost = level.average_cost
        # The last unit out takes what value is left, so no cents stay behind.
        if draft.quantity == level.quantity:
            value = -level.value
        else:
            value = -to_money(draft.quantity * unit_cost)
        level.quantity -= draft.quantity
        level.value += value
    if level.quantity:
        level.average_cost = (level.value / level.quantity).quantize(COST, ROUND_HALF_UP)
    return unit_cost, value


def create_stock_adjustments(
    *, company: Company, drafts: list[AdjustmentDraft]
) -> list[StockAdjustment]:
    """Apply the adjustments in order and write them with their movements and postings."""
    if not drafts:
        return []
    levels = lock_stock_levels(company=company, pairs=[(d.item.pk, d.location.pk) for d in drafts])
    moved = [apply_adjustment(levels[(d.item.pk, d.location.pk)], d) for d in drafts]
    numbers = allocate_numbers(company=company, prefix="ADJ", width=6, count=len(drafts))
    adjustments = [
        StockAdjustment(
            company=company,
            number=number,
            date=draft.date,
            item=draft.item,
            location=draft.location,
            adjustment_type=draft.adjustment_type,
            quantity=draft.quantity,
            unit_cost=unit_cost,
            value=abs(value),
            reason=draft.reason,
            reference=draft.reference,
            external_id=draft.external_id,
        )
        for number, draft, (unit_cost, value) in zip(numbers, drafts, moved, strict=True)
    ]
    _post(company=company, adjustments=adjustments)
    StockAdjustment.objects.bulk_create(adjustments)
    StockMovement.objects.bulk_create(
        StockMovement(
            company=company,
            item=adjustment.item,
            location=adjustment.location,
            adjustment=adjustment,
            quantity=draft.signed_quantity,
            unit_cost=unit_cost,
            value=value,
        )
        for adjustment, draft, (unit_cost, value) in zip(adjustments, drafts, moved, strict=True)
    )
    StockLevel.objects.bulk_update(levels.values(), ["quantity", "average_cost", "value"])
    return adjustments


def _post(*, company: Company, adjustments: list[StockAdjustment]) -> None:
    """Post every adjustment that moved value; one with zero value has nothing to post."""
    accounts = posting_accounts(company=company)
    valued = [adjustment for adjustment in adjustments if adjustment.value > ZERO]
    if not valued:
        return
    inventory = require_role(accounts, AccountRole.INVENTORY)
    adjustment_account = require_role(accounts, AccountRole.STOCK_ADJUSTMENT)
    drafts = []
    for adjustment in valued:
        increase = adjustment.adjustment_type == AdjustmentType.INCREASE
        debit, credit = (
            (inventory, adjustment_account) if increase else (adjustment_account, inventory)
        )
        drafts.append(
            JournalDraft(
                date=adjustment.date,
                reference=adjustment.reference or adjustment.number,
                description=f"Stock adjustment: {adjustment.reason}",
                source=JournalSource.STOCK_ADJUSTMENT,
                lines=[
                    LineDraft(debit, debit=adjustment.value),
                    LineDraft(credit, credit=adjustment.value),
                ],
            )
        )
    entries = post_journal_entries(company=company, drafts=drafts)
    for adjustment, entry in zip(valued, entries, strict=True):
        adjustment.journal_entry = entry
