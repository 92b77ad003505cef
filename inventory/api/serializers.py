"""What the read API shows of inventory, in the API's camelCase; ids are public ids."""

from decimal import Decimal

from rest_framework import serializers

from bigledger.api.feed import SyncedSerializer
from bigledger.api.fields import Money, PublicId, Quantity

from ..models import Item, Location, StockAdjustment, StockLevel


class StockLevelSerializer(serializers.ModelSerializer):
    locationId = PublicId(source="location")
    locationCode = serializers.SlugRelatedField(
        source="location", slug_field="code", read_only=True
    )
    quantity = Quantity()
    averageCost = Quantity(source="average_cost")
    value = Money()

    class Meta:
        model = StockLevel
        fields = ["locationId", "locationCode", "quantity", "averageCost", "value"]
        read_only_fields = fields


class ItemSerializer(SyncedSerializer):
    """An item with its stock on hand per location; needs `stock_levels` prefetched."""

    itemCode = serializers.CharField(source="item_code", read_only=True)
    unitOfMeasure = serializers.CharField(source="unit_of_measure", read_only=True)
    costPrice = Money(source="cost_price")
    sellingPrice = Money(source="selling_price")
    taxCode = serializers.SlugRelatedField(source="tax_code", slug_field="code", read_only=True)
    salesAccountCode = serializers.SlugRelatedField(
        source="sales_account", slug_field="code", read_only=True
    )
    purchaseAccountCode = serializers.SlugRelatedField(
        source="purchase_account", slug_field="code", read_only=True
    )
    reorderLevel = Quantity(source="reorder_level")
    reorderQuantity = Quantity(source="reorder_quantity")
    trackSerial = serializers.BooleanField(source="track_serial", read_only=True)
    trackBatch = serializers.BooleanField(source="track_batch", read_only=True)
    quantityOnHand = serializers.SerializerMethodField(method_name="get_quantity_on_hand")
    stock = StockLevelSerializer(source="stock_levels", many=True, read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Item
        fields = [
            "id",
            "externalId",
            "itemCode",
            "name",
            "description",
            "category",
            "type",
            "unitOfMeasure",
            "costPrice",
            "sellingPrice",
            "taxCode",
            "salesAccountCode",
            "purchaseAccountCode",
            "reorderLevel",
            "reorderQuantity",
            "trackSerial",
            "trackBatch",
            "active",
            "quantityOnHand",
            "stock",
            "createdAt",
            "updatedAt",
        ]
        read_only_fields = fields

    def get_quantity_on_hand(self, item: Item) -> Decimal:
        # Summed in Python over the prefetched levels: no query per item.
        return sum((level.quantity for level in item.stock_levels.all()), Decimal("0.0000"))


class LocationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)

    class Meta:
        model = Location
        fields = ["id", "code", "name", "active"]
        read_only_fields = fields


class StockAdjustmentSerializer(SyncedSerializer):
    itemId = PublicId(source="item")
    itemCode = serializers.SlugRelatedField(source="item", slug_field="item_code", read_only=True)
    locationId = PublicId(source="location")
    adjustmentType = serializers.CharField(source="adjustment_type", read_only=True)
    quantity = Quantity()
    unitCost = Quantity(source="unit_cost")
    value = Money()
    journalEntryId = PublicId(source="journal_entry")
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = StockAdjustment
        fields = [
            "id",
            "externalId",
            "number",
            "date",
            "itemId",
            "itemCode",
            "locationId",
            "adjustmentType",
            "quantity",
            "unitCost",
            "value",
            "reason",
            "reference",
            "journalEntryId",
            "createdAt",
            "updatedAt",
        ]
        read_only_fields = fields
