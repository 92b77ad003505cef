"""Invoices and bills: totals computed from lines, numbered, posted — in bulk.

An invoice posts Dr receivables (total) / Cr sales (subtotal) / Cr output tax; a bill posts
Dr purchases (subtotal) / Dr input tax / Cr payables (total). Posted entries are never
edited: updating a document posts a reversal of its entry and a new one."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone

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
    JournalLine,
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
    tax_rate: Decimal | None = None  # the rate a kept line was taxed at; None: the code's

    @property
    def rate(self) -> Decimal:
        return self.tax_code.rate if self.tax_rate is None else self.tax_rate

    @property
    def amount(self) -> Decimal:
        return to_money(self.quantity * self.unit_price)

    @property
    def tax_amount(self) -> Decimal:
        return to_money(self.amount * self.rate / 100)


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

    @property
    def document_field(self) -> str:
        return self.model._meta.model_name

    def posting(self, accounts, draft: TradeDocumentDraft) -> JournalDraft:
        return JournalDraft(
            date=draft.date,
            reference=draft.reference,
            description=f"{self.model._meta.verbose_name.title()} {draft.reference}".strip(),
            source=self.source,
            lines=self.journal_lines(accounts, draft),
        )

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
        company=company, drafts=[kind.posting(accounts, draft) for draft in drafts]
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
    _insert_lines(company=company, kind=kind, documents=documents, drafts=drafts)
    return documents


def _insert_lines(*, company, kind: DocumentKind, documents, drafts) -> None:
    kind.line_model.objects.bulk_create(
        kind.line_model(
            company=company,
            line_number=position,
            item=line.item,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_code=line.tax_code,
            tax_rate=line.rate,
            amount=line.amount,
            tax_amount=line.tax_amount,
            **{kind.document_field: document},
        )
        for document, draft in zip(documents, drafts, strict=True)
        for position, line in enumerate(draft.lines, start=1)
    )


class DocumentPaid(ValueError):
    """An update reached a document that has payments against it."""


@dataclass
class TradeDocumentChange:
    """A document as it should now read: `draft` holds every header field and every line
    (lines not being changed are passed back as they are, with their tax_rate)."""

    document: Invoice | Bill
    draft: TradeDocumentDraft


def update_invoices(*, company: Company, changes: list[TradeDocumentChange]) -> list[Invoice]:
    return _update_documents(company=company, kind=INVOICE, changes=changes)


def update_bills(*, company: Company, changes: list[TradeDocumentChange]) -> list[Bill]:
    return _update_documents(company=company, kind=BILL, changes=changes)


def _update_documents(*, company: Company, kind: DocumentKind, changes):
    """Replace the documents' lines and header, recompute totals and, where the posting
    changes (date or amounts), post a reversal of the old entry and a new entry.

    Pass documents read under a row lock in this transaction; a paid one is refused."""
    if not changes:
        return []
    for change in changes:
        if change.document.amount_paid:
            raise DocumentPaid(f"{change.document.number} has payments and cannot be changed")
    reposted = [change for change in changes if _posting_changes(change)]
    _repost(company=company, kind=kind, changes=reposted)
    documents = [change.document for change in changes]
    kind.line_model.objects.filter(**{f"{kind.document_field}__in": documents}).delete()
    _insert_lines(
        company=company,
        kind=kind,
        documents=documents,
        drafts=[change.draft for change in changes],
    )
    now = timezone.now()
    for change in changes:
        _apply_header(kind, change.document, change.draft, now)
    kind.model.objects.bulk_update(documents, UPDATED_FIELDS + [kind.party_field])
    return documents


UPDATED_FIELDS = [
    "date",
    "due_date",
    "reference",
    "notes",
    "subtotal",
    "tax_total",
    "total",
    "journal_entry",
    "updated_at",
]


def _posting_changes(change: TradeDocumentChange) -> bool:
    document, draft = change.document, change.draft
    return document.journal_entry_id is None or (
        document.date,
        document.subtotal,
        document.tax_total,
        document.total,
    ) != (draft.date, draft.subtotal, draft.tax_total, draft.total)


def _repost(*, company: Company, kind: DocumentKind, changes: list[TradeDocumentChange]):
    """Post, per document, the reversal of its current entry then its new entry; the new
    entry becomes the document's. The reversal is dated as the entry it reverses, so every
    period reads as if the document had always said what it says now."""
    if not changes:
        return
    old_lines: dict[int, list[JournalLine]] = {}
    entry_ids = [c.document.journal_entry_id for c in changes if c.document.journal_entry_id]
    for line in (
        JournalLine.objects.for_company(company)
        .filter(entry_id__in=entry_ids)
        .select_related("entry", "account")
        .order_by("entry_id", "line_number")
    ):
        old_lines.setdefault(line.entry_id, []).append(line)
    accounts = posting_accounts(company=company)
    drafts: list[JournalDraft] = []
    postings: list[JournalDraft] = []
    for change in changes:
        lines = old_lines.get(change.document.journal_entry_id)
        if lines:
            drafts.append(_reversal(kind, change.document, lines))
        postings.append(kind.posting(accounts, change.draft))
        drafts.append(postings[-1])
    post_journal_entries(company=company, drafts=drafts)
    for change, posting in zip(changes, postings, strict=True):
        change.document.journal_entry = posting.entry


def _apply_header(kind: DocumentKind, document, draft: TradeDocumentDraft, now) -> None:
    setattr(document, kind.party_field, draft.party)
    document.date = draft.date
    document.due_date = draft.due_date
    document.reference = draft.reference
    document.notes = draft.notes
    document.subtotal = draft.subtotal
    document.tax_total = draft.tax_total
    document.total = draft.total
    document.updated_at = now  # bulk_update skips auto_now


def _reversal(kind: DocumentKind, document, lines: list[JournalLine]) -> JournalDraft:
    entry = lines[0].entry
    what = kind.model._meta.verbose_name.title()
    return JournalDraft(
        date=entry.date,
        reference=document.number,
        description=f"Reversal of {entry.number}: {what} {document.number} updated",
        source=kind.source,
        lines=[
            LineDraft(line.account, debit=line.credit, credit=line.debit, description="Reversal")
            for line in lines
        ],
    )
