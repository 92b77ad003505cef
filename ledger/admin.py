"""Ledger admin. Parties, accounts and tax codes are edited here; journals, invoices, bills
and payments are posted by the ledger services and only shown. Customers, suppliers and
accounts import through their batch handlers (batch.admin_import), tax codes through
django-import-export; everything exports with the API's columns (ledger.resources)."""

from django.contrib import admin

from batch.admin.imports import ApiExportMixin, BatchImportAdminMixin, TenantImportExportMixin
from bigledger.admin import ReadOnlyTenantAdmin, ReadOnlyTenantInline, TenantAdmin
from bigledger.numbers import allocate_numbers

from .models import (
    Account,
    Bill,
    BillLine,
    Customer,
    Invoice,
    InvoiceLine,
    JournalEntry,
    JournalLine,
    Payment,
    PaymentAllocation,
    Supplier,
    TaxCode,
)
from .resources import (
    AccountResource,
    BillResource,
    CustomerResource,
    InvoiceResource,
    JournalEntryResource,
    PaymentResource,
    SupplierResource,
    TaxCodeResource,
)

PARTY_FIELDS = [
    "company",
    ("public_id", "number"),
    "name",
    ("email", "phone"),
    "street",
    ("city", "state"),
    ("postal_code", "country"),
    ("credit_limit", "payment_terms"),
    "tax_number",
    "status",
    ("created_at", "updated_at"),
]


class PartyAdmin(TenantAdmin):
    """Customers and suppliers. The number comes from the company's sequence when the
    admin adds one (the admin's save already runs in a transaction, as allocation needs)."""

    number_prefix: str
    list_display = ["number", "name", "email", "phone", "city", "credit_limit", "status"]
    list_filter = ["status", "country"]
    search_fields = ["number", "name", "email", "phone", "tax_number"]
    fields = PARTY_FIELDS
    readonly_fields = ["public_id", "number", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            self.assign_company(request, obj)
            [obj.number] = allocate_numbers(
                company=obj.company, prefix=self.number_prefix, width=4, count=1
            )
        super().save_model(request, obj, form, change)


@admin.register(Customer)
class CustomerAdmin(BatchImportAdminMixin, PartyAdmin):
    number_prefix = "CUST"
    import_entity = "customers"
    resource_classes = [CustomerResource]


@admin.register(Supplier)
class SupplierAdmin(BatchImportAdminMixin, PartyAdmin):
    number_prefix = "SUPP"
    import_entity = "suppliers"
    resource_classes = [SupplierResource]


@admin.register(Account)
class AccountAdmin(BatchImportAdminMixin, TenantAdmin):
    import_entity = "accounts"
    resource_classes = [AccountResource]
    list_display = ["code", "name", "type", "parent", "role", "active"]
    list_filter = ["type", "active", "role"]
    list_select_related = ["parent"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]
    fields = ["company", "public_id", "code", "name", "type", "parent", "role", "active"]
    readonly_fields = ["public_id"]

    def has_delete_permission(self, request, obj=None):
        return False  # The chart of accounts is deactivated, never deleted.


@admin.register(TaxCode)
class TaxCodeAdmin(TenantImportExportMixin, TenantAdmin):
    resource_classes = [TaxCodeResource]
    list_display = ["code", "name", "rate", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    fields = ["company", "public_id", "code", "name", "rate", "active"]
    readonly_fields = ["public_id"]


class JournalLineInline(ReadOnlyTenantInline):
    model = JournalLine
    fields = ["line_number", "account", "description", "debit", "credit"]
    related = ("account",)


@admin.register(JournalEntry)
class JournalEntryAdmin(ApiExportMixin, ReadOnlyTenantAdmin):
    resource_classes = [JournalEntryResource]
    list_display = ["number", "date", "reference", "description", "source", "total_debit"]
    list_filter = ["source", "date"]
    search_fields = ["number", "reference", "description"]
    date_hierarchy = "date"
    fields = [
        "company",
        ("public_id", "number"),
        ("date", "source"),
        "reference",
        "description",
        ("total_debit", "total_credit"),
        "posted_at",
    ]
    inlines = [JournalLineInline]


TRADE_LINE_FIELDS = [
    "line_number",
    "item",
    "description",
    "quantity",
    "unit_price",
    "tax_code",
    "tax_rate",
    "amount",
    "tax_amount",
]


class InvoiceLineInline(ReadOnlyTenantInline):
    model = InvoiceLine
    fields = TRADE_LINE_FIELDS
    related = ("item", "tax_code")


class BillLineInline(ReadOnlyTenantInline):
    model = BillLine
    fields = TRADE_LINE_FIELDS
    related = ("item", "tax_code")


def trade_document_fields(party: str) -> list:
    return [
        "company",
        ("public_id", "number"),
        party,
        ("date", "due_date"),
        "reference",
        "notes",
        ("subtotal", "tax_total", "total"),
        ("amount_paid", "status"),
        "journal_entry",
        ("created_at", "updated_at"),
    ]


class TradeDocumentAdmin(ApiExportMixin, ReadOnlyTenantAdmin):
    list_filter = ["status", "date"]
    date_hierarchy = "date"


@admin.register(Invoice)
class InvoiceAdmin(TradeDocumentAdmin):
    list_display = ["number", "date", "due_date", "customer", "total", "amount_paid", "status"]
    list_select_related = ["customer"]
    search_fields = ["number", "reference", "customer__number", "customer__name"]
    fields = trade_document_fields("customer")
    inlines = [InvoiceLineInline]
    resource_classes = [InvoiceResource]


@admin.register(Bill)
class BillAdmin(TradeDocumentAdmin):
    list_display = ["number", "date", "due_date", "supplier", "total", "amount_paid", "status"]
    list_select_related = ["supplier"]
    search_fields = ["number", "reference", "supplier__number", "supplier__name"]
    fields = trade_document_fields("supplier")
    inlines = [BillLineInline]
    resource_classes = [BillResource]


class PaymentAllocationInline(ReadOnlyTenantInline):
    model = PaymentAllocation
    fields = ["invoice", "bill", "amount"]
    related = ("invoice", "bill")


@admin.register(Payment)
class PaymentAdmin(ApiExportMixin, ReadOnlyTenantAdmin):
    resource_classes = [PaymentResource]
    list_display = ["number", "date", "direction", "party", "amount", "method", "reference"]
    list_filter = ["direction", "date", "method"]
    list_select_related = ["customer", "supplier"]
    search_fields = [
        "number",
        "reference",
        "customer__number",
        "customer__name",
        "supplier__number",
        "supplier__name",
    ]
    date_hierarchy = "date"
    fields = [
        "company",
        ("public_id", "number"),
        ("direction", "date"),
        ("customer", "supplier"),
        ("amount", "method"),
        "reference",
        "notes",
        "journal_entry",
        "created_at",
    ]
    inlines = [PaymentAllocationInline]

    @admin.display(description="Customer / supplier")
    def party(self, payment: Payment):
        return payment.customer or payment.supplier
