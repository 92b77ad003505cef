"""What the read API shows of the ledger, in the API's camelCase.

"id" is always the public id; foreign keys render as public ids (taxCode as its code); money
is a Decimal, which the renderer writes as an exact JSON number."""

from rest_framework import serializers

from bigledger.api.feed import SyncedSerializer
from bigledger.api.fields import Money, PublicId, Quantity

from ..models import (
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


class AddressSerializer(serializers.Serializer):
    """A party's address columns as the API's nested "address" object."""

    street = serializers.CharField(read_only=True)
    city = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    postalCode = serializers.CharField(source="postal_code", read_only=True)
    country = serializers.CharField(read_only=True)


PARTY_FIELDS = [
    "name",
    "email",
    "phone",
    "address",
    "creditLimit",
    "paymentTerms",
    "taxNumber",
    "status",
    "createdAt",
    "updatedAt",
]


class PartySerializer(SyncedSerializer):
    address = AddressSerializer(source="*", read_only=True)
    creditLimit = Money(source="credit_limit")
    paymentTerms = serializers.IntegerField(source="payment_terms", read_only=True)
    taxNumber = serializers.CharField(source="tax_number", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)


class CustomerSerializer(PartySerializer):
    customerNumber = serializers.CharField(source="number", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "externalId", "customerNumber", *PARTY_FIELDS]
        read_only_fields = fields


class SupplierSerializer(PartySerializer):
    supplierNumber = serializers.CharField(source="number", read_only=True)

    class Meta:
        model = Supplier
        fields = ["id", "externalId", "supplierNumber", *PARTY_FIELDS]
        read_only_fields = fields


class AccountSerializer(SyncedSerializer):
    parentId = PublicId(source="parent")

    class Meta:
        model = Account
        fields = [
            "id",
            "externalId",
            "code",
            "name",
            "type",
            "parentId",
            "role",
            "active",
            "updatedAt",
        ]
        read_only_fields = fields


class TaxCodeSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    rate = Quantity()

    class Meta:
        model = TaxCode
        fields = ["id", "code", "name", "rate", "active"]
        read_only_fields = fields


class JournalLineSerializer(serializers.ModelSerializer):
    lineNumber = serializers.IntegerField(source="line_number", read_only=True)
    accountId = PublicId(source="account")
    accountCode = serializers.SlugRelatedField(source="account", slug_field="code", read_only=True)
    debit = Money()
    credit = Money()

    class Meta:
        model = JournalLine
        fields = ["lineNumber", "accountId", "accountCode", "debit", "credit", "description"]
        read_only_fields = fields


class JournalEntrySerializer(SyncedSerializer):
    totalDebit = Money(source="total_debit")
    totalCredit = Money(source="total_credit")
    postedAt = serializers.DateTimeField(source="posted_at", read_only=True)
    lines = JournalLineSerializer(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields = [
            "id",
            "externalId",
            "number",
            "date",
            "reference",
            "description",
            "source",
            "totalDebit",
            "totalCredit",
            "postedAt",
            "lines",
            "updatedAt",
        ]
        read_only_fields = fields


TRADE_LINE_FIELDS = [
    "lineNumber",
    "itemId",
    "description",
    "quantity",
    "unitPrice",
    "taxCode",
    "taxRate",
    "amount",
    "taxAmount",
]


class TradeLineSerializer(serializers.ModelSerializer):
    lineNumber = serializers.IntegerField(source="line_number", read_only=True)
    itemId = PublicId(source="item")
    quantity = Quantity()
    unitPrice = Money(source="unit_price")
    taxCode = serializers.SlugRelatedField(source="tax_code", slug_field="code", read_only=True)
    taxRate = Quantity(source="tax_rate")
    amount = Money()
    taxAmount = Money(source="tax_amount")


class InvoiceLineSerializer(TradeLineSerializer):
    class Meta:
        model = InvoiceLine
        fields = TRADE_LINE_FIELDS
        read_only_fields = fields


class BillLineSerializer(TradeLineSerializer):
    class Meta:
        model = BillLine
        fields = TRADE_LINE_FIELDS
        read_only_fields = fields


TRADE_DOCUMENT_FIELDS = [
    "date",
    "dueDate",
    "reference",
    "notes",
    "lines",
    "subtotal",
    "taxTotal",
    "total",
    "amountPaid",
    "amountDue",
    "status",
    "journalEntryId",
    "createdAt",
    "updatedAt",
]


class TradeDocumentSerializer(SyncedSerializer):
    dueDate = serializers.DateField(source="due_date", read_only=True)
    subtotal = Money()
    taxTotal = Money(source="tax_total")
    total = Money()
    amountPaid = Money(source="amount_paid")
    amountDue = Money(source="amount_due")
    journalEntryId = PublicId(source="journal_entry")
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)


class InvoiceSerializer(TradeDocumentSerializer):
    customerId = PublicId(source="customer")
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = ["id", "externalId", "number", "customerId", *TRADE_DOCUMENT_FIELDS]
        read_only_fields = fields


class BillSerializer(TradeDocumentSerializer):
    supplierId = PublicId(source="supplier")
    lines = BillLineSerializer(many=True, read_only=True)

    class Meta:
        model = Bill
        fields = ["id", "externalId", "number", "supplierId", *TRADE_DOCUMENT_FIELDS]
        read_only_fields = fields


class PaymentAllocationSerializer(serializers.ModelSerializer):
    invoiceId = PublicId(source="invoice")
    billId = PublicId(source="bill")
    amount = Money()

    class Meta:
        model = PaymentAllocation
        fields = ["invoiceId", "billId", "amount"]
        read_only_fields = fields


class PaymentSerializer(SyncedSerializer):
    customerId = PublicId(source="customer")
    supplierId = PublicId(source="supplier")
    amount = Money()
    allocations = PaymentAllocationSerializer(many=True, read_only=True)
    journalEntryId = PublicId(source="journal_entry")
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "externalId",
            "number",
            "direction",
            "customerId",
            "supplierId",
            "date",
            "amount",
            "method",
            "reference",
            "notes",
            "allocations",
            "journalEntryId",
            "createdAt",
            "updatedAt",
        ]
        read_only_fields = fields


class TrialBalanceRowSerializer(serializers.Serializer):
    accountId = serializers.CharField(source="account.public_id", read_only=True)
    code = serializers.CharField(source="account.code", read_only=True)
    name = serializers.CharField(source="account.name", read_only=True)
    debit = Money()
    credit = Money()


class TrialBalanceSerializer(serializers.Serializer):
    """Serialises ledger.selectors.TrialBalance."""

    accounts = TrialBalanceRowSerializer(source="rows", many=True, read_only=True)
    totalDebit = Money(source="total_debit")
    totalCredit = Money(source="total_credit")
