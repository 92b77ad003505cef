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
nothing — even on a paid document, so re-sending a sync is harmless (docs/api.md).

This module holds the handler's flow — load, validate, write, and undoing a write that a
conflict refused. The rest lives beside it:
- document_lines.py: what a line is and how it is checked, the stock it moves, the request
  schema, and how two documents compare (the `unchanged` test);
- document_drafts.py: the draft a record makes of a document, and the rules on a whole one;
- document_identity.py: which document a record is about, and who holds each number and
  externalId, in the batch and at write time."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from django.db import DatabaseError

from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.codes import Status as Outcome
from batch.engine.handlers import EXTERNAL_ID, Handler, ReferenceIndex, split_refs
from batch.engine.locks import lock_keys
from batch.engine.records import Record
from batch.files.templates import template_list

from ..catalog import StockShortage, item_model, stock_book
from ..models import Account, Status, TaxCode
from ..services.documents import (
    DocumentKind,
    LineShortage,
    NoLocation,
    TradeDocumentChange,
    TradeDocumentDraft,
    TradeLineDraft,
)
from .document_drafts import DocumentDrafts
from .document_identity import DocumentIdentity
from .document_lines import (
    ACCOUNT_PARAMS,
    ITEM_PARAMS,
    LOCATION_PARAMS,
    kept_line,
    moves_of,
    same_document,
    stock_problem,
)
from .postings import with_header_flag
from .references import refs_of


class TradeDocumentHandler(DocumentIdentity, DocumentDrafts, Handler):
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
        self.kept_lines: dict[int, list[TradeLineDraft]] = {}
        self.changes: dict[int, TradeDocumentChange] = {}  # document pk -> staged update
        self.exposure: dict[int, Decimal] = {}  # customer pk -> what they would owe
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
            self.kept_lines.setdefault(getattr(line, document_id), []).append(kept_line(line))

    def load_exposure(self) -> None:
        """Hook: what customers with a credit limit owe on open invoices (invoices only)."""

    # Validate ------------------------------------------------------------------------------

    def validate_create(self, record: Record) -> None:
        values = record.values
        number = values.get(self.number_param)
        if number and number in self.numbers_taken:
            self.duplicate_number(record, number)
            return
        external_id = values.get(EXTERNAL_ID)
        if not self.external_id_free(record, external_id, ("record", id(record))):
            return
        draft, problems = self.new_draft(values)
        if draft is None:
            problems.reported(record)
            return
        self.check_draft(draft, values, problems)
        if problems.reported(record) or not self.stock_moves(record, draft, ()):
            return
        self.old_moves[("record", id(record))] = moves_of(draft)
        self.hold_number(record, number)
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

    def stock_moves(self, record: Record, draft: TradeDocumentDraft, old_moves) -> bool:
        """Move the draft's stock on the batch's levels (an update first undoes what the
        document moved so far, `old_moves`); False, with the record failed and the levels as
        they were, when the stock is not there."""
        problem = stock_problem(
            self.kind,
            self.levels,
            draft,
            old_moves,
            default_location=self.default_location,
            allow_negative=self.company.allow_negative_stock,
            what=self.what,
        )
        if problem is not None:
            record.fail_fields([problem])
            return False
        return True

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
