"""The ledger: parties, the chart of accounts, tax codes, journals and the documents that
post to them. Models hold data and constraints; numbers, totals and postings are computed by
services so bulk_create and bulk_update stay honest."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from bigledger.models import MoneyField, PublicIdField, SyncedModel, TenantModel


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Party(SyncedModel):
    """What customers and suppliers share."""

    number = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    email = models.EmailField(max_length=254, blank=True, default="")
    phone = models.CharField(max_length=20, blank=True, default="")
    street = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=100, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    country = models.CharField(max_length=2, default="MY")
    credit_limit = MoneyField()
    payment_terms = models.PositiveSmallIntegerField(default=30)
    tax_number = models.CharField(max_length=30, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @classmethod
    def party_constraints(cls, label: str) -> list:
        return [
            models.UniqueConstraint(fields=["company", "number"], name=f"{label}_unique_number"),
            models.UniqueConstraint(
                "company",
                Lower("email"),
                condition=~Q(email=""),
                name=f"{label}_unique_email_ci",
                violation_error_message="Email already exists",
            ),
            models.CheckConstraint(
                condition=Q(credit_limit__gte=0), name=f"{label}_credit_limit_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(payment_terms__lte=365), name=f"{label}_payment_terms_range"
            ),
            *cls.sync_constraints(label),
        ]


class Customer(Party):
    public_id = PublicIdField("cust")

    class Meta(Party.Meta):
        constraints = Party.party_constraints("customer")
        indexes = Party.sync_indexes("customer")


class Supplier(Party):
    public_id = PublicIdField("supp")

    class Meta(Party.Meta):
        constraints = Party.party_constraints("supplier")
        indexes = Party.sync_indexes("supplier")


class AccountType(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    EQUITY = "equity", "Equity"
    INCOME = "income", "Income"
    EXPENSE = "expense", "Expense"


class AccountRole(models.TextChoices):
    """The accounts postings go to. Each role is held by at most one account per company."""

    BANK = "bank", "Bank"
    RECEIVABLES = "receivables", "Accounts receivable"
    PAYABLES = "payables", "Accounts payable"
    SALES = "sales", "Sales"
    PURCHASES = "purchases", "Purchases"
    TAX_OUTPUT = "tax_output", "Output tax"
    TAX_INPUT = "tax_input", "Input tax"
    INVENTORY = "inventory", "Inventory"
    STOCK_ADJUSTMENT = "stock_adjustment", "Stock adjustment"
    COST_OF_SALES = "cost_of_sales", "Cost of goods sold"
    CUSTOMER_ADVANCES = "customer_advances", "Customer deposits"
    SUPPLIER_ADVANCES = "supplier_advances", "Supplier advances"


class Account(SyncedModel):
    public_id = PublicIdField("acc")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=AccountType.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    role = models.CharField(max_length=20, choices=AccountRole.choices, null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="account_unique_code"),
            models.UniqueConstraint(
                fields=["company", "role"],
                condition=Q(role__isnull=False),
                name="account_unique_role",
            ),
            *SyncedModel.sync_constraints("account"),
        ]
        indexes = SyncedModel.sync_indexes("account")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_debit_normal(self) -> bool:
        return self.type in (AccountType.ASSET, AccountType.EXPENSE)


class TaxCode(TenantModel):
    public_id = PublicIdField("tax")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    rate = models.DecimalField(max_digits=7, decimal_places=4, help_text="Percent, e.g. 8.0000")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="taxcode_unique_code"),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100), name="taxcode_rate_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.rate.normalize()}%)"


class JournalSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    INVOICE = "invoice", "Invoice"
    BILL = "bill", "Bill"
    PAYMENT = "payment", "Payment"
    STOCK_ADJUSTMENT = "stock_adjustment", "Stock adjustment"


class JournalEntry(SyncedModel):
    """A posted journal entry; it is never edited, only reversed by another entry."""

    public_id = PublicIdField("je")
    number = models.CharField(max_length=20)
    date = models.DateField()
    reference = models.CharField(max_length=100, blank=True, default="")
    description = models.CharField(max_length=500, blank=True, default="")
    source = models.CharField(
        max_length=20, choices=JournalSource.choices, default=JournalSource.MANUAL
    )
    total_debit = MoneyField()
    total_credit = MoneyField()
    posted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(
                fields=["company", "number"], name="journalentry_unique_number"
            ),
            models.CheckConstraint(
                condition=Q(total_debit=F("total_credit")), name="journalentry_balanced"
            ),
            *SyncedModel.sync_constraints("journalentry"),
        ]
        indexes = SyncedModel.sync_indexes("journalentry")

    def __str__(self) -> str:
        return self.number


class JournalLine(TenantModel):
    entry = models.ForeignKey(JournalEntry, on_delete=models.CASCADE, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="journal_lines")
    line_number = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=500, blank=True, default="")
    debit = MoneyField()
    credit = MoneyField()

    class Meta:
        ordering = ["entry_id", "line_number"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(credit__gt=0) & Q(debit=0)),
                name="journalline_one_side_positive",
            ),
        ]
        indexes = [models.Index(fields=["company", "account"])]

    def __str__(self) -> str:
        return f"{self.entry} #{self.line_number}"


class DocumentStatus(models.TextChoices):
    OPEN = "open", "Open"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"


class TradeDocument(SyncedModel):
    """What invoices and bills share: dated, numbered, lines with tax, posted when created."""

    number = models.CharField(max_length=20)
    date = models.DateField()
    due_date = models.DateField()
    reference = models.CharField(max_length=100, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    subtotal = MoneyField()
    tax_total = MoneyField()
    total = MoneyField()
    amount_paid = MoneyField()
    status = models.CharField(
        max_length=20, choices=DocumentStatus.choices, default=DocumentStatus.OPEN
    )
    journal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_due(self):
        return self.total - self.amount_paid

    @classmethod
    def document_constraints(cls, label: str) -> list:
        return [
            models.UniqueConstraint(fields=["company", "number"], name=f"{label}_unique_number"),
            models.CheckConstraint(condition=Q(total__gt=0), name=f"{label}_total_positive"),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") + F("tax_total")), name=f"{label}_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0) & Q(amount_paid__lte=F("total")),
                name=f"{label}_amount_paid_range",
            ),
            models.CheckConstraint(
                condition=Q(due_date__gte=F("date")), name=f"{label}_due_after_date"
            ),
            *cls.sync_constraints(label),
        ]


class TradeLine(TenantModel):
    line_number = models.PositiveSmallIntegerField()
    item = models.ForeignKey(
        "inventory.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=500, blank=True, default="")
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    unit_price = MoneyField()
    tax_code = models.ForeignKey(TaxCode, on_delete=models.PROTECT, related_name="+")
    tax_rate = models.DecimalField(max_digits=7, decimal_places=4)
    amount = MoneyField(help_text="quantity × unit price, before tax")
    tax_amount = MoneyField()
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where the line's amount posts; empty: the item's account or the role's.",
    )
    location = models.ForeignKey(
        "inventory.Location",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where a stock item's units leave or arrive.",
    )

    class Meta:
        abstract = True
        ordering = ["line_number"]

    @classmethod
    def line_constraints(cls, label: str) -> list:
        return [
            models.CheckConstraint(condition=Q(quantity__gt=0), name=f"{label}_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name=f"{label}_unit_price_non_negative"
            ),
        ]


class Invoice(TradeDocument):
    public_id = PublicIdField("inv")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")

    class Meta(TradeDocument.Meta):
        constraints = TradeDocument.document_constraints("invoice")
        indexes = TradeDocument.sync_indexes("invoice")


class InvoiceLine(TradeLine):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")

    class Meta(TradeLine.Meta):
        constraints = TradeLine.line_constraints("invoiceline")


class Bill(TradeDocument):
    public_id = PublicIdField("bill")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="bills")

    class Meta(TradeDocument.Meta):
        constraints = TradeDocument.document_constraints("bill")
        indexes = TradeDocument.sync_indexes("bill")


class BillLine(TradeLine):
    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines")

    class Meta(TradeLine.Meta):
        constraints = TradeLine.line_constraints("billline")


class PaymentDirection(models.TextChoices):
    RECEIPT = "receipt", "Customer receipt"
    DISBURSEMENT = "disbursement", "Supplier payment"


class Payment(SyncedModel):
    public_id = PublicIdField("pay")
    number = models.CharField(max_length=20)
    direction = models.CharField(max_length=12, choices=PaymentDirection.choices)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    date = models.DateField()
    amount = MoneyField()
    method = models.CharField(max_length=30, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    journal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="payment_unique_number"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=(
                    Q(direction="receipt", customer__isnull=False, supplier__isnull=True)
                    | Q(direction="disbursement", supplier__isnull=False, customer__isnull=True)
                ),
                name="payment_party_matches_direction",
            ),
            *SyncedModel.sync_constraints("payment"),
        ]
        indexes = SyncedModel.sync_indexes("payment")

    def __str__(self) -> str:
        return self.number


class PaymentAllocation(TenantModel):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    bill = models.ForeignKey(
        Bill, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    amount = MoneyField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.CheckConstraint(
                condition=(Q(invoice__isnull=False) & Q(bill__isnull=True))
                | (Q(invoice__isnull=True) & Q(bill__isnull=False)),
                name="allocation_one_document",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment} → {self.invoice or self.bill}: {self.amount}"
