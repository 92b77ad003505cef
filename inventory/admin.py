"""Inventory admin. Items and locations are edited here; adjustments, movements and stock
levels are written by the stock services (which keep cost and postings right) and only shown.
Items import through their batch handler (batch.admin_import), locations through
django-import-export; exports use the API's columns (inventory.resources)."""

from django.contrib import admin

from batch.admin.imports import ApiExportMixin, BatchImportAdminMixin, TenantImportExportMixin
from bigledger.admin import ReadOnlyTenantAdmin, ReadOnlyTenantInline, TenantAdmin

from .models import Item, Location, StockAdjustment, StockLevel, StockMovement
from .resources import ItemResource, LocationResource, StockAdjustmentResource


class StockLevelInline(ReadOnlyTenantInline):
    model = StockLevel
    fields = ["location", "quantity", "average_cost", "value"]
    related = ("location",)
    verbose_name_plural = "stock on hand"


@admin.register(Item)
class ItemAdmin(BatchImportAdminMixin, TenantAdmin):
    import_entity = "items"
    resource_classes = [ItemResource]
    list_display = [
        "item_code",
        "name",
        "type",
        "unit_of_measure",
        "cost_price",
        "selling_price",
        "tax_code",
        "active",
    ]
    list_filter = ["type", "active", "unit_of_measure"]
    list_select_related = ["tax_code"]
    search_fields = ["item_code", "name", "category"]
    autocomplete_fields = ["tax_code"]
    fields = [
        "company",
        ("public_id", "item_code"),
        "name",
        "description",
        ("category", "type", "unit_of_measure"),
        ("cost_price", "selling_price", "tax_code"),
        ("reorder_level", "reorder_quantity"),
        ("track_serial", "track_batch", "active"),
        ("created_at", "updated_at"),
    ]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    inlines = [StockLevelInline]


@admin.register(Location)
class LocationAdmin(TenantImportExportMixin, TenantAdmin):
    resource_classes = [LocationResource]
    list_display = ["code", "name", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    fields = ["company", "public_id", "code", "name", "active"]
    readonly_fields = ["public_id"]


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(ApiExportMixin, ReadOnlyTenantAdmin):
    resource_classes = [StockAdjustmentResource]
    list_display = [
        "number",
        "date",
        "item",
        "location",
        "adjustment_type",
        "quantity",
        "unit_cost",
        "value",
        "reason",
    ]
    list_filter = ["adjustment_type", "date", ("location", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["item", "location"]
    search_fields = ["number", "reference", "reason", "item__item_code", "item__name"]
    date_hierarchy = "date"
    fields = [
        "company",
        ("public_id", "number"),
        "date",
        ("item", "location"),
        ("adjustment_type", "quantity", "unit_cost", "value"),
        "reason",
        "reference",
        "journal_entry",
        "created_at",
    ]


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyTenantAdmin):
    list_display = ["item", "location", "quantity", "average_cost", "value"]
    list_filter = [("location", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["item", "location"]
    search_fields = ["item__item_code", "item__name", "location__code"]
    fields = ["company", "item", "location", "quantity", "average_cost", "value"]


class MovementDirectionFilter(admin.SimpleListFilter):
    """Movements carry a signed quantity: in is positive, out negative."""

    title = "direction"
    parameter_name = "direction"

    def lookups(self, request, model_admin):
        return [("in", "In"), ("out", "Out")]

    def queryset(self, request, queryset):
        if self.value() == "in":
            return queryset.filter(quantity__gt=0)
        if self.value() == "out":
            return queryset.filter(quantity__lt=0)
        return queryset


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyTenantAdmin):
    list_display = ["id", "created_at", "item", "location", "adjustment", "quantity", "value"]
    list_filter = [MovementDirectionFilter, ("location", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["item", "location", "adjustment"]
    search_fields = ["item__item_code", "item__name", "adjustment__number"]
    date_hierarchy = "created_at"
    fields = [
        "company",
        ("item", "location"),
        "adjustment",
        ("quantity", "unit_cost", "value"),
        "created_at",
    ]
