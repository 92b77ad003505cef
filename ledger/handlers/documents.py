"""Trade documents in batches: create, upsert, and update while nothing is paid.

One class serves invoices and bills (declared in invoices.py and bills.py); they differ only
in the party (customer or supplier), the JSON names (invoiceDate / billDate …) and the
services that write them. A batch loads its parties, items, locations, accounts, tax codes,
the documents it updates, their stock movements and the stock levels it moves with one query
each, validates in memory in request order — stock too, so two invoices of one batch see
each other's units go — and writes with one create call and one update call.

An update names its document by `id`, else `externalId`, else the number. An upsert is
matched by `id`, else by externalId, else by the number (or what options.matchOn names):
matched, it is an update; unmatched, a create. A document created earlier in the batch can
be updated by its externalId or kept number: the later record changes what the earlier one
creates. An update that would leave the document as it is is `unchanged` and writes
nothing — even on a paid document, so re-sending a sync is harmless (docs/api.md)."""

import dataclasses
import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from django.db import DatabaseError
from django.db.models import Q

from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.codes import Status as Outcome
from batch.engine.fields import Detail, Field, ListOf, Schema
from batch.engine.handlers import EXTERNAL_ID, Handler, ReferenceIndex, is_external, split_refs
from batch.engine.locks import lock_keys
from batch.engine.parsers import (
    LATEST_DATE,
    MAX_AMOUNT,
    Date,
    ExternalId,
    ExternalReference,
    Money,
    Quantity,
    Reference,
    Text,
)
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
        "itemExternalId": Field(ExternalReference()),
        "accountExternalId": Field(ExternalReference()),
        "description": Field(Text(500)),
        "quantity": Field(Quantity(positive=True), required=True),
        "unitPrice": Field(Money(what="Unit price"), required=True),
        "taxCode": Field(Reference(), required=True),
    }
)

ITEM_PARAMS = ("itemId", "itemCode", "itemExternalId")
ACCOUNT_PARAMS = ("accountId", "accountCode", "accountExternalId")
LOCATION_PARAMS = ("locationId", "locationCode")

CLIENT_TOTALS = {"subtotal": "subtotal", "taxTotal": "tax_total", "total": "total"}


class TradeDocumentHandler(Handler):
    operations = frozenset({"create", "update", "upsert"})
    max_records = 100
    party_model: ClassVar[type]
    party_what: ClassVar[str]  # "Customer"
    # ("customerId", "customerNumber", "customerExternalId")
    party_params: ClassVar[tuple[str, str, str]]
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
        # (externalId or number param, value) -> the record of this batch creating it.
        self.staged: dict[tuple[str, str], Record] = {}
        # externalId -> who holds it: ("document", pk) or ("record", id of a creating record).
        self.external_ids: dict[str, tuple] = {}
        # (updating record, what it changed, the draft before): undone when it is discarded.
        self.history: list[tuple[Record, Any, TradeDocumentDraft | None]] = []
        self.snapshots: list[tuple[Any, dict]] = []  # documents as they were before write

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
        upserts = [record for record in records if record.operation == "upsert"]
        if upserts and not self.ctx.options.validate_only:
            lock_keys(f"{self.company.pk}:{self.entity}", self.upsert_keys(upserts))
        values = [record.values for record in records]
        lines = [line for v in values for line in v.get("items") or ()]
        self.parties = index(self.scoped(self.party_model), "number", values, self.party_params)
        self.items = index(
            self.scoped(item_model()),
            "item_code",
            lines,
            ITEM_PARAMS,
            select_related=("sales_account", "purchase_account"),
        )
        locations = self.scoped(stock_book().location_model())
        self.locations = index(locations, "code", lines, LOCATION_PARAMS)
        accounts = with_header_flag(self.scoped(Account))
        self.accounts = index(accounts, "code", lines, ACCOUNT_PARAMS)
        self.tax_codes = ReferenceIndex(self.scoped(TaxCode), "code", refs_of(lines, ("taxCode",)))
        creating = [r.values for r in records if r.operation in ("create", "upsert")]
        self.load_taken(creating, values)
        self.load_documents([r.values for r in records if r.operation in ("update", "upsert")])
        self.load_exposure()
        self.load_stock()

    def upsert_keys(self, records: list[Record]) -> set[str]:
        """What the batch's upserts may match on, to lock (batch.engine.locks): two batches
        upserting one key serialize, so the second updates what the first created."""
        return {
            f"{param}={value}"
            for record in records
            for param in (EXTERNAL_ID, self.number_param)
            if (value := record.values.get(param))
        }

    def load_taken(self, creating: list[dict], values: list[dict]) -> None:
        """In one query: which numbers creates (and upserts, should they create) keep from
        another system are taken, and which documents hold the externalIds the batch sets."""
        kept = refs_of(creating, (self.number_param,))
        external = refs_of(values, (EXTERNAL_ID,))
        if not kept and not external:
            return
        rows = self.scoped().filter(Q(number__in=kept) | Q(external_id__in=external))
        for number, external_id, pk in rows.values_list("number", "external_id", "pk"):
            if number in kept:
                self.numbers_taken.add(number)
            if external_id in external:
                self.external_ids[external_id] = ("document", pk)

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
        self.documents = index(
            documents,
            "number",
            values,
            ("id", self.number_param, EXTERNAL_ID),
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
        external_id = values.get(EXTERNAL_ID)
        if not self.external_id_free(record, external_id, ("record", id(record))):
            return
        party, party_param = find_reference(
            self.parties, values, self.party_params, self.party_what, problems
        )
        if party_param is None:
            names = self.party_params
            message = f"{', '.join(names[:-1])} or {names[-1]} is required."
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
            external_id=external_id,
        )
        self.check_draft(draft, values, problems)
        if problems.reported(record) or not self.stock_moves(record, draft, ()):
            return
        self.old_moves[("record", id(record))] = moves_of(draft)
        if number:
            self.numbers_taken.add(number)
            self.staged[(self.number_param, number)] = record
        self.hold_external_id(record, None, external_id)
        self.on_staged(record, draft, replaced=None, origin=record)
        record.target = draft

    def validate_update(self, record: Record) -> None:
        subject = self.find(record)
        if subject is not None:
            self.stage_update(record, subject)

    def validate_upsert(self, record: Record) -> None:
        if record.values.get("id"):
            subject = self.find(record)  # our id names a document that exists, or nothing
            if subject is None:
                return
        else:
            subject = self.match(record)
        if subject is None:
            if self.clean_for_create(record):
                self.validate_create(record)
            return
        record.applied = "update"
        self.stage_update(record, subject)

    def match(self, record: Record):
        """The document an upsert without an id is for, by each field of match_order() in
        turn: a stored one, the record of this batch creating it, or None."""
        for param in self.match_order():
            value = record.values.get(param)
            if value:
                subject = self.located(param, value)
                if subject is not None:
                    return subject
        return None

    def stage_update(self, record: Record, subject) -> None:
        """Apply what the record sends to `subject` — a stored document or the record of
        this batch creating one — as the batch left it so far. Nothing to change makes it
        `unchanged`; anything to change on a paid document is a CONFLICT."""
        if isinstance(subject, Record):
            document, change, current = None, None, subject.target
            owner, number = ("record", id(subject)), current.number
        else:
            document, change = subject, self.changes.get(subject.pk)
            current = change.draft if change else self.as_draft(document)
            owner, number = ("document", document.pk), document.number
        values = record.values
        sent_number = values.get(self.number_param)
        if sent_number and sent_number != number:
            message = (
                f"{self.number_param} '{sent_number}' is not the number of the "
                f"{self.what.lower()} this {record.operation} is for "
                f"({number or 'numbered when written'}); a number cannot change."
            )
            self.reject(record, self.number_param, message, FieldCode.INVALID_VALUE)
            return
        draft, problems = self.updated_draft(values, current)
        if draft is not None:
            self.check_draft(draft, values, problems)
        found = bool(problems.missing or problems.invalid)
        unchanged = (
            draft is not None and not found and same_document(current, draft, self.default_location)
        )
        if document is not None and document.amount_paid and not unchanged:
            record.fail(
                ErrorCode.CONFLICT,
                f"{self.what} {document.number} has {document.amount_paid} paid against it "
                "and can no longer be updated.",
            )
            return
        if problems.reported(record):
            return
        if unchanged:
            record.applied = "unchanged"  # nothing to write, nothing to tell the feed
            record.target = change or subject
            return
        if not self.external_id_free(record, draft.external_id, owner, current.external_id):
            return
        moves_key = document.pk if document is not None else owner
        if not self.stock_moves(record, draft, self.old_moves.get(moves_key, ())):
            return
        self.old_moves[moves_key] = moves_of(draft)
        self.hold_external_id(subject, current.external_id, draft.external_id)
        self.on_staged(record, draft, replaced=current, origin=subject)
        if document is None:  # a document this batch creates: it is created as it now reads
            self.history.append((record, subject, current))
            subject.target = draft
            record.target = subject
            return
        self.history.append((record, change, current if change else None))
        if change is None:
            change = self.changes[document.pk] = TradeDocumentChange(document, draft)
        change.draft = draft
        record.target = change

    def external_id_free(self, record: Record, external_id, owner: tuple, current=None) -> bool:
        """False, with the record a DUPLICATE_ERROR, when another document — stored, or
        created or updated earlier in the batch — holds the externalId it would take."""
        if not external_id or external_id == current:
            return True
        holder = self.external_ids.get(external_id)
        if holder is None or holder == owner:
            return True
        self.duplicate_external_id(record, external_id)
        return False

    @staticmethod
    def duplicate_external_id(record: Record, external_id: str) -> None:
        message = f"ExternalId '{external_id}' already exists"
        record.fail(
            ErrorCode.DUPLICATE_ERROR,
            message,
            field=EXTERNAL_ID,
            details=[Detail(EXTERNAL_ID, message, FieldCode.DUPLICATE)],
        )

    def hold_external_id(self, subject, old: str | None, new: str | None) -> None:
        """`subject` (a stored document, or the record creating one) now has externalId
        `new`. A stored document's old one stays held until the batch is written, since
        the batch inserts its documents before it updates the others; a created one's was
        never written, so it is free again."""
        if old == new:
            return
        if isinstance(subject, Record):
            owner = ("record", id(subject))
            if old and self.external_ids.get(old) == owner:
                del self.external_ids[old]
                self.staged.pop((EXTERNAL_ID, old), None)
            if new:
                self.staged[(EXTERNAL_ID, new)] = subject
        else:
            owner = ("document", subject.pk)
            self.documents.add_external(subject, new)
        if new:
            self.external_ids[new] = owner

    def stock_moves(self, record: Record, draft: TradeDocumentDraft, old_moves) -> bool:
        """Move the draft's stock on the batch's levels (an update first undoes what the
        document moved so far, `old_moves`); False, with the record failed and the levels as
        they were, when the stock is not there."""
        checkpoint = self.levels.checkpoint()
        allow_negative = self.company.allow_negative_stock
        try:
            undo_stock(self.levels, old_moves, allow_negative=allow_negative)
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
        return True

    def identify(self, record: Record) -> tuple[str, str | None]:
        """The field that names the document an update is for, and its value: `id`, else
        `externalId`, else the number."""
        values = record.values
        for param in ("id", EXTERNAL_ID, self.number_param):
            if values.get(param):
                return param, values[param]
        return "id", None

    def find(self, record: Record):
        param, ref = self.identify(record)
        if not ref:
            message = f"id, externalId or {self.number_param} is required for update."
            self.reject(record, "id", message, FieldCode.REQUIRED)
            return None
        subject = self.located(param, ref)
        if subject is None:
            record.fail(ErrorCode.NOT_FOUND, f"{self.what} '{ref}' not found.", field=param)
        return subject

    def located(self, param: str, ref: str):
        """The document `ref` names as `param` now: a stored document, the record of this
        batch creating it, or None. `id` takes the public id or the number; an externalId
        an earlier update of the batch replaced names nothing any more."""
        if param == "id":
            return self.documents.get(ref) or self.staged.get((self.number_param, ref))
        staged = self.staged.get((param, ref))
        if staged is not None:
            return staged
        if param == EXTERNAL_ID:
            document = self.documents.get_external(ref)
            found = document is not None and self.external_id_of(document) == ref
        else:
            document = self.documents.get(ref)
            found = document is not None and document.number == ref
        return document if found else None

    def external_id_of(self, document) -> str | None:
        """A stored document's externalId as the batch so far left it."""
        change = self.changes.get(document.pk)
        return change.draft.external_id if change else document.external_id

    def as_draft(self, document) -> TradeDocumentDraft:
        return TradeDocumentDraft(
            party=getattr(document, self.kind.party_field),
            date=document.date,
            due_date=document.due_date,
            lines=list(self.kept_lines.get(document.pk, [])),
            reference=document.reference,
            notes=document.notes,
            external_id=document.external_id,
        )

    def updated_draft(self, values: dict, current: TradeDocumentDraft):
        """The document with what the record sent applied; rules apply to what was sent.
        A new date or party without a dueDate moves the due date to date + payment terms.
        Kept lines are copies, so moving the new draft's stock leaves `current` as it was."""
        problems = Problems()
        party, party_param = find_reference(
            self.parties, values, self.party_params, self.party_what, problems
        )
        if party is not None:
            self.check_party(party, party_param, problems)
        lines = [dataclasses.replace(line) for line in current.lines]
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
            moved = document_date != current.date or party.pk != current.party.pk
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
            number=current.number,
            external_id=values.get(EXTERNAL_ID, current.external_id),
        )
        return draft, problems

    def resolve_lines(self, raw_lines: list[dict], problems: Problems) -> list[TradeLineDraft]:
        lines = []
        for position, values in enumerate(raw_lines):
            path = f"items[{position}]."
            item, item_param = find_reference(
                self.items, values, ITEM_PARAMS, "Item", problems, path
            )
            tax_code, _ = find_reference(
                self.tax_codes, values, ("taxCode",), "Tax code", problems, path
            )
            location, location_param = find_reference(
                self.locations, values, LOCATION_PARAMS, "Location", problems, path
            )
            account, account_param = find_reference(
                self.accounts, values, ACCOUNT_PARAMS, "Account", problems, path
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

    def on_staged(self, record: Record, draft, *, replaced, origin) -> None:
        """Hook: a document passed; `replaced` is what it said before (None for a create),
        `origin` the stored document it changes or the record of the batch creating it."""

    # Write ---------------------------------------------------------------------------------

    def write(self, records: list[Record]) -> None:
        try:
            self.write_documents(records)
        except (LineShortage, StockShortage, NoLocation) as error:
            # Cannot happen: load() locked these levels. Should it, fail the write like any
            # database error, so the executor undoes it and reports it.
            raise DatabaseError(f"stock moved under a lock: {error}") from error

    def write_documents(self, records: list[Record]) -> None:
        creates = [record for record in records if record.outcome == Outcome.CREATED]
        documents = type(self).create_documents(
            company=self.company, drafts=[record.target for record in creates]
        )
        created = {
            id(record): document for record, document in zip(creates, documents, strict=True)
        }
        changes = list(
            {
                id(record.target): record.target
                for record in records
                if record.outcome == Outcome.UPDATED
                and isinstance(record.target, TradeDocumentChange)
            }.values()
        )
        fields = [field.attname for field in self.model._meta.concrete_fields]
        self.snapshots = [
            (change.document, {name: getattr(change.document, name) for name in fields})
            for change in changes
        ]
        type(self).update_documents(company=self.company, changes=changes)
        for record in records:
            record.data = self.result_data(self.document_of(record, created))

    @staticmethod
    def document_of(record: Record, created: dict):
        """The document a written record is about: one it created, changed or left alone."""
        target = record.target
        if isinstance(target, Record):  # a document an earlier record of the batch created
            return created[id(target)]
        if isinstance(target, TradeDocumentChange):
            return target.document
        if isinstance(target, TradeDocumentDraft):
            return created[id(record)]
        return target  # a stored document left unchanged

    def find_conflicts(self, records: list[Record]) -> bool:
        """A kept number or an externalId another batch stored since load() read them: the
        unique constraint refused it; that record is a DUPLICATE_ERROR, and so is every record
        about the same document, and the others are written again."""
        self.restore_documents()
        failed = self.taken_numbers(records) + self.taken_external_ids(records)
        for loser in failed:
            for record in records:
                if record.ok and self.same_subject(record, loser):
                    error = loser.error
                    record.fail(
                        error.code,
                        f"Operation {loser.op.index} on the same {self.what.lower()} failed: "
                        f"{error.message}",
                        field=error.field,
                    )
        return bool(failed)

    def restore_documents(self) -> None:
        """Put the documents an undone write changed back as they were read: it is
        written again from them."""
        for document, values in self.snapshots:
            for name, value in values.items():
                setattr(document, name, value)
        self.snapshots = []

    @staticmethod
    def same_subject(record: Record, other: Record) -> bool:
        """Whether `record` is about the document `other` creates, or about the stored
        document `other` updates."""
        if record.target is other:
            return True
        return isinstance(other.target, TradeDocumentChange) and record.target is other.target

    def taken_numbers(self, records: list[Record]) -> list[Record]:
        kept = {
            record.target.number: record
            for record in records
            if record.ok and record.outcome == Outcome.CREATED and record.target.number
        }
        if not kept:
            return []
        taken = self.scoped().filter(number__in=kept).values_list("number", flat=True)
        for number in taken:
            self.duplicate_number(kept[number], number)
        return [kept[number] for number in taken]

    def taken_external_ids(self, records: list[Record]) -> list[Record]:
        pending: dict[str, tuple[Record, int | None]] = {}
        for record in records:
            if not record.ok:
                continue
            if record.outcome == Outcome.CREATED:
                draft, own = record.target, None
            elif record.outcome == Outcome.UPDATED and isinstance(
                record.target, TradeDocumentChange
            ):
                draft, own = record.target.draft, record.target.document.pk
            else:
                continue
            if draft.external_id:
                pending[draft.external_id] = (record, own)
        if not pending:
            return []
        failed = []
        rows = self.scoped().filter(external_id__in=pending).values_list("external_id", "pk")
        for external_id, pk in rows:
            record, own = pending[external_id]
            if pk != own:
                self.duplicate_external_id(record, external_id)
                failed.append(record)
        return failed

    def discard(self, record: Record) -> None:
        """The record will not be written (skipped after a failure): the document it
        changed reads again as before it, and so do those of the records after it."""
        for position, (updater, holder, before) in enumerate(self.history):
            if updater is not record:
                continue
            if isinstance(holder, Record):
                holder.target = before
            elif before is not None:
                holder.draft = before
            self.history = [
                entry
                for at, entry in enumerate(self.history)
                if at < position or entry[1] is not holder
            ]
            return

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
            EXTERNAL_ID: document.external_id,
        }


def index(rows, natural_key: str, values: list[dict], params, **options) -> ReferenceIndex:
    """The rows `values` name under `params` (ids and keys, or external ids), one query."""
    refs, external = split_refs(values, params)
    return ReferenceIndex(rows, natural_key, refs, external_refs=external, **options)


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


def moves_of(draft: TradeDocumentDraft) -> list:
    """What the draft's lines moved on the batch's levels (an update of it undoes them)."""
    return [line.move for line in draft.lines if line.move]


def same_document(current: TradeDocumentDraft, draft: TradeDocumentDraft, location) -> bool:
    """Whether `draft` says what `current` says: party, dates, texts, externalId and every
    line — quantities and prices compared as numbers, a stock line at the location it moves
    at (`location` when it names none)."""
    return document_signature(current, location) == document_signature(draft, location)


def document_signature(draft: TradeDocumentDraft, location) -> tuple:
    header = (draft.party.pk, draft.date, draft.due_date, draft.reference, draft.notes)
    return (*header, draft.external_id, [line_signature(line, location) for line in draft.lines])


def line_signature(line, location) -> tuple:
    moved_at = (line.location or location) if line.moves_stock else None
    return (
        pk_of(line.item),
        line.description,
        line.quantity,
        line.unit_price,
        line.tax_code.pk,
        line.rate,
        pk_of(line.account),
        pk_of(moved_at),
    )


def pk_of(row) -> int | None:
    return row.pk if row is not None else None


def text_value(values: dict, param: str, current: str) -> str:
    if param not in values:
        return current
    return values[param] or ""


def document_schema(party_params, date_param: str, number_param: str, *, update: bool):
    """A create may keep the number a document had in another system; an update finds the
    document by its id, externalId or number. Either may set the externalId."""
    fields = {
        **{
            param: Field(ExternalReference() if is_external(param) else Reference())
            for param in party_params
        },
        date_param: Field(Date(), required=True),
        "dueDate": Field(Date()),
        "reference": Field(Text(100)),
        "notes": Field(Text(5000)),
        "items": ListOf(LINE, min_items=1, max_items=MAX_LINES, required=True),
        "subtotal": Field(Money(what="subtotal")),
        "taxTotal": Field(Money(what="taxTotal")),
        "total": Field(Money(what="total")),
        EXTERNAL_ID: Field(ExternalId()),
    }
    if update:
        fields.update({"id": Field(Reference()), number_param: Field(Reference())})
    else:
        fields[number_param] = Field(Text(20, blank=False))
    return Schema(fields)
