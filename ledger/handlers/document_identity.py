"""Which trade document a record is about, and the keys documents hold.

An update names its document by `id`, else `externalId`, else the number. An upsert is
matched by `id`, else by each field of match_order() in turn (externalId, then the number,
or what options.matchOn names). The document may be a stored one or one an earlier record
of the batch creates: a later record can name it by its externalId or kept number.

Numbers a create keeps and externalIds are unique per company. The batch tracks who holds
each — a stored document or a record creating one — so a second holder is a DUPLICATE_ERROR
at validation, and one another batch stored meanwhile is found when the write is refused."""

from django.db.models import Q

from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.codes import Status as Outcome
from batch.engine.handlers import EXTERNAL_ID, duplicate_error
from batch.engine.records import Record

from ..services.documents import TradeDocumentChange
from .references import refs_of


class DocumentIdentity:
    """Mixed into TradeDocumentHandler (documents.py), whose load() reads `documents` (the
    stored documents the batch names) and whose validation stages `changes`."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.numbers_taken: set[str] = set()  # numbers creates keep, in the database or batch
        # (externalId or number param, value) -> the record of this batch creating it.
        self.staged: dict[tuple[str, str], Record] = {}
        # externalId -> who holds it: ("document", pk) or ("record", id of a creating record).
        self.external_ids: dict[str, tuple] = {}

    # Load ----------------------------------------------------------------------------------

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

    # Find ----------------------------------------------------------------------------------

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

    # Hold ----------------------------------------------------------------------------------

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

    def hold_number(self, record: Record, number: str | None) -> None:
        """The record creates a document keeping `number`: no other may take it, and later
        records of the batch can name the document by it."""
        if number:
            self.numbers_taken.add(number)
            self.staged[(self.number_param, number)] = record

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

    def duplicate_number(self, record: Record, number: str) -> None:
        message = f"{self.what} number '{number}' already exists."
        duplicate_error(record, self.number_param, number, message)

    @staticmethod
    def duplicate_external_id(record: Record, external_id: str) -> None:
        duplicate_error(record, EXTERNAL_ID, external_id)

    # Write-time conflicts ------------------------------------------------------------------

    @staticmethod
    def same_subject(record: Record, other: Record) -> bool:
        """Whether `record` is about the document `other` creates, or about the stored
        document `other` updates."""
        if record.target is other:
            return True
        return isinstance(other.target, TradeDocumentChange) and record.target is other.target

    def taken_numbers(self, records: list[Record]) -> list[Record]:
        """The creates whose kept number another batch stored since load(), now failed."""
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
        """The records whose externalId another document stored since load(), now failed."""
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
