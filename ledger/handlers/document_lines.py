"""A trade document's lines: what a request may send for one, how it is checked, what it
moves in stock, and how a whole document compares with another (the `unchanged` test).

Module functions only: the handler (documents.py) passes them the references its load()
read, so a line is resolved and checked in memory, without a query."""

from django.db.models import Model

from batch.engine.codes import FieldCode
from batch.engine.fields import Detail, Field, ListOf, Schema
from batch.engine.handlers import EXTERNAL_ID, ReferenceIndex, is_external
from batch.engine.parsers import (
    MAX_AMOUNT,
    Date,
    ExternalId,
    ExternalReference,
    Money,
    Quantity,
    Reference,
    Text,
)

from ..catalog import StockShortage, stock_book
from ..models import Account, AccountRole
from ..services.documents import (
    DocumentKind,
    LineShortage,
    NoLocation,
    TradeDocumentDraft,
    TradeLineDraft,
    move_stock,
    undo_stock,
)
from .postings import header_problems, manual_posting_problems
from .references import Problems, find_reference

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


def resolve_lines(
    raw_lines: list[dict],
    problems: Problems,
    *,
    items: ReferenceIndex,
    tax_codes: ReferenceIndex,
    locations: ReferenceIndex,
    accounts: ReferenceIndex,
    outgoing: bool,
) -> list[TradeLineDraft]:
    """The lines a request sent, their references resolved in the indexes load() read;
    what is wrong with them is noted in `problems` (`outgoing`: an invoice's lines)."""
    lines = []
    for position, values in enumerate(raw_lines):
        path = f"items[{position}]."
        item, item_param = find_reference(items, values, ITEM_PARAMS, "Item", problems, path)
        tax_code, _ = find_reference(tax_codes, values, ("taxCode",), "Tax code", problems, path)
        location, location_param = find_reference(
            locations, values, LOCATION_PARAMS, "Location", problems, path
        )
        account, account_param = find_reference(
            accounts, values, ACCOUNT_PARAMS, "Account", problems, path
        )
        if location is not None and not location.active:
            message = f"Location {location.code} is inactive."
            problems.invalid.append(Detail(path + location_param, message, FieldCode.INACTIVE))
        if account is not None:
            problems.invalid.extend(
                account_problems(account, item, path + account_param, outgoing=outgoing)
            )
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


def account_problems(account: Account, item, field: str, *, outgoing: bool) -> list[Detail]:
    """A line's own account must be active and take postings (no header); a bill's
    stock line posts to inventory, and no other line may name a control account, whose
    balance must stay what its documents say."""
    if not account.active:
        return [Detail(field, f"Account {account.code} is inactive.", FieldCode.INACTIVE)]
    stocked = item is not None and stock_book().holds_stock(item)
    if stocked and not outgoing:
        if account.role == AccountRole.INVENTORY:
            return header_problems(account, field)
        message = (
            f"A bill line for stock item {item.item_code} posts to the inventory account; "
            f"it cannot post to {account.code}."
        )
        return [Detail(field, message, FieldCode.INVALID_VALUE)]
    return manual_posting_problems(account, field)


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


def kept_line(line: Model) -> TradeLineDraft:
    """A stored line as the draft line an update keeps when it sends no items."""
    return TradeLineDraft(
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


def stock_problem(
    kind: DocumentKind,
    levels,
    draft: TradeDocumentDraft,
    old_moves,
    *,
    default_location,
    allow_negative: bool,
    what: str,
) -> Detail | None:
    """Move the draft's stock on the batch's levels (an update first undoes what the
    document moved so far, `old_moves`); the problem, with the levels as they were, when
    the stock is not there, else None."""
    checkpoint = levels.checkpoint()
    try:
        undo_stock(levels, old_moves, allow_negative=allow_negative)
        move_stock(
            kind,
            levels,
            draft,
            default_location=default_location,
            allow_negative=allow_negative,
        )
    except LineShortage as shortage:
        levels.restore(checkpoint)
        line = draft.lines[shortage.position]
        return Detail(
            f"items[{shortage.position}].quantity",
            f"Only {shortage.on_hand.normalize():f} of {line.item.item_code} on hand at "
            f"{line.location.code}; cannot take out {line.quantity.normalize():f}.",
            FieldCode.INSUFFICIENT_STOCK,
        )
    except StockShortage as shortage:
        levels.restore(checkpoint)
        return Detail(
            "items",
            f"Units this {what.lower()} brought in have gone out since (only "
            f"{shortage.on_hand.normalize():f} on hand); its lines cannot change.",
            FieldCode.INSUFFICIENT_STOCK,
        )
    except NoLocation as missing:
        levels.restore(checkpoint)
        message = "No location to move stock at: name one, or add a location."
        return Detail(f"items[{missing.position}].locationCode", message, FieldCode.REQUIRED)
    return None


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
