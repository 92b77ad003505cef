"""Invoices in batches: the trade document handler for customers, with a warning when a
customer would owe more than their credit limit."""

from django.db.models import F, Sum

from batch.engine.handlers import EXTERNAL_ID
from batch.engine.records import Record
from bigledger.money import ZERO

from ..models import Customer, DocumentStatus, Invoice
from ..services.documents import INVOICE, create_invoices, update_invoices
from .document_lines import document_schema
from .documents import TradeDocumentHandler


class InvoiceHandler(TradeDocumentHandler):
    entity = "invoices"
    model = Invoice
    what = "Invoice"
    kind = INVOICE
    party_model = Customer
    party_what = "Customer"
    party_params = ("customerId", "customerNumber", "customerExternalId")
    key_references = dict(zip(party_params, party_params, strict=True))  # credit limits
    date_param = "invoiceDate"
    number_param = "invoiceNumber"
    match_fields = (EXTERNAL_ID, number_param)
    create_documents = staticmethod(create_invoices)
    update_documents = staticmethod(update_invoices)
    create_schema = document_schema(party_params, date_param, number_param, update=False)
    update_schema = document_schema(party_params, date_param, number_param, update=True)

    def load_exposure(self) -> None:
        """One aggregate for every customer with a credit limit the batch touches."""
        customers = {c.pk: c for c in self.parties.by_ref.values() if c.credit_limit > 0}
        for document in self.documents.by_ref.values():
            if document.customer.credit_limit > 0:
                customers[document.customer_id] = document.customer
        if not customers:
            return
        self.exposure = dict.fromkeys(customers, ZERO)
        owed = (
            self.scoped()
            .filter(customer_id__in=customers)
            .exclude(status=DocumentStatus.PAID)
            .values("customer_id")
            .annotate(due=Sum(F("total") - F("amount_paid")))
        )
        for row in owed:
            self.exposure[row["customer_id"]] = row["due"]

    def on_staged(self, record: Record, draft, *, replaced, origin) -> None:
        if replaced is not None and replaced.party.pk in self.exposure:
            self.exposure[replaced.party.pk] -= replaced.total
        customer = draft.party
        if customer.pk not in self.exposure:
            return
        self.exposure[customer.pk] += draft.total
        owed = self.exposure[customer.pk]
        if owed > customer.credit_limit:
            record.warn(
                "CREDIT_LIMIT_EXCEEDED",
                f"Customer {customer.number} would owe {owed} on open invoices, over the "
                f"credit limit of {customer.credit_limit}.",
                field=self.party_params[0],
            )


HANDLERS = [InvoiceHandler]
