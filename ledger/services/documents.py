"""Invoices and bills: totals computed from lines, numbered, posted, stock moved — in bulk.

An invoice posts Dr receivables (total) / Cr each line's income account (its amount) / Cr
output tax, and for lines of stock items Dr cost of goods sold / Cr inventory at the moving
average cost of the stock it takes out. A bill posts Dr each line's expense account, or
inventory for stock items (whose units come in at the line's net unit cost) / Dr input tax /
Cr payables (total). Posted entries are never edited: updating a document undoes its stock
movements, and, where its posting changes, posts a reversal of its entry and a new one."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import timezone

from bigledger.models import Company
from bigledger.money import ZERO, to_money
from bigledger.numbers import allocate_numbers

from ..catalog import StockLevels, StockMove, StockShortage, stock_book
from ..models import (
    Account,
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
    account: Account | None = None  # None: the item's account, else the role's
    location: object | None = None  # a stock line's; None: the company's default location
    move: StockMove | None = field(default=None, compare=False)  # set when stock moves
    # A kept line stored before documents moved stock (a stock item, no location): it stays
    # as it was posted, moving none, so updating an old document's header changes no stock.
    before_stock: bool = False

    @property
    def rate(self) -> Decimal:
        return self.tax_code.rate if self.tax_rate is None else self.tax_rate

    @property
    def amount(self) -> Decimal:
        return to_money(self.quantity * self.unit_price)

    @property
    def tax_amount(self) -> Decimal:
        return to_money(self.amount * self.rate / 100)

    @property
    def moves_stock(self) -> bool:
        if self.item is None or self.before_stock:
            return False
        return stock_book().holds_stock(self.item)


@dataclass
class TradeDocumentDraft:
    party: Customer | Supplier
    date: date
    due_date: date
    lines: list[TradeLineDraft]
    reference: str = ""
    notes: str = ""
    number: str | None = None  # create only: a number kept from another system
    external_id: str | None = None  # the document's id in another system (docs/api.md)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def tax_total(self) -> Decimal:
        return sum((line.tax_amount for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax_total

    @property
    def stock_lines(self) -> list[TradeLineDraft]:
        return [line for line in self.lines if line.moves_stock]


@dataclass(frozen=True)
class DocumentKind:
    model: type
    line_model: type
    party_field: str
    number_prefix: str
    source: str
    line_field: str  # the stock movement's link to a line
    outgoing: bool  # stock leaves (invoices) or arrives (bills)

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
        by_account = self.line_amounts(accounts, draft)
        if self.model is Invoice:
            cost = -sum((line.move.value for line in draft.lines if line.move), ZERO)
            return [
                LineDraft(require_role(accounts, AccountRole.RECEIVABLES), debit=draft.total),
                *(LineDraft(account, credit=amount) for account, amount in by_account),
                LineDraft(require_role(accounts, AccountRole.TAX_OUTPUT), credit=draft.tax_total),
                *self.cost_of_sales(accounts, cost),
            ]
        return [
            *(LineDraft(account, debit=amount) for account, amount in by_account),
            LineDraft(require_role(accounts, AccountRole.TAX_INPUT), debit=draft.tax_total),
            LineDraft(require_role(accounts, AccountRole.PAYABLES), credit=draft.total),
        ]

    @staticmethod
    def cost_of_sales(accounts, cost: Decimal) -> list[LineDraft]:
        if not cost:
            return []
        return [
            LineDraft(require_role(accounts, AccountRole.COST_OF_SALES), debit=cost),
            LineDraft(require_role(accounts, AccountRole.INVENTORY), credit=cost),
        ]

    def line_amounts(self, accounts, draft: TradeDocumentDraft) -> list[tuple[Account, Decimal]]:
        """Line amounts summed per account, in the order the accounts first appear."""
        totals: dict[int, list] = {}
        for line in draft.lines:
            account = self.line_account(accounts, line)
            totals.setdefault(account.pk, [account, ZERO])[1] += line.amount
        return [(account, amount) for account, amount in totals.values()]

    def line_account(self, accounts, line: TradeLineDraft) -> Account:
        """A bill's stock line posts to inventory (what its units are worth); any other line
        to the account it names, else its item's, else the role's."""
        if not self.outgoing and line.move is not None:
            return require_role(accounts, AccountRole.INVENTORY)
        if line.account is not None:
            return line.account
        role = AccountRole.SALES if self.outgoing else AccountRole.PURCHASES
        item_account = f"{'sales' if self.outgoing else 'purchase'}_account"
        return getattr(line.item, item_account, None) or require_role(accounts, role)


INVOICE = DocumentKind(
    Invoice, InvoiceLine, "customer", "INV", JournalSource.INVOICE, "invoice_line", True
)
BILL = DocumentKind(Bill, BillLine, "supplier", "BILL", JournalSource.BILL, "bill_line", False)


def stock_pairs(draft: TradeDocumentDraft, default_location) -> set[tuple[int, int]]:
    """The (item id, location id) pairs the draft's stock lines move."""
    return {
        (line.item.pk, (line.location or default_location).pk)
        for line in draft.stock_lines
        if line.location or default_location
    }


def move_stock(
    kind: DocumentKind,
    levels: StockLevels,
    draft: TradeDocumentDraft,
    *,
    default_location,
    allow_negative: bool,
) -> None:
    """Move the draft's stock lines on `levels`, in line order, setting each line's location
    and move: an invoice issues at the moving average, a bill receives its net amount.
    Raises LineShortage naming the first line short of stock."""
    for position, line in enumerate(draft.lines):
        if not line.moves_stock:
            line.move = None
            continue
        line.location = line.location or default_location
        if line.location is None:
            raise NoLocation(position)
        try:
            if kind.outgoing:
                line.move = levels.issue(
                    line.item, line.location, line.quantity, allow_negative=allow_negative
                )
            else:
                line.move = levels.receive(line.item, line.location, line.quantity, line.amount)
        except StockShortage as shortage:
            raise LineShortage(position, shortage.on_hand) from shortage


def undo_stock(levels: StockLevels, moves: Iterable[StockMove], *, allow_negative: bool):
    """Undo a document's moves; returns the undoing moves. Raises StockShortage when units a
    bill brought in have gone since."""
    return [levels.undo(move, allow_negative=allow_negative) for move in moves]


class NoLocation(LookupError):
    """A stock line names no location and the company has none."""

    def __init__(self, position: int):
        super().__init__(f"line {position + 1} has no location to move stock at")
        self.position = position


class LineShortage(ValueError):
    def __init__(self, position: int, on_hand: Decimal):
        super().__init__(f"line {position + 1}: only {on_hand.normalize():f} on hand")
        self.position = position
        self.on_hand = on_hand


def create_invoices(*, company: Company, drafts: list[TradeDocumentDraft]) -> list[Invoice]:
    return _create_documents(company=company, kind=INVOICE, drafts=drafts)


def create_bills(*, company: Company, drafts: list[TradeDocumentDraft]) -> list[Bill]:
    return _create_documents(company=company, kind=BILL, drafts=drafts)


def _create_documents(*, company: Company, kind: DocumentKind, drafts: list[TradeDocumentDraft]):
    """Number, total, move stock, post and write the documents; call inside a transaction."""
    if not drafts:
        return []
    levels, default_location = _open_stock(company=company, drafts=drafts, old_moves={})
    for draft in drafts:
        move_stock(
            kind,
            levels,
            draft,
            default_location=default_location,
            allow_negative=company.allow_negative_stock,
        )
    accounts = posting_accounts(company=company)
    journals = post_journal_entries(
        company=company, drafts=[kind.posting(accounts, draft) for draft in drafts]
    )
    numbers = document_numbers(company=company, kind=kind, drafts=drafts)
    documents = [
        kind.model(
            company=company,
            number=number,
            date=draft.date,
            due_date=draft.due_date,
            reference=draft.reference,
            notes=draft.notes,
            external_id=draft.external_id,
            subtotal=draft.subtotal,
            tax_total=draft.tax_total,
            total=draft.total,
            journal_entry=journal,
            **{kind.party_field: draft.party},
        )
        for number, draft, journal in zip(numbers, drafts, journals, strict=True)
    ]
    kind.model.objects.bulk_create(documents)
    lines = _insert_lines(company=company, kind=kind, documents=documents, drafts=drafts)
    _record_stock(company=company, kind=kind, levels=levels, moves=_line_moves(lines, drafts))
    return documents


def document_numbers(*, company: Company, kind: DocumentKind, drafts) -> list[str]:
    """Each draft's number: the one it keeps from another system, else the next of the
    sequence — skipping numbers documents already keep."""
    kept = {draft.number for draft in drafts if draft.number}
    needed = sum(1 for draft in drafts if not draft.number)
    issued: list[str] = []
    while len(issued) < needed:
        candidates = allocate_numbers(
            company=company, prefix=kind.number_prefix, width=6, count=needed - len(issued)
        )
        taken = kept | set(
            kind.model.objects.for_company(company)
            .filter(number__in=candidates)
            .values_list("number", flat=True)
        )
        issued += [number for number in candidates if number not in taken]
    fresh = iter(issued)
    return [draft.number or next(fresh) for draft in drafts]


def _open_stock(*, company: Company, drafts, old_moves: dict[int, list[StockMove]]):
    """The locked stock levels the drafts (and the moves they undo) touch, and the default
    location; (levels, None) when no line moves stock."""
    book = stock_book()
    stocked = any(draft.stock_lines for draft in drafts)
    default_location = book.default_location(company=company) if stocked else None
    pairs = {pair for draft in drafts for pair in stock_pairs(draft, default_location)}
    pairs |= {(m.item.pk, m.location.pk) for moves in old_moves.values() for m in moves}
    return book.levels(company=company, pairs=pairs, lock=True), default_location


def _line_moves(lines: list, drafts) -> list[tuple]:
    """(written line, its move, document number) for every line that moved stock."""
    drafted = [line for draft in drafts for line in draft.lines]
    return [
        (line, draft_line.move, "")
        for line, draft_line in zip(lines, drafted, strict=True)
        if draft_line.move is not None
    ]


def _record_stock(*, company: Company, kind: DocumentKind, levels, moves: list[tuple]) -> None:
    moves = [
        (line, move, reference or getattr(line, kind.document_field).number)
        for line, move, reference in moves
    ]
    stock_book().record(company=company, levels=levels, line_field=kind.line_field, moves=moves)


def _insert_lines(*, company, kind: DocumentKind, documents, drafts) -> list:
    return kind.line_model.objects.bulk_create(
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
            account=line.account,
            location=line.location if line.move else None,
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
    """Replace the documents' lines and header, recompute totals, undo the old lines' stock
    movements and move stock for the new ones, and, where the posting changes, post a
    reversal of the old entry and a new entry.

    Pass documents read under a row lock in this transaction; a paid one is refused."""
    if not changes:
        return []
    for change in changes:
        if change.document.amount_paid:
            raise DocumentPaid(f"{change.document.number} has payments and cannot be changed")
    documents = [change.document for change in changes]
    drafts = [change.draft for change in changes]
    old_moves = stock_book().moves_of(
        company=company,
        line_field=kind.line_field,
        document_field=kind.document_field,
        document_ids=[document.pk for document in documents],
    )
    levels, default_location = _open_stock(company=company, drafts=drafts, old_moves=old_moves)
    allow_negative = company.allow_negative_stock
    undone = []
    for document, draft in zip(documents, drafts, strict=True):
        moves = old_moves.get(document.pk, ())
        for move in undo_stock(levels, moves, allow_negative=allow_negative):
            undone.append((None, move, document.number))
        move_stock(
            kind, levels, draft, default_location=default_location, allow_negative=allow_negative
        )
    _repost(company=company, kind=kind, changes=changes)
    stock_book().release(
        company=company,
        line_field=kind.line_field,
        document_field=kind.document_field,
        document_ids=[document.pk for document in documents],
    )
    kind.line_model.objects.filter(**{f"{kind.document_field}__in": documents}).delete()
    lines = _insert_lines(company=company, kind=kind, documents=documents, drafts=drafts)
    _record_stock(
        company=company, kind=kind, levels=levels, moves=undone + _line_moves(lines, drafts)
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
    "external_id",
    "subtotal",
    "tax_total",
    "total",
    "journal_entry",
    "updated_at",
]


def _repost(*, company: Company, kind: DocumentKind, changes: list[TradeDocumentChange]):
    """Post, per document whose posting changes, the reversal of its current entry then its
    new entry; the new entry becomes the document's. The reversal is dated as the entry it
    reverses, so every period reads as if the document had always said what it says now."""
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
    reposted: list[tuple[TradeDocumentChange, JournalDraft]] = []
    for change in changes:
        posting = kind.posting(accounts, change.draft)
        lines = old_lines.get(change.document.journal_entry_id)
        if lines and not _posting_differs(posting, lines):
            continue
        if lines:
            drafts.append(_reversal(kind, change.document, lines))
        drafts.append(posting)
        reposted.append((change, posting))
    if drafts:
        post_journal_entries(company=company, drafts=drafts)
    for change, posting in reposted:
        change.document.journal_entry = posting.entry


def _posting_differs(posting: JournalDraft, lines: list[JournalLine]) -> bool:
    """Whether the new posting says something the current entry does not (date, accounts or
    amounts); a changed reference or note alone is not worth a reversal."""
    new = Counter(
        (line.account.pk, line.debit, line.credit)
        for line in posting.lines
        if line.debit or line.credit
    )
    old = Counter((line.account_id, line.debit, line.credit) for line in lines)
    return posting.date != lines[0].entry.date or new != old


def _apply_header(kind: DocumentKind, document, draft: TradeDocumentDraft, now) -> None:
    setattr(document, kind.party_field, draft.party)
    document.date = draft.date
    document.due_date = draft.due_date
    document.reference = draft.reference
    document.notes = draft.notes
    document.external_id = draft.external_id
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
