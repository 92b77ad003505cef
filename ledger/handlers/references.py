"""How a document handler finds what a record names, and collects what is wrong with it:
shared by invoices, bills and payments."""

import dataclasses
import datetime
from dataclasses import dataclass
from typing import Any

from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.fields import Detail
from batch.engine.handlers import ReferenceIndex
from batch.engine.records import Record


@dataclass
class Problems:
    """What is wrong with one record: missing references answer REFERENCE_ERROR, anything
    else VALIDATION_ERROR; all of one kind are reported together."""

    missing: list[Detail] = dataclasses.field(default_factory=list)
    invalid: list[Detail] = dataclasses.field(default_factory=list)

    def reported(self, record: Record) -> bool:
        if self.missing:
            record.fail_fields(self.missing, ErrorCode.REFERENCE_ERROR)
        elif self.invalid:
            record.fail_fields(self.invalid)
        return bool(self.missing or self.invalid)


def find_reference(
    index: ReferenceIndex,
    values: dict,
    params: tuple[str, ...],
    what: str,
    problems: Problems,
    path: str = "",
) -> tuple[Any, str | None]:
    """The row a record names by public id, natural key or external id, or several of them
    (`params`, e.g. itemId, itemCode, itemExternalId). Returns (row, the field that named it);
    row is None when nothing was sent or the reference is wrong, and wrong references are
    added to problems under path + field."""
    sent = [(param, values[param]) for param in params if values.get(param)]
    if not sent:
        return None, None
    rows = []
    for param, ref in sent:
        row = index.lookup(param, ref)
        if row is None:
            message = f"{what} '{ref}' does not exist."
            problems.missing.append(Detail(path + param, message, FieldCode.NOT_FOUND))
        rows.append(row)
    first = sent[0][0]
    if None in rows:
        return None, first
    if any(row is not rows[0] for row in rows[1:]):
        names = " and ".join(param for param, _ in sent)
        message = f"{names} name different {what.lower()}s."
        problems.invalid.append(Detail(path + sent[1][0], message, FieldCode.INVALID_VALUE))
        return None, first
    return rows[0], first


def check_date(ctx, value: datetime.date, param: str, problems: Problems) -> None:
    if value > ctx.today and not ctx.company.allow_future_dates:
        problems.invalid.append(
            Detail(param, f"{param} {value} is in the future.", FieldCode.FUTURE_DATE)
        )


def refs_of(values: list[dict], params: tuple[str, ...]) -> set[str]:
    return {ref for v in values for param in params if (ref := v.get(param))}
