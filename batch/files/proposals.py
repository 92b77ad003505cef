"""Proposing which field each column of a file feeds, for the mapping screen and the API's
propose endpoint: the user sees the proposal beside a few sample values and decides.

A header is matched, in this order of confidence, by the field's exact name; by the same
letters and digits (case, spaces and punctuation aside, a currency or unit in brackets
dropped: "Credit Limit (RM)" → creditLimit); by a synonym people use for the field ("E-mail",
"Customer Name", "Phone No.", "Postcode" — one table per field name, shared by every
entity); and last by similarity of spelling (difflib). A field is proposed for one column
only, the most confident; the columns left are "unmapped". headers_key() finds a saved
mapping profile again when a file with the same headers comes back."""

import difflib
import hashlib
import re
from dataclasses import dataclass

from batch.engine.handlers import Handler
from batch.files.columns import Column, layout_for
from batch.files.mapping import RESULT_COLUMNS

EXACT, NORMALIZED, SYNONYM, SIMILAR, UNMAPPED = (
    "exact",
    "normalized",
    "synonym",
    "similar",
    "unmapped",
)
CONFIDENCE = {EXACT: 1.0, NORMALIZED: 0.95, SYNONYM: 0.9}
SIMILARITY_THRESHOLD = 0.8
SAMPLE_VALUES = 3

# Field name (its last part: "address.city" → "city") → what people call it in a file.
SYNONYMS = {
    "name": [
        "customer name",
        "supplier name",
        "company name",
        "company",
        "full name",
        "item name",
        "account name",
        "product name",
        "description name",
    ],
    "email": ["e-mail", "email address", "e-mail address", "mail"],
    "phone": [
        "phone no",
        "phone number",
        "tel",
        "telephone",
        "tel no",
        "mobile",
        "mobile no",
        "mobile number",
        "contact number",
        "contact no",
        "hp",
        "handphone",
    ],
    "creditLimit": ["credit limit", "credit"],
    "postalCode": ["zip", "zip code", "postcode", "post code", "postal"],
    "postcode": ["zip", "zip code", "postal code", "post code"],
    "sku": ["item code", "product code", "code", "stock code", "sku no"],
    "code": ["item code", "account code", "account no", "account number", "sku"],
    "taxNumber": ["tax id", "tin", "tax no", "tax number", "gst no", "sst no", "vat number"],
    "registrationNumber": ["registration no", "reg no", "company no", "brn", "ssm no"],
    "customerNumber": ["customer no", "customer code", "customer id", "cust no", "debtor code"],
    "supplierNumber": ["supplier no", "supplier code", "vendor no", "vendor code", "creditor code"],
    "externalId": ["external id", "ext id", "legacy id", "old id"],
    "currency": ["currency code", "ccy", "cur"],
    "country": ["country code", "nation"],
    "state": ["province", "region"],
    "city": ["town"],
    "line1": ["address", "address 1", "address line 1", "street"],
    "line2": ["address 2", "address line 2"],
    "paymentTerms": ["terms", "payment term", "credit terms"],
    "unitPrice": ["price", "unit price", "selling price", "rate"],
    "quantity": ["qty", "quantity", "units"],
    "description": ["desc", "details", "particulars", "remarks"],
    "date": ["invoice date", "bill date", "document date", "doc date", "txn date"],
    "dueDate": ["due date", "due"],
    "reference": [
        "invoice no",
        "invoice number",
        "bill no",
        "reference no",
        "ref",
        "doc no",
        "document no",
    ],
    "amount": ["total", "amount", "value"],
    "isActive": ["active", "status", "enabled"],
    "notes": ["note", "comments", "memo", "remarks"],
}

_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Proposal:
    header: str
    field: str | None
    how: str
    confidence: float
    samples: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {
            "header": self.header,
            "field": self.field,
            "how": self.how,
            "confidence": round(self.confidence, 2),
            "samples": list(self.samples),
        }


def normalize(text: str) -> str:
    """ "Credit Limit (RM)" → "creditlimit"; "E-mail" → "email"; "Phone No." → "phoneno"."""
    text = _BRACKETED.sub(" ", str(text)).casefold()
    return _NOT_ALNUM.sub("", text)


def headers_key(headers: list[str]) -> str:
    """The same for any file with the same headers, whatever their order, case or spacing,
    and whatever error columns a failed-rows CSV added: the failed rows, fixed, come back
    to the profile they were imported with."""
    own = (header for header in headers if header not in RESULT_COLUMNS)
    names = sorted(name for header in own if (name := normalize(header)))
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()


def propose(
    handler: type[Handler], headers: list[str], samples: list[dict[str, str]] | None = None
) -> list[Proposal]:
    """A proposal per header, in the file's order; `samples` are a few rows {header: text}."""
    fields = _candidates(handler)
    found = {header: _best(header, fields) for header in headers if header}
    taken: dict[str, str] = {}  # field → header, most confident first
    for header, (field_name, _, _) in sorted(found.items(), key=lambda item: -item[1][2]):
        if field_name and field_name not in taken:
            taken[field_name] = header
    chosen = {header: field_name for field_name, header in taken.items()}
    proposals = []
    for header in headers:
        values = _samples(header, samples or [])
        field_name = chosen.get(header)
        if field_name is None:
            proposals.append(Proposal(header, None, UNMAPPED, 0.0, values))
        else:
            _, how, confidence = found[header]
            proposals.append(Proposal(header, field_name, how, confidence, values))
    return proposals


def _candidates(handler: type[Handler]) -> dict[str, Column]:
    return {column.name: column for column in layout_for(handler).input_columns}


def _best(header: str, fields: dict[str, Column]) -> tuple[str | None, str, float]:
    if header in fields:
        return header, EXACT, CONFIDENCE[EXACT]
    key = normalize(header)
    if not key:
        return None, UNMAPPED, 0.0
    for name, column in fields.items():
        if key in (normalize(name), normalize(column.leaf)):
            return name, NORMALIZED, CONFIDENCE[NORMALIZED]
    for name, column in fields.items():
        if key in _synonyms(column):
            return name, SYNONYM, CONFIDENCE[SYNONYM]
    best, score = None, 0.0
    for name, column in fields.items():
        ratio = max(
            difflib.SequenceMatcher(None, key, normalize(candidate)).ratio()
            for candidate in (name, column.leaf)
        )
        if ratio > score:
            best, score = name, ratio
    if best is not None and score >= SIMILARITY_THRESHOLD:
        return best, SIMILAR, round(score * 0.85, 2)
    return None, UNMAPPED, 0.0


def _synonyms(column: Column) -> set[str]:
    return {normalize(name) for name in SYNONYMS.get(column.leaf, ())}


def _samples(header: str, rows: list[dict[str, str]]) -> tuple[str, ...]:
    values = ((row.get(header) or "").strip() for row in rows)
    return tuple(value for value in values if value)[:SAMPLE_VALUES]
