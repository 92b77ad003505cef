"""Invoices and bills: totals computed from lines, numbered, posted — in bulk.

An invoice posts Dr receivables (total) / Cr sales (subtotal) / Cr output tax; a bill posts
Dr purchases (subtotal) / Dr input tax / Cr payables (total)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bigledger.models import Company
from bigledger.money import ZERO, to_money
from bigledger.numbers import allocate_numbers

from ..models import (
    AccountRole,
    Bill,
    BillLine,
    Customer,
    Invoice,
    InvoiceLine,
    JournalSource,
    Supplier,
    TaxCode,
)
from .journals import JournalDraft, LineDraft, post_journal_entries, posting_accounts, require_role


@dataclass
class TradeLineDraft:
    quantity: Decimal
    unit_price: Decimal
    tax_code: TaxCode
    description: str = ""
    item: object | None = None

    @property
    def amount(self) -> Decimal:
        return to_money(self.quantity * self.unit_price)

    @property
    def tax_amount(self) -> Decimal:
        return to_money(self.amount * self.tax_code.rate / 100)


@dataclass
class TradeDocumentDraft:
    party: Customer | Supplier
    date: date
    due_date: date
    lines: list[TradeLineDraft]
    reference: str = ""
    notes: str = ""

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def tax_total(self) -> Decimal:
        return sum((line.tax_amount for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax_total


@dataclass(frozen=True)
class DocumentKind:
    model: type
    line_model: type
    party_field: str
    number_prefix: str
    source: str

    def journal_lines(self, accounts, draft: TradeDocumentDraft) -> list[LineDraft]:
        if self.model is Invoice:
            return [
                LineDraft(require_role(accounts, AccountRole.RECEIVABLES), debit=draft.total),
                LineDraft(require_role(accounts, AccountRole.SALES), credit=draft.subtotal),
                LineDraft(require_role(accounts, AccountRole.TAX_OUTPUT), credit=draft.tax_total),
            ]
        return [
            LineDraft(require_role(accounts, AccountRole.PURCHASES), debit=draft.subtotal),
            LineDraft(require_role(accounts, AccountRole.TAX_INPUT), debit=draft.tax_total),
            LineDraft(require_role(accounts, AccountRole.PAYABLES), credit=draft.total),
        ]


INVOICE = DocumentKind(Invoice, InvoiceLine, "customer", "INV", JournalSource.INVOICE)
BILL = DocumentKind(Bill, BillLine, "supplier", "BILL", JournalSource.BILL)


def create_invoices(*, company: Company, drafts: list[TradeDocumentDraft]) -> list[Invoice]:
    return _create_documents(company=company, kind=INVOICE, drafts=drafts)


def create_bills(*, company: Company, drafts: list[TradeDocumentDraft]) -> list[Bill]:
    return _create_documents(company=company, kind=BILL, drafts=drafts)


def _create_documents(*, company: Company, kind: DocumentKind, drafts: list[TradeDocumentDraft]):
    """Number, total, post and write the documents; call inside a transaction."""
    if not drafts:
        return []
    accounts = posting_accounts(company=company)
    journals = post_journal_entries(
        company=company,
        drafts=[
            JournalDraft(
                date=draft.date,
                reference=draft.reference,
                description=f"{kind.model._meta.verbose_name.title()} {draft.reference}".strip(),
                source=kind.source,
                lines=kind.journal_lines(accounts, draft),
            )
            for draft in drafts
        ],
    )
    numbers = allocate_numbers(
        company=company, prefix=kind.number_prefix, width=6, count=len(drafts)
    )
    documents = [
        kind.model(
            company=company,
            number=number,
            date=draft.date,
            due_date=draft.due_date,
            reference=draft.reference,
            notes=draft.notes,
            subtotal=draft.subtotal,
            tax_total=draft.tax_total,
            total=draft.total,
            journal_entry=journal,
            **{kind.party_field: draft.party},
        )
        for number, draft, journal in zip(numbers, drafts, journals, strict=True)
    ]
    kind.model.objects.bulk_create(documents)
    document_field = kind.model._meta.model_name
    kind.line_model.objects.bulk_create(
        kind.line_model(
            company=company,
            line_number=position,
            item=line.item,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_code=line.tax_code,
            tax_rate=line.tax_code.rate,
            amount=line.amount,
            tax_amount=line.tax_amount,
            **{document_field: document},
        )
        for document, draft in zip(documents, drafts, strict=True)
        for position, line in enumerate(draft.lines, start=1)
    )
    return documents
