"""Trade documents in batches: create, and update while nothing is paid.

One class serves invoices and bills (declared in invoices.py and bills.py); they differ only
in the party (customer or supplier), the JSON names (invoiceDate / billDate …) and the
services that write them. A batch loads its parties, items, locations, accounts, tax codes,
the documents it updates, their stock movements and the stock levels it moves with one query
each, validates in memory in request order — stock too, so two invoices of one batch see
each other's units go — and writes with one create call and one update call."""

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from django.db import DatabaseError

from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.fields import Detail, Field, ListOf, Schema
from batch.engine.handlers import Handler, ReferenceIndex
from batch.engine.parsers import LATEST_DATE, MAX_AMOUNT, Date, Money, Quantity, Reference, Text
from batch.engine.records import Record
from batch.files.templates import template_list

from ..catalog import StockShortage, item_model, stock_book
from ..models import Account, AccountRole, Status, TaxCode
from ..services.documents import (
    DocumentKind,
    LineShortage,
    NoLocation,
    TradeDocumentChange,
    TradeDocumentDraft,
    TradeLineDraft,
    move_stock,
    undo_stock,
)
from .postings import header_problems, manual_posting_problems, with_header_flag
from .references import Problems, check_date, find_reference, refs_of

MAX_LINES = 500

LINE = Schema(
    {
        "itemId": Field(Reference()),
        "itemCode": Field(Reference()),
        "locationId": Field(Reference()),
        "locationCode": Field(Reference()),
        "accountId": Field(Reference()),
        "accountCode": Field(Reference()),
        "description": Field(Text(500)),
        "quantity": Field(Quantity(positive=True), required=True),
        "unitPrice": Field(Money(what="Unit price"), required=True),
        "taxCode": Field(Reference(), required=True),
    }
)

CLIENT_TOTALS = {"subtotal": "subtotal", "taxTotal": "tax_total", "total": "total"}


class TradeDocumentHandler(Handler):
    operations = frozenset({"create", "update"})
    max_records = 100
    party_model: ClassVar[type]
    party_what: ClassVar[str]  # "Customer"
    party_params: ClassVar[tuple[str, str]]  # ("customerId", "customerNumber")
    date_param: ClassVar[str]  # "invoiceDate"
    number_param: ClassVar[str]  # "invoiceNumber"
    what: ClassVar[str]  # "Invoice"
    kind: ClassVar[DocumentKind]
    create_documents: ClassVar[Callable]
    update_documents: ClassVar[Callable]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.parties = self.items = self.tax_codes = self.documents = None
        self.locations = self.accounts = self.levels = self.default_location = None
        self.old_moves: dict[int, list] = {}  # document pk -> what its lines moved
        self.numbers_taken: set[str] = set()  # numbers creates keep, in the database or batch
        self.kept_lines: dict[int, list[TradeLineDraft]] = {}
        self.changes: dict[int, TradeDocumentChange] = {}  # document pk -> staged update
        self.exposure: dict[int, Decimal] = {}  # customer pk -> what they would owe

    @classmethod
    def template_lists(cls, company) -> dict[str, list[str]]:
        parties = cls.party_model.objects.for_company(company).filter(status=Status.ACTIVE)
        items = item_model().objects.for_company(company).filter(active=True)
        tax_codes = TaxCode.objects.for_company(company).filter(active=True)
        return {
            cls.party_params[1]: template_list(parties, "number"),
            "itemCode": template_list(items, "item_code"),
            "taxCode": template_list(tax_codes, "code"),
        }

    # Load ----------------------------------------------------------------------------------

    def load(self, records: list[Record]) -> None:
        values = [record.values for record in records]
        lines = [line for v in values for line in v.get("items") or ()]
        self.parties = ReferenceIndex(
            self.scoped(self.party_model), "number", refs_of(values, self.party_params)
        )
        self.items = ReferenceIndex(
            self.scoped(item_model()),
            "item_code",
            refs_of(lines, ("itemId", "itemCode")),
            select_related=("sales_account", "purchase_account"),
        )
        self.locations = ReferenceIndex(
            self.scoped(stock_book().location_model()),
            "code",
            refs_of(lines, ("locationId", "locationCode")),
        )
        self.accounts = ReferenceIndex(
            with_header_flag(self.scoped(Account)),
            "code",
            refs_of(lines, ("accountId", "accountCode")),
        )
        self.tax_codes = ReferenceIndex(self.scoped(TaxCode), "code", refs_of(lines, ("taxCode",)))
        self.load_numbers([r.values for r in records if r.operation == "create"])
        self.load_documents([r.values for r in records if r.operation == "update"])
        self.load_exposure()
        self.load_stock()

    def load_numbers(self, values: list[dict]) -> None:
        """Which of the numbers creates keep from another system are already taken."""
        kept = refs_of(values, (self.number_param,))
        if kept:
            taken = self.scoped().filter(number__in=kept).values_list("number", flat=True)
            self.numbers_taken = set(taken)

    def load_stock(self) -> None:
        """The stock levels the batch may move — read, and locked unless validateOnly — with
        the default location and what the updated documents' lines moved."""
        book = stock_book()
        self.old_moves = book.moves_of(
            company=self.company,
            line_field=self.kind.line_field,
            document_field=self.kind.document_field,
            document_ids={document.pk for document in self.documents.by_ref.values()},
        )
        kept = [line for lines in self.kept_lines.values() for line in lines]
        items = {item for item in self.items.by_ref.values() if book.holds_stock(item)}
        items |= {line.item for line in kept if line.item and book.holds_stock(line.item)}
        if items:
            self.default_location = book.default_location(company=self.company)
        locations = set(self.locations.by_ref.values()) | {self.default_location}
        pairs = {(item.pk, loc.pk) for item in items for loc in locations if loc is not None}
        pairs |= {(line.item.pk, line.location.pk) for line in kept if line.location}
        pairs |= {(m.item.pk, m.location.pk) for ms in self.old_moves.values() for m in ms}
        self.levels = book.levels(
            company=self.company, pairs=pairs, lock=not self.ctx.options.validate_only
        )

    def load_documents(self, values: list[dict]) -> None:
        documents = self.scoped()
        if not self.ctx.options.validate_only:
            # Held until the batch commits: no payment can land between check and write.
            documents = documents.select_for_update(of=("self",))
        self.documents = ReferenceIndex(
            documents,
            "number",
            refs_of(values, ("id", self.number_param)),
            select_related=(self.kind.party_field,),
        )
        pks = {row.pk for row in self.documents.by_ref.values()}
        if not pks:
            return
        document_id = f"{self.kind.document_field}_id"
        for line in (
            self.scoped(self.kind.line_model)
            .filter(**{f"{document_id}__in": pks})
            .select_related(
                "tax_code",
                "item__sales_account",
                "item__purchase_account",
                "account",
                "location",
            )
            .order_by("line_number")
        ):
            self.kept_lines.setdefault(getattr(line, document_id), []).append(
                TradeLineDraft(
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    tax_code=line.tax_code,
                    description=line.description,
                    item=line.item,
                    tax_rate=line.tax_rate,
                    account=line.account,
                    location=line.location,
                    before_stock=line.location_id is None,
                )
            )

    def load_exposure(self) -> None:
        """Hook: what customers with a credit limit owe on open invoices (invoices only)."""

    # Validate ------------------------------------------------------------------------------

    def validate_create(self, record: Record) -> None:
        values, problems = record.values, Problems()
        number = values.get(self.number_param)
        if number and number in self.numbers_taken:
            self.duplicate_number(record, number)
            return
        party, party_param = find_reference(
            self.parties, values, self.party_params, self.party_what, problems
        )
        if party_param is None:
            message = f"{self.party_params[0]} or {self.party_params[1]} is required."
            problems.invalid.append(Detail(self.party_params[0], message, FieldCode.REQUIRED))
        lines = self.resolve_lines(values["items"], problems)
        if party is not None:
            self.check_party(party, party_param, problems)
        document_date = values[self.date_param]
        check_date(self.ctx, document_date, self.date_param, problems)
        if problems.missing or party is None:
            problems.reported(record)
            return
        due_date = values.get("dueDate") or self.due_by_terms(document_date, party, problems)
        if due_date is None:
            problems.reported(record)
            return
        draft = TradeDocumentDraft(
            party=party,
            date=document_date,
            due_date=due_date,
            lines=lines,
            reference=values.get("reference") or "",
            notes=values.get("notes") or "",
            number=number or None,
        )
        self.check_draft(draft, values, problems)
        if problems.reported(record) or not self.stock_moves(record, draft):
            return
        if number:
            self.numbers_taken.add(number)
        self.on_staged(record, draft, replaced=None)
        record.target = draft

    def validate_update(self, record: Record) -> None:
        document = self.find(record)
        if document is None:
            return
        if document.amount_paid:
            record.fail(
                ErrorCode.CONFLICT,
                f"{self.what} {document.number} has {document.amount_paid} paid against it "
                "and can no longer be updated.",
            )
            return
        change = self.changes.get(document.pk)
        current = change.draft if change else self.as_draft(document)
        draft, problems = self.updated_draft(record.values, current)
        if draft is not None:
            self.check_draft(draft, record.values, problems)
        if problems.reported(record) or not self.stock_moves(record, draft, document):
            return
        self.on_staged(record, draft, replaced=current)
        if change is None:
            change = self.changes[document.pk] = TradeDocumentChange(document, draft)
        change.draft = draft
        record.target = change

    def stock_moves(self, record: Record, draft: TradeDocumentDraft, document=None) -> bool:
        """Move the draft's stock on the batch's levels (an update first undoes what the
        document moved so far); False, with the record failed and the levels as they were,
        when the stock is not there."""
        checkpoint = self.levels.checkpoint()
        allow_negative = self.company.allow_negative_stock
        try:
            if document is not None:
                moves = self.old_moves.get(document.pk, ())
                undo_stock(self.levels, moves, allow_negative=allow_negative)
            move_stock(
                self.kind,
                self.levels,
                draft,
                default_location=self.default_location,
                allow_negative=allow_negative,
            )
        except LineShortage as shortage:
            self.levels.restore(checkpoint)
            line = draft.lines[shortage.position]
            self.reject(
                record,
                f"items[{shortage.position}].quantity",
                f"Only {shortage.on_hand.normalize():f} of {line.item.item_code} on hand at "
                f"{line.location.code}; cannot take out {line.quantity.normalize():f}.",
                FieldCode.INSUFFICIENT_STOCK,
            )
            return False
        except StockShortage as shortage:
            self.levels.restore(checkpoint)
            self.reject(
                record,
                "items",
                f"Units this {self.what.lower()} brought in have gone out since (only "
                f"{shortage.on_hand.normalize():f} on hand); its lines cannot change.",
                FieldCode.INSUFFICIENT_STOCK,
            )
            return False
        except NoLocation as missing:
            self.levels.restore(checkpoint)
            message = "No location to move stock at: name one, or add a location."
            self.reject(
                record, f"items[{missing.position}].locationCode", message, FieldCode.REQUIRED
            )
            return False
        if document is not None:
            self.old_moves[document.pk] = [line.move for line in draft.lines if line.move]
        return True

    def find(self, record: Record):
        ref = record.values.get("id") or record.values.get(self.number_param)
        if not ref:
            message = f"id or {self.number_param} is required for update."
            self.reject(record, "id", message, FieldCode.REQUIRED)
            return None
        document = self.documents.get(ref)
        if document is None:
            record.fail(ErrorCode.NOT_FOUND, f"{self.what} '{ref}' not found.", field="id")
        return document

    def as_draft(self, document) -> TradeDocumentDraft:
        return TradeDocumentDraft(
            party=getattr(document, self.kind.party_field),
            date=document.date,
            due_date=document.due_date,
            lines=list(self.kept_lines.get(document.pk, [])),
            reference=document.reference,
            notes=document.notes,
        )

    def updated_draft(self, values: dict, current: TradeDocumentDraft):
        """The document with what the record sent applied; rules apply to what was sent.
        A new date or party without a dueDate moves the due date to date + payment terms."""
        problems = Problems()
        party, party_param = find_reference(
            self.parties, values, self.party_params, self.party_what, problems
        )
        if party is not None:
            self.check_party(party, party_param, problems)
        lines = current.lines
        if values.get("items"):
            lines = self.resolve_lines(values["items"], problems)
        document_date = values.get(self.date_param) or current.date
        if values.get(self.date_param):
            check_date(self.ctx, document_date, self.date_param, problems)
        if problems.missing or (party_param and party is None):
            return None, problems
        party = party or current.party
        due_date = values.get("dueDate")
        if due_date is None:
            moved = document_date != current.date or party is not current.party
            if moved:
                due_date = self.due_by_terms(document_date, party, problems)
            else:
                due_date = current.due_date
            if due_date is None:
                return None, problems
        draft = TradeDocumentDraft(
            party=party,
            date=document_date,
            due_date=due_date,
            lines=lines,
            reference=text_value(values, "reference", current.reference),
            notes=text_value(values, "notes", current.notes),
        )
        return draft, problems

    def resolve_lines(self, raw_lines: list[dict], problems: Problems) -> list[TradeLineDraft]:
        lines = []
        for position, values in enumerate(raw_lines):
            path = f"items[{position}]."
            item, item_param = find_reference(
                self.items, values, ("itemId", "itemCode"), "Item", problems, path
            )
            tax_code, _ = find_reference(
                self.tax_codes, values, ("taxCode",), "Tax code", problems, path
            )
            location, location_param = find_reference(
                self.locations, values, ("locationId", "locationCode"), "Location", problems, path
            )
            account, account_param = find_reference(
                self.accounts, values, ("accountId", "accountCode"), "Account", problems, path
            )
            if location is not None and not location.active:
                message = f"Location {location.code} is inactive."
                problems.invalid.append(Detail(path + location_param, message, FieldCode.INACTIVE))
            if account is not None:
                problems.invalid.extend(self.account_problems(account, item, path + account_param))
            description = values.get("description") or (item.name if item else "")
            if item_param is None and not description:
                message = "A line without an item needs a description."
                problems.invalid.append(Detail(path + "description", message, FieldCode.REQUIRED))
            if item is not None and not item.active:
                message = f"Item {item.item_code} is inactive."
                problems.invalid.append(Detail(path + item_param, message, FieldCode.INACTIVE))
            if tax_code is not None and not tax_code.active:
                message = f"Tax code {tax_code.code} is inactive."
                problems.invalid.append(Detail(path + "taxCode", message, FieldCode.INACTIVE))
            if tax_code is not None:
                lines.append(
                    TradeLineDraft(
                        quantity=values["quantity"],
                        unit_price=values["unitPrice"],
                        tax_code=tax_code,
                        description=description,
                        item=item,
                        account=account,
                        location=location,
                    )
                )
        return lines

    def account_problems(self, account: Account, item, field: str) -> list[Detail]:
        """A line's own account must be active and take postings (no header); a bill's
        stock line posts to inventory, and no other line may name a control account, whose
        balance must stay what its documents say."""
        if not account.active:
            return [Detail(field, f"Account {account.code} is inactive.", FieldCode.INACTIVE)]
        stocked = item is not None and stock_book().holds_stock(item)
        if stocked and not self.kind.outgoing:
            if account.role == AccountRole.INVENTORY:
                return header_problems(account, field)
            message = (
                f"A bill line for stock item {item.item_code} posts to the inventory account; "
                f"it cannot post to {account.code}."
            )
            return [Detail(field, message, FieldCode.INVALID_VALUE)]
        return manual_posting_problems(account, field)

    def check_party(self, party, param: str, problems: Problems) -> None:
        if party.status != Status.ACTIVE:
            message = f"{self.party_what} {party.number} is inactive."
            problems.invalid.append(Detail(param, message, FieldCode.INACTIVE))

    def due_by_terms(self, document_date: datetime.date, party, problems: Problems):
        """The document date plus the party's payment terms; None, with the problem noted,
        when that is past the latest date the API takes (a legacy document may be dated
        anywhere Python's calendar reaches)."""
        terms = datetime.timedelta(days=party.payment_terms)
        if document_date <= LATEST_DATE - terms:
            return document_date + terms
        message = (
            f"{self.date_param} {document_date} plus {party.payment_terms} days of payment "
            f"terms is after {LATEST_DATE}, the latest date accepted; send a dueDate."
        )
        problems.invalid.append(Detail("dueDate", message, FieldCode.INVALID_DATE))
        return None

    def check_draft(self, draft: TradeDocumentDraft, values: dict, problems: Problems) -> None:
        if draft.due_date < draft.date:
            message = f"dueDate {draft.due_date} is before {self.date_param} {draft.date}."
            problems.invalid.append(Detail("dueDate", message, FieldCode.INVALID_DATE))
        if values.get("items"):  # new lines: amounts within MAX_AMOUNT (kept ones stay)
            oversized = amount_problems(draft)
            if oversized:  # the totals cannot even be computed in cents
                problems.invalid.extend(oversized)
                return
            if draft.total > MAX_AMOUNT:
                message = f"The {self.what.lower()} total {draft.total} is over {MAX_AMOUNT}."
                problems.invalid.append(Detail("total", message, FieldCode.INVALID_AMOUNT))
        if draft.total <= 0:
            message = f"The {self.what.lower()} total must be positive; its lines add up to 0."
            problems.invalid.append(Detail("total", message, FieldCode.INVALID_AMOUNT))
        for param, attr in CLIENT_TOTALS.items():
            sent = values.get(param)
            if sent is not None and sent != getattr(draft, attr):
                message = f"{param} {sent} does not match the computed {getattr(draft, attr)}."
                problems.invalid.append(Detail(param, message, FieldCode.TOTAL_MISMATCH))

    def on_staged(self, record: Record, draft, *, replaced) -> None:
        """Hook: a document passed; `replaced` is what it said before (None for a create)."""

    # Write ---------------------------------------------------------------------------------

    def write(self, records: list[Record]) -> None:
        try:
            self.write_documents(records)
        except (LineShortage, StockShortage, NoLocation) as error:
            # Cannot happen: load() locked these levels. Should it, fail the write like any
            # database error, so the executor undoes it and reports it.
            raise DatabaseError(f"stock moved under a lock: {error}") from error

    def write_documents(self, records: list[Record]) -> None:
        creates = [record for record in records if record.operation == "create"]
        documents = type(self).create_documents(
            company=self.company, drafts=[record.target for record in creates]
        )
        for record, document in zip(creates, documents, strict=True):
            record.data = self.result_data(document)
        updates = [record for record in records if record.operation == "update"]
        changes = list({id(record.target): record.target for record in updates}.values())
        type(self).update_documents(company=self.company, changes=changes)
        for record in updates:
            record.data = self.result_data(record.target.document)

    def find_conflicts(self, records: list[Record]) -> bool:
        """A kept number another batch stored since load() read them: the unique constraint
        refused it; that record is a DUPLICATE_ERROR and the others are written again."""
        kept = {r.target.number: r for r in records if r.operation == "create" and r.target.number}
        if not kept:
            return False
        taken = self.scoped().filter(number__in=kept).values_list("number", flat=True)
        for number in taken:
            self.duplicate_number(kept[number], number)
        return bool(taken)

    def duplicate_number(self, record: Record, number: str) -> None:
        message = f"{self.what} number '{number}' already exists."
        record.fail(
            ErrorCode.DUPLICATE_ERROR,
            message,
            field=self.number_param,
            details=[Detail(self.number_param, message, FieldCode.DUPLICATE)],
        )

    def result_data(self, document) -> dict:
        return {
            "id": document.public_id,
            "number": document.number,
            self.number_param: document.number,
            "total": document.total,
            "status": document.status,
        }


def amount_problems(draft: TradeDocumentDraft) -> list[Detail]:
    """Lines whose quantity × unit price is over MAX_AMOUNT, blamed on their unit price."""
    return [
        Detail(
            f"items[{position}].unitPrice",
            f"quantity × unitPrice must be at most {MAX_AMOUNT}.",
            FieldCode.INVALID_AMOUNT,
        )
        for position, line in enumerate(draft.lines)
        if line.quantity * line.unit_price > MAX_AMOUNT
    ]


def text_value(values: dict, param: str, current: str) -> str:
    if param not in values:
        return current
    return values[param] or ""


def document_schema(party_params, date_param: str, number_param: str, *, update: bool):
    """A create may keep the number a document had in another system; an update finds the
    document by its id or number."""
    fields = {
        **{param: Field(Reference()) for param in party_params},
        date_param: Field(Date(), required=True),
        "dueDate": Field(Date()),
        "reference": Field(Text(100)),
        "notes": Field(Text(5000)),
        "items": ListOf(LINE, min_items=1, max_items=MAX_LINES, required=True),
        "subtotal": Field(Money(what="subtotal")),
        "taxTotal": Field(Money(what="taxTotal")),
        "total": Field(Money(what="total")),
    }
    if update:
        fields.update({"id": Field(Reference()), number_param: Field(Reference())})
    else:
        fields[number_param] = Field(Text(20, blank=False))
    return Schema(fields)
