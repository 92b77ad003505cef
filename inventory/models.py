"""Inventory: items, locations, stock adjustments and the stock they move.

Stock on hand is the sum of movements; StockLevel is its running total per item and
location (with the moving average cost), kept by the stock services in the same
transaction as the movement."""

from django.db import models
from django.db.models import Q

from bigledger.models import MoneyField, PublicIdField, SyncedModel, TenantModel

QUANTITY = {"max_digits": 18, "decimal_places": 4}


class ItemType(models.TextChoices):
    INVENTORY = "inventory", "Inventory"
    SERVICE = "service", "Service"
    NON_INVENTORY = "non_inventory", "Non-inventory"


class UnitOfMeasure(models.TextChoices):
    PIECES = "pieces", "Pieces"
    UNITS = "units", "Units"
    BOXES = "boxes", "Boxes"
    CARTONS = "cartons", "Cartons"
    PACKS = "packs", "Packs"
    SETS = "sets", "Sets"
    PAIRS = "pairs", "Pairs"
    DOZENS = "dozens", "Dozens"
    KG = "kg", "Kilograms"
    G = "g", "Grams"
    LITRES = "litres", "Litres"
    ML = "ml", "Millilitres"
    METRES = "metres", "Metres"
    CM = "cm", "Centimetres"
    HOURS = "hours", "Hours"
    DAYS = "days", "Days"


class Item(SyncedModel):
    public_id = PublicIdField("item")
    item_code = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=100, blank=True, default="")
    type = models.CharField(max_length=15, choices=ItemType.choices, default=ItemType.INVENTORY)
    unit_of_measure = models.CharField(
        max_length=10, choices=UnitOfMeasure.choices, default=UnitOfMeasure.UNITS
    )
    cost_price = MoneyField()
    selling_price = MoneyField()
    tax_code = models.ForeignKey(
        "ledger.TaxCode", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reorder_level = models.DecimalField(default=0, **QUANTITY)
    reorder_quantity = models.DecimalField(default=0, **QUANTITY)
    sales_account = models.ForeignKey(
        "ledger.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    purchase_account = models.ForeignKey(
        "ledger.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    track_serial = models.BooleanField(default=False)
    track_batch = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item_code"]
        constraints = [
            models.UniqueConstraint(fields=["company", "item_code"], name="item_unique_code"),
            models.CheckConstraint(
                condition=Q(cost_price__gte=0) & Q(selling_price__gte=0),
                name="item_prices_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(reorder_level__gte=0) & Q(reorder_quantity__gte=0),
                name="item_reorder_non_negative",
            ),
            *SyncedModel.sync_constraints("item"),
        ]
        indexes = SyncedModel.sync_indexes("item")

    def __str__(self) -> str:
        return f"{self.item_code} {self.name}"


class Location(TenantModel):
    public_id = PublicIdField("loc")
    code = models.CharField(max_length=30)
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="location_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AdjustmentType(models.TextChoices):
    INCREASE = "increase", "Increase"
    DECREASE = "decrease", "Decrease"


class StockAdjustment(SyncedModel):
    public_id = PublicIdField("adj")
    number = models.CharField(max_length=20)
    date = models.DateField()
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="adjustments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="adjustments")
    adjustment_type = models.CharField(max_length=10, choices=AdjustmentType.choices)
    quantity = models.DecimalField(**QUANTITY)
    unit_cost = models.DecimalField(max_digits=18, decimal_places=4)
    value = MoneyField(help_text="What the adjustment moved in or out of inventory.")
    reason = models.CharField(max_length=200)
    reference = models.CharField(max_length=100, blank=True, default="")
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="adjustment_unique_number"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="adjustment_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_cost__gte=0), name="adjustment_unit_cost_non_negative"
            ),
            *SyncedModel.sync_constraints("adjustment"),
        ]
        indexes = SyncedModel.sync_indexes("adjustment")

    def __str__(self) -> str:
        return self.number


class StockLevel(TenantModel):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="stock_levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stock_levels")
    quantity = models.DecimalField(default=0, **QUANTITY)
    average_cost = models.DecimalField(default=0, max_digits=18, decimal_places=4)
    value = MoneyField()

    class Meta:
        constraints = [
            # Below zero only where the company allows negative stock (checked on the way in).
            models.UniqueConstraint(fields=["item", "location"], name="stocklevel_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item} @ {self.location}: {self.quantity}"


class StockMovement(TenantModel):
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    adjustment = models.ForeignKey(
        StockAdjustment, null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    # The line that moved it, until the document's lines are replaced: the stock book
    # unlinks them first (one UPDATE), so lines are deleted without Django's collector.
    invoice_line = models.ForeignKey(
        "ledger.InvoiceLine",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="stock_movements",
    )
    bill_line = models.ForeignKey(
        "ledger.BillLine",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="stock_movements",
    )
    reference = models.CharField(
        max_length=100, blank=True, default="", help_text="The document that moved it."
    )
    quantity = models.DecimalField(help_text="Signed: in is positive, out negative.", **QUANTITY)
    unit_cost = models.DecimalField(max_digits=18, decimal_places=4)
    value = MoneyField(help_text="Signed, like quantity.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="stockmovement_non_zero"),
        ]
        indexes = [models.Index(fields=["company", "item", "location"])]

    def __str__(self) -> str:
        return f"{self.item} @ {self.location}: {self.quantity:+}"
