"""How the stock valuation report writes its answer."""

from rest_framework import serializers

from bigledger.api.fields import Money, Quantity


class StockValuationRowSerializer(serializers.Serializer):
    """One item at one location: a StockLevel with its item and location joined."""

    itemId = serializers.CharField(source="item.public_id", read_only=True)
    itemCode = serializers.CharField(source="item.item_code", read_only=True)
    name = serializers.CharField(source="item.name", read_only=True)
    locationId = serializers.CharField(source="location.public_id", read_only=True)
    locationCode = serializers.CharField(source="location.code", read_only=True)
    quantity = Quantity()
    averageCost = Quantity(source="average_cost")
    value = Money()


class StockValuationSerializer(serializers.Serializer):
    """Serialises inventory.selectors.StockValuation."""

    items = StockValuationRowSerializer(source="levels", many=True, read_only=True)
    total = Money()
