from decimal import Decimal

from django.db.models import Sum

from bigledger.models import Company

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
