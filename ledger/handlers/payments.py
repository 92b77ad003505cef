"""Payments in batches (create only): customer receipts allocated to invoices, supplier
payments allocated to bills.

Every invoice and bill the batch allocates to is read in one query per kind, under a row
lock unless the batch only validates, so what a document still owes cannot change before
the batch commits. Allocations made by earlier payments of the same batch are counted in
memory: two payments cannot both spend what one invoice owes."""

from collections import defaultdict
from decimal import Decimal

from batch.engine.codes import FieldCode
from batch.engine.fields import Detail, Field, ListOf, Schema
from batch.engine.handlers import EXTERNAL_ID, Handler, ReferenceIndex, is_external, split_refs
from batch.engine.parsers import Date, ExternalId, ExternalReference, Money, Reference, Text
from batch.engine.records import Record
from batch.files.templates import template_list
from bigledger.money import ZERO

from ..models import Bill, Customer, Invoice, Payment, Status, Supplier
from ..services.payments import AllocationDraft, PaymentDraft, create_payments
from .external_ids import ExternalIds
from .references import Problems, check_date, find_reference

CUSTOMER_PARAMS = ("customerId", "customerNumber", "customerExternalId")
SUPPLIER_PARAMS = ("supplierId", "supplierNumber", "supplierExternalId")
INVOICE_PARAMS = ("invoiceId", "invoiceNumber", "invoiceExternalId")
BILL_PARAMS = ("billId", "billNumber", "billExternalId")


def references(params: tuple[str, ...]) -> dict[str, Field]:
    """A field for each way of naming a record: our id or number, or its external id."""
    return {
        param: Field(ExternalReference() if is_external(param) else Reference()) for param in params
    }


ALLOCATION = Schema(
    {
        **references(INVOICE_PARAMS + BILL_PARAMS),
        "amount": Field(Money(positive=True), required=True),
    }
)

PAYMENT = Schema(
    {
        **references(CUSTOMER_PARAMS + SUPPLIER_PARAMS),
        "paymentDate": Field(Date(), required=True),
        "amount": Field(Money(positive=True), required=True),
        "method": Field(Text(30)),
        "reference": Field(Text(100)),
        "notes": Field(Text(5000)),
        "allocations": ListOf(ALLOCATION, max_items=1000),
        EXTERNAL_ID: Field(ExternalId()),
    }
)


class PaymentHandler(Handler):
    entity = "payments"
    model = Payment
    max_records = 200
    operations = frozenset({"create"})
    create_schema = PAYMENT
    # A receipt names a customer, never a supplier too; left unallocated, as a new company
    # has no invoices for it to pay (the company's first customer stands in for this one).
    file_example = [
        {
            "reference": "RCPT-0001",
            "customerNumber": "CUST-0001",
            "paymentDate": "2024-01-15",
            "amount": "100.00",
            "method": "bank_transfer",
            "notes": "Deposit",
        },
    ]
    # Payments of one document apply in request order: each pays what the earlier left.
    key_references = dict(
        zip(INVOICE_PARAMS + BILL_PARAMS, INVOICE_PARAMS + BILL_PARAMS, strict=True)
    )

    @classmethod
    def template_lists(cls, company) -> dict[str, list[str]]:
        return {
            "customerNumber": template_list(Customer.objects.for_company(company), "number"),
            "supplierNumber": template_list(Supplier.objects.for_company(company), "number"),
        }

    def __init__(self, ctx):
        super().__init__(ctx)
        self.customers = self.suppliers = self.invoices = self.bills = None
        self.external_ids: ExternalIds | None = None
        self.allocated: dict[tuple[type, int], Decimal] = defaultdict(lambda: ZERO)

    def load(self, records: list[Record]) -> None:
        values = [record.values for record in records]
        allocations = [a for v in values for a in v.get("allocations") or ()]
        self.customers = self.parties(Customer, split_refs(values, CUSTOMER_PARAMS))
        self.suppliers = self.parties(Supplier, split_refs(values, SUPPLIER_PARAMS))
        self.invoices = self.documents(Invoice, split_refs(allocations, INVOICE_PARAMS))
        self.bills = self.documents(Bill, split_refs(allocations, BILL_PARAMS))
        self.external_ids = ExternalIds(self.scoped(), records)

    def parties(self, model, refs: tuple[set[str], set[str]]) -> ReferenceIndex:
        ours, external = refs
        return ReferenceIndex(self.scoped(model), "number", ours, external_refs=external)

    def documents(self, model, refs: tuple[set[str], set[str]]) -> ReferenceIndex:
        rows = self.scoped(model)
        if not self.ctx.options.validate_only:
            rows = rows.select_for_update()
        ours, external = refs
        return ReferenceIndex(rows, "number", ours, external_refs=external)

    # Validate ------------------------------------------------------------------------------

    def validate_create(self, record: Record) -> None:
        if not self.external_ids.free(record):
            return
        values, problems = record.values, Problems()
        party = self.find_party(values, problems)
        check_date(self.ctx, values["paymentDate"], "paymentDate", problems)
        allocations = []
        if party is not None:
            allocations = self.resolve_allocations(party, values.get("allocations") or [], problems)
        if problems.reported(record):
            return
        draft = PaymentDraft(
            party=party,
            date=values["paymentDate"],
            amount=values["amount"],
            allocations=allocations,
            method=values.get("method") or "",
            reference=values.get("reference") or "",
            notes=values.get("notes") or "",
            external_id=values.get(EXTERNAL_ID),
        )
        if draft.allocated > draft.amount:
            message = f"Allocations total {draft.allocated}, more than the amount {draft.amount}."
            record.fail_fields([Detail("allocations", message, FieldCode.OVER_ALLOCATED)])
            return
        for allocation in allocations:
            self.allocated[key_of(allocation.document)] += allocation.amount
        self.external_ids.keep(record)
        record.target = draft

    def find_party(self, values: dict, problems: Problems):
        """Exactly one of a customer (a receipt) or a supplier (a payment out)."""
        customer, customer_param = find_reference(
            self.customers, values, CUSTOMER_PARAMS, "Customer", problems
        )
        supplier, supplier_param = find_reference(
            self.suppliers, values, SUPPLIER_PARAMS, "Supplier", problems
        )
        if customer_param and supplier_param:
            message = "A payment is from a customer or to a supplier, not both."
            problems.invalid.append(Detail(supplier_param, message, FieldCode.INVALID_VALUE))
            return None
        if not customer_param and not supplier_param:
            message = (
                "customerId, customerNumber or customerExternalId (or supplierId, "
                "supplierNumber or supplierExternalId) is required."
            )
            problems.invalid.append(Detail("customerId", message, FieldCode.REQUIRED))
        party, param, what = (
            (customer, customer_param, "Customer")
            if customer
            else (supplier, supplier_param, "Supplier")
        )
        if party is not None and party.status != Status.ACTIVE:
            message = f"{what} {party.number} is inactive."
            problems.invalid.append(Detail(param, message, FieldCode.INACTIVE))
        return party

    def resolve_allocations(self, party, raw: list[dict], problems: Problems):
        receipt = isinstance(party, Customer)
        index, params, other_params, what = (
            (self.invoices, INVOICE_PARAMS, BILL_PARAMS, "Invoice")
            if receipt
            else (self.bills, BILL_PARAMS, INVOICE_PARAMS, "Bill")
        )
        pending: dict[tuple[type, int], Decimal] = defaultdict(lambda: ZERO)
        allocations = []
        for position, values in enumerate(raw):
            path = f"allocations[{position}]."
            for param in other_params:
                if values.get(param):
                    message = f"A {'customer receipt' if receipt else 'supplier payment'} is "
                    message += f"allocated to {what.lower()}s."
                    problems.invalid.append(Detail(path + param, message, FieldCode.INVALID_VALUE))
            document, param = find_reference(index, values, params, what, problems, path)
            if param is None:
                message = f"{params[0]}, {params[1]} or {params[2]} is required."
                problems.invalid.append(Detail(path + params[0], message, FieldCode.REQUIRED))
            if document is None:
                continue
            if getattr(document, f"{party._meta.model_name}_id") != party.pk:
                message = f"{what} {document.number} belongs to another {party._meta.model_name}."
                problems.invalid.append(Detail(path + param, message, FieldCode.INVALID_VALUE))
                continue
            key = key_of(document)
            outstanding = document.amount_due - self.allocated[key] - pending[key]
            if values["amount"] > outstanding:
                message = (
                    f"{what} {document.number} has {outstanding} outstanding; "
                    f"{values['amount']} cannot be allocated to it."
                )
                problems.invalid.append(Detail(path + "amount", message, FieldCode.OVER_ALLOCATED))
                continue
            pending[key] += values["amount"]
            allocations.append(AllocationDraft(document=document, amount=values["amount"]))
        return allocations

    # Write ---------------------------------------------------------------------------------

    def write(self, records: list[Record]) -> None:
        payments = create_payments(
            company=self.company, drafts=[record.target for record in records]
        )
        for record, payment in zip(records, payments, strict=True):
            record.data = {
                "id": payment.public_id,
                "number": payment.number,
                "amount": payment.amount,
                "unallocated": record.target.unallocated,
                EXTERNAL_ID: payment.external_id,
            }

    def find_conflicts(self, records: list[Record]) -> bool:
        """An externalId another batch stored since load(): that payment is a
        DUPLICATE_ERROR; the others are written again (what they allocate is re-read under
        lock then, so one payment fewer only leaves the documents owing more)."""
        return self.external_ids.find_conflicts(records)


def key_of(document) -> tuple[type, int]:
    return type(document), document.pk


HANDLERS = [PaymentHandler]
