"""Read-only inventory API: list and retrieve, scoped to the caller's company, plus the stock
valuation report."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bigledger.api.permissions import REQUIRES_PERMISSIONS, view_permission
from bigledger.api.viewsets import SyncedReadOnlyViewSet, TenantScopedReadOnlyViewSet

from ..models import Item, Location, StockAdjustment, StockLevel
from ..selectors import stock_valuation
from .reports import StockValuationSerializer
from .serializers import ItemSerializer, LocationSerializer, StockAdjustmentSerializer


class ItemViewSet(SyncedReadOnlyViewSet):
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


class StockAdjustmentViewSet(SyncedReadOnlyViewSet):
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


class StockValuationView(APIView):
    """GET /v1/reports/stock-valuation: stock on hand per item and location, valued at its
    moving average cost, as of now. Stock movements carry no business date of their own, so
    the report takes no `asOf` rather than answer one it cannot vouch for."""

    permission_classes = REQUIRES_PERMISSIONS
    required_permissions = [view_permission(Item), view_permission(StockLevel)]

    @extend_schema(
        responses=inline_serializer(
            "StockValuationResponse",
            {"success": serializers.BooleanField(), "data": StockValuationSerializer()},
        )
    )
    def get(self, request) -> Response:
        if "asOf" in request.query_params:
            raise exceptions.ValidationError(
                {"asOf": ["The stock valuation is as of now; it takes no asOf."]}
            )
        report = stock_valuation(company=request.auth.company)
        return Response({"success": True, "data": StockValuationSerializer(report).data})
