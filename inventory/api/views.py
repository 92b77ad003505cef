"""Read-only inventory API: list and retrieve, scoped to the caller's company."""

from django.db.models import Prefetch

from bigledger.api.viewsets import TenantScopedReadOnlyViewSet

from ..models import Item, Location, StockAdjustment, StockLevel
from .serializers import ItemSerializer, LocationSerializer, StockAdjustmentSerializer


class ItemViewSet(TenantScopedReadOnlyViewSet):
    model = Item
    serializer_class = ItemSerializer
    select_related = ["tax_code"]
    prefetch_related = [
        Prefetch(
            "stock_levels",
            queryset=StockLevel.objects.select_related("location").order_by("location__code"),
        ),
    ]
    query_filters = {"itemCode": "item_code", "type": "type", "category": "category"}


class LocationViewSet(TenantScopedReadOnlyViewSet):
    model = Location
    serializer_class = LocationSerializer
    query_filters = {"code": "code"}


class StockAdjustmentViewSet(TenantScopedReadOnlyViewSet):
    model = StockAdjustment
    serializer_class = StockAdjustmentSerializer
    select_related = ["item", "location", "journal_entry"]
    query_filters = {
        "number": "number",
        "adjustmentType": "adjustment_type",
        "reference": "reference",
        "itemId": "item__public_id",
        "itemCode": "item__item_code",
        "locationId": "location__public_id",
    }
