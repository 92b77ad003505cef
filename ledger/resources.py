"""Import-export resources of the ledger: columns are the API's field names, as in the
batch files and templates, so an exported file uploads again.

Customers, suppliers and accounts are imported through their batch handlers (the admin's
import, batch.admin_import) and exported here as update rows naming each record; tax codes
have no handler and are imported by django-import-export itself. Invoices, bills, payments
and journal entries are export-only, one row per line."""

from batch.admin.resources import (
    ApiBooleanWidget,
    ApiDecimalWidget,
    ApiTextWidget,
    TenantImportResource,
    api_field,
    api_lines_resource,
    api_resource,
)

from .handlers.accounts import AccountHandler
from .handlers.bills import BillHandler
from .handlers.invoices import InvoiceHandler
from .handlers.journals import JournalEntryHandler
from .handlers.parties import CustomerHandler, SupplierHandler
from .handlers.payments import PaymentHandler
from .models import Account, Bill, Customer, Invoice, JournalEntry, Payment, Supplier, TaxCode

CustomerResource = api_resource(
    Customer,
    CustomerHandler,
    operation="update",
    sources={"id": "public_id", "customerNumber": "number"},
)

SupplierResource = api_resource(
    Supplier,
    SupplierHandler,
    operation="update",
    sources={"id": "public_id", "supplierNumber": "number"},
)

AccountResource = api_resource(
    Account,
    AccountHandler,
    operation="update",
    sources={"id": "public_id", "parentId": "parent__code"},
)


class TaxCodeResource(TenantImportResource):
    code = api_field("code", "code", ApiTextWidget())
    name = api_field("name", "name", ApiTextWidget())
    rate = api_field("rate", "rate", ApiDecimalWidget())
    active = api_field("active", "active", ApiBooleanWidget())

    class Meta:
        model = TaxCode
        fields = ("code", "name", "rate", "active")

    @classmethod
    def get_display_name(cls) -> str:
        return "tax codes"


TRADE_LINE_SOURCES = {
    "itemCode": "item__item_code",
    "description": "description",
    "quantity": "quantity",
    "unitPrice": "unit_price",
    "taxCode": "tax_code__code",
    "amount": "amount",
}


def trade_document_sources(party: str, party_param: str, date_param: str, number_param: str):
    return {
        "reference": "reference",
        "id": "public_id",
        number_param: "number",
        party_param: f"{party}__number",
        date_param: "date",
        "dueDate": "due_date",
        "notes": "notes",
        "subtotal": "subtotal",
        "taxTotal": "tax_total",
        "total": "total",
    }


InvoiceResource = api_lines_resource(
    Invoice,
    InvoiceHandler,
    lines="lines",
    operation="update",
    sources=trade_document_sources("customer", "customerNumber", "invoiceDate", "invoiceNumber"),
    line_sources=TRADE_LINE_SOURCES,
    line_related=("item", "tax_code"),
)

BillResource = api_lines_resource(
    Bill,
    BillHandler,
    lines="lines",
    operation="update",
    sources=trade_document_sources("supplier", "supplierNumber", "billDate", "billNumber"),
    line_sources=TRADE_LINE_SOURCES,
    line_related=("item", "tax_code"),
)

PaymentResource = api_lines_resource(
    Payment,
    PaymentHandler,
    lines="allocations",
    sources={
        "reference": "reference",
        "customerNumber": "customer__number",
        "supplierNumber": "supplier__number",
        "paymentDate": "date",
        "amount": "amount",
        "method": "method",
        "notes": "notes",
    },
    line_sources={
        "invoiceNumber": "invoice__number",
        "billNumber": "bill__number",
        "amount": "amount",
    },
    line_related=("invoice", "bill"),
)

JournalEntryResource = api_lines_resource(
    JournalEntry,
    JournalEntryHandler,
    lines="lines",
    sources={"reference": "reference", "date": "date", "description": "description"},
    line_sources={
        "accountCode": "account__code",
        "debit": "debit",
        "credit": "credit",
        "description": "description",
    },
    line_related=("account",),
)
