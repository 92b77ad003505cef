from decimal import Decimal

import pytest

from inventory.models import AdjustmentType, StockMovement
from inventory.selectors import stock_levels_disagreeing_with_movements
from tests import builders

pytestmark = pytest.mark.django_db


def test_stock_on_hand_equals_the_sum_of_movements(company):
    bolts, nuts = builders.item(company, "BOLT"), builders.item(company, "NUT")
    builders.adjust_stock(company, bolts, AdjustmentType.INCREASE, "40", "0.10")
    builders.adjust_stock(company, nuts, AdjustmentType.INCREASE, "12.5", "0.20")
    builders.adjust_stock(company, bolts, AdjustmentType.DECREASE, "15")

    assert stock_levels_disagreeing_with_movements(company=company) == []
    assert bolts.stock_levels.get().quantity == Decimal("25")
    assert [m.quantity for m in StockMovement.objects.filter(item=bolts)] == [
        Decimal("40"),
        Decimal("-15"),
    ]
