"""What a trade document says after a record: a draft built from what a create sends, or
from a document as it stands (stored, or as the batch left it) with what an update sends
applied, and the rules a whole document keeps — an active party, a due date, totals.

Rules apply to what was sent: a kept line is not checked again, a new date or party without
a dueDate moves the due date to the date plus the party's payment terms, and totals a client
sends must match those computed."""

import dataclasses
import datetime

from batch.engine.codes import FieldCode
from batch.engine.fields import Detail
from batch.engine.handlers import EXTERNAL_ID
from batch.engine.parsers import LATEST_DATE, MAX_AMOUNT

from ..models import Status
from ..services.documents import TradeDocumentDraft, TradeLineDraft
from .document_lines import amount_problems, resolve_lines
from .references import Problems, check_date, find_reference

CLIENT_TOTALS = {"subtotal": "subtotal", "taxTotal": "tax_total", "total": "total"}


class DocumentDrafts:
    """Mixed into TradeDocumentHandler (documents.py), whose load() reads the parties,
    items, locations, accounts and tax codes a draft is resolved against, and the lines
    of the documents the batch updates (`kept_lines`)."""

    def new_draft(self, values: dict) -> tuple[TradeDocumentDraft | None, Problems]:
        """The document a create sends; None when its party or lines cannot be resolved or
        it has no due date, the problems noted."""
        problems = Problems()
        party, party_param = find_reference(
            self.parties, values, self.party_params, self.party_what, problems
        )
        if party_param is None:
            names = self.party_params
            message = f"{', '.join(names[:-1])} or {names[-1]} is required."
            problems.invalid.append(Detail(self.party_params[0], message, FieldCode.REQUIRED))
        lines = self.lines_of(values["items"], problems)
        if party is not None:
            self.check_party(party, party_param, problems)
        document_date = values[self.date_param]
        check_date(self.ctx, document_date, self.date_param, problems)
        if problems.missing or party is None:
            return None, problems
        due_date = values.get("dueDate") or self.due_by_terms(document_date, party, problems)
        if due_date is None:
            return None, problems
        draft = TradeDocumentDraft(
            party=party,
            date=document_date,
            due_date=due_date,
            lines=lines,
            reference=values.get("reference") or "",
            notes=values.get("notes") or "",
            number=values.get(self.number_param) or None,
            external_id=values.get(EXTERNAL_ID),
        )
        return draft, problems

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
            lines = self.lines_of(values["items"], problems)
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

    def lines_of(self, raw_lines: list[dict], problems: Problems) -> list[TradeLineDraft]:
        """The lines a record sent, resolved against the references load() read."""
        return resolve_lines(
            raw_lines,
            problems,
            items=self.items,
            tax_codes=self.tax_codes,
            locations=self.locations,
            accounts=self.accounts,
            outgoing=self.kind.outgoing,
        )

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


def text_value(values: dict, param: str, current: str) -> str:
    """A text an update sent (null clears it), else the one the document has."""
    if param not in values:
        return current
    return values[param] or ""
