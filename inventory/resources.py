"""Import-export resources of the inventory: columns are the API's field names, as in the
batch files and templates, so an exported file uploads again.

Items are imported through their batch handler (the admin's import, batch.admin_import) and
exported here as update rows naming each item; locations have no handler and are imported
by django-import-export itself. Stock adjustments are export-only."""

from batch.admin.resources import (
    ApiBooleanWidget,
    ApiTextWidget,
    TenantImportResource,
    api_field,
    api_resource,
)

from .handlers.adjustments import StockAdjustmentHandler
from .handlers.items import ItemHandler
from .models import Item, Location, StockAdjustment

ItemResource = api_resource(
    Item,
    ItemHandler,
    operation="update",
    sources={"id": "public_id", "taxCode": "tax_code__code"},
)


class LocationResource(TenantImportResource):
    code = api_field("code", "code", ApiTextWidget())
    name = api_field("name", "name", ApiTextWidget())
    active = api_field("active", "active", ApiBooleanWidget())

    class Meta:
        model = Location
        fields = ("code", "name", "active")

    @classmethod
    def get_display_name(cls) -> str:
        return "locations"


StockAdjustmentResource = api_resource(
    StockAdjustment,
    StockAdjustmentHandler,
    sources={
        "itemCode": "item__item_code",
        "locationCode": "location__code",
        "adjustmentType": "adjustment_type",
        "quantity": "quantity",
        "unitCost": "unit_cost",
        "reason": "reason",
        "reference": "reference",
        "date": "date",
    },
)
