"""Reads that need care: stock valuation and the stock-levels check."""

from dataclasses import dataclass
from decimal import MAX_PREC, Context, Decimal, localcontext

from django.db.models import Q, Sum

from bigledger.models import Company
from bigledger.money import ZERO

from .models import StockLevel, StockMovement


def stock_levels_disagreeing_with_movements(*, company: Company) -> list[tuple]:
    """(item id, location id, level, sum of movements) where they differ; empty when sound."""
    moved = {
        (row["item_id"], row["location_id"]): row["total"]
        for row in StockMovement.objects.for_company(company)
        .values("item_id", "location_id")
        .annotate(total=Sum("quantity"))
    }
    levels = {
        (level.item_id, level.location_id): level.quantity
        for level in StockLevel.objects.for_company(company)
    }
    return [
        (item_id, location_id, levels.get(key, Decimal(0)), moved.get(key, Decimal(0)))
        for key in set(moved) | set(levels)
        for item_id, location_id in [key]
        if levels.get(key, Decimal(0)) != moved.get(key, Decimal(0))
    ]


@dataclass(frozen=True)
class StockValuation:
    levels: list[StockLevel]  # with item and location joined
    total: Decimal


def stock_valuation(*, company: Company) -> StockValuation:
    """Each item's stock per location as of now (quantity, moving average cost, value) and the
    total value, which the inventory account's balance equals. Pairs with neither stock nor
    value left are not listed."""
    levels = list(
        StockLevel.objects.for_company(company)
        .filter(~Q(quantity=0) | ~Q(value=0))
        .select_related("item", "location")
        .order_by("item__item_code", "location__code")
    )
    with localcontext(Context(prec=MAX_PREC)):  # exact, however large the sum
        total = sum((level.value for level in levels), ZERO)
    return StockValuation(levels=levels, total=total)
