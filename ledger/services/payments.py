"""Payments: customer receipts allocated to invoices, supplier payments allocated to bills.

A receipt posts Dr bank / Cr receivables (allocated) / Cr customer deposits (the rest);
a supplier payment posts Dr payables (allocated) / Dr supplier advances (the rest) / Cr bank.
So receivables always equal what open invoices still owe."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Model
from django.utils import timezone

from bigledger.models import Company
from bigledger.money import ZERO
from bigledger.numbers import allocate_numbers

from ..models import (
    AccountRole,
    Bill,
    Customer,
    DocumentStatus,
    Invoice,
    JournalSource,
    Payment,
    PaymentAllocation,
    PaymentDirection,
    Supplier,
)
from .journals import JournalDraft, LineDraft, post_journal_entries, posting_accounts, require_role


class OverAllocation(ValueError):
    pass


@dataclass
class AllocationDraft:
    document: Invoice | Bill
    amount: Decimal


@dataclass
class PaymentDraft:
    party: Customer | Supplier
    date: date
    amount: Decimal
    allocations: list[AllocationDraft] = field(default_factory=list)
    method: str = ""
    reference: str = ""
    notes: str = ""
    external_id: str | None = None

    @property
    def direction(self) -> str:
        if isinstance(self.party, Customer):
            return PaymentDirection.RECEIPT
        return PaymentDirection.DISBURSEMENT

    @property
    def allocated(self) -> Decimal:
        return sum((allocation.amount for allocation in self.allocations), ZERO)

    @property
    def unallocated(self) -> Decimal:
        return self.amount - self.allocated


def create_payments(*, company: Company, drafts: list[PaymentDraft]) -> list[Payment]:
    """Write, allocate and post the payments; call inside a transaction.

    Documents are re-read under a row lock so two batches cannot both spend what an
    invoice still owes."""
    if not drafts:
        return []
    documents = _lock_documents(company=company, drafts=drafts)
    _apply_allocations(drafts=drafts, documents=documents)
    accounts = posting_accounts(company=company)
    journals = post_journal_entries(
        company=company,
        drafts=[
            JournalDraft(
                date=draft.date,
                reference=draft.reference,
                description=f"Payment {draft.reference}".strip(),
                source=JournalSource.PAYMENT,
                lines=_journal_lines(accounts, draft),
            )
            for draft in drafts
        ],
    )
    numbers = allocate_numbers(company=company, prefix="PAY", width=6, count=len(drafts))
    payments = [
        Payment(
            company=company,
            number=number,
            direction=draft.direction,
            customer=draft.party if draft.direction == PaymentDirection.RECEIPT else None,
            supplier=draft.party if draft.direction == PaymentDirection.DISBURSEMENT else None,
            date=draft.date,
            amount=draft.amount,
            method=draft.method,
            reference=draft.reference,
            notes=draft.notes,
            external_id=draft.external_id,
            journal_entry=journal,
        )
        for number, draft, journal in zip(numbers, drafts, journals, strict=True)
    ]
    Payment.objects.bulk_create(payments)
    PaymentAllocation.objects.bulk_create(
        PaymentAllocation(
            company=company,
            payment=payment,
            amount=allocation.amount,
            **{allocation.document._meta.model_name: allocation.document},
        )
        for payment, draft in zip(payments, drafts, strict=True)
        for allocation in draft.allocations
    )
    _save_documents(documents)
    return payments


def _save_documents(documents: dict[type[Model], dict[int, Model]]) -> None:
    """What the payments changed of the documents: a change like any other, so the change
    feed sees it (updated_at, which bulk_update does not set)."""
    now = timezone.now()
    for model, by_pk in documents.items():
        for document in by_pk.values():
            document.updated_at = now
        model.objects.bulk_update(by_pk.values(), ["amount_paid", "status", "updated_at"])


def _lock_documents(*, company, drafts) -> dict[type[Model], dict[int, Model]]:
    wanted = defaultdict(set)
    for draft in drafts:
        for allocation in draft.allocations:
            wanted[type(allocation.document)].add(allocation.document.pk)
    return {
        model: model.objects.for_company(company).select_for_update().in_bulk(sorted(pks))
        for model, pks in wanted.items()
    }


def _apply_allocations(*, drafts, documents) -> None:
    for draft in drafts:
        if draft.allocated > draft.amount:
            raise OverAllocation("allocations exceed the payment amount")
        for allocation in draft.allocations:
            document = documents[type(allocation.document)][allocation.document.pk]
            if allocation.amount > document.total - document.amount_paid:
                raise OverAllocation(f"{document.number} owes less than {allocation.amount}")
            document.amount_paid += allocation.amount
            document.status = document_status(document)
            allocation.document = document


def document_status(document) -> str:
    if document.amount_paid >= document.total:
        return DocumentStatus.PAID
    if document.amount_paid > 0:
        return DocumentStatus.PARTIALLY_PAID
    return DocumentStatus.OPEN


def _journal_lines(accounts, draft: PaymentDraft) -> list[LineDraft]:
    bank = require_role(accounts, AccountRole.BANK)
    if draft.direction == PaymentDirection.RECEIPT:
        return [
            LineDraft(bank, debit=draft.amount),
            LineDraft(require_role(accounts, AccountRole.RECEIVABLES), credit=draft.allocated),
            LineDraft(
                require_role(accounts, AccountRole.CUSTOMER_ADVANCES), credit=draft.unallocated
            ),
        ]
    return [
        LineDraft(require_role(accounts, AccountRole.PAYABLES), debit=draft.allocated),
        LineDraft(require_role(accounts, AccountRole.SUPPLIER_ADVANCES), debit=draft.unallocated),
        LineDraft(bank, credit=draft.amount),
    ]
