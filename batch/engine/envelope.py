"""The batch request envelope: {"operations": [...], "options": {...}}.

Request-level problems raise RequestError and nothing is processed. JSON numbers are read
as Decimal (never float); NaN and Infinity are refused."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import simplejson

from batch.engine.codes import FieldCode, RequestCode
from batch.engine.fields import Detail
from batch.engine.unicode import NOT_UNICODE, displayable, is_encodable
from bigledger.client_json import check_nesting
from bigledger.errors import RequestError

OPTION_DEFAULTS = {
    "continueOnError": True,
    "validateOnly": False,
    "async": False,
    "rollbackOnError": False,
}
# The fields an upsert matches on, instead of id → externalId → natural key ("email").
MATCH_ON = "matchOn"
MAX_MATCH_ON = 5


@dataclass(frozen=True)
class BatchOptions:
    continue_on_error: bool = True
    validate_only: bool = False
    run_async: bool = False
    rollback_on_error: bool = False
    match_on: tuple[str, ...] = ()

    def as_json(self) -> dict:
        body: dict = {
            "continueOnError": self.continue_on_error,
            "validateOnly": self.validate_only,
            "async": self.run_async,
            "rollbackOnError": self.rollback_on_error,
        }
        if self.match_on:
            body[MATCH_ON] = list(self.match_on)
        return body

    @classmethod
    def from_json(cls, raw: Any) -> "BatchOptions":
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise RequestError(RequestCode.INVALID_REQUEST, "options must be an object.")
        unknown = sorted(raw.keys() - OPTION_DEFAULTS.keys() - {MATCH_ON})
        if unknown:
            raise RequestError(
                RequestCode.INVALID_REQUEST,
                f"Unknown option: {', '.join(unknown)}.",
                details=[
                    {"field": f"options.{name}", "message": "Unknown option.", "code": "UNKNOWN"}
                    for name in unknown
                ],
            )
        raw = dict(raw)
        match_on = _match_on(raw.pop(MATCH_ON, None))
        values = {**OPTION_DEFAULTS, **raw}
        for name, value in values.items():
            if not isinstance(value, bool):
                raise RequestError(
                    RequestCode.INVALID_REQUEST,
                    f"options.{name} must be true or false.",
                    details=[{"field": f"options.{name}", "message": "Must be a boolean."}],
                )
        return cls(
            continue_on_error=values["continueOnError"],
            validate_only=values["validateOnly"],
            run_async=values["async"],
            rollback_on_error=values["rollbackOnError"],
            match_on=match_on,
        )


def _match_on(raw: Any) -> tuple[str, ...]:
    """options.matchOn: a list of field names (which ones the entity takes, its handler
    says: Handler.check_options)."""
    if raw is None:
        return ()
    if (
        not isinstance(raw, list)
        or not raw
        or len(raw) > MAX_MATCH_ON
        or not all(isinstance(name, str) and name for name in raw)
    ):
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            f"options.matchOn must be a list of 1 to {MAX_MATCH_ON} field names.",
            details=[{"field": "options.matchOn", "message": "Must be a list of field names."}],
        )
    return tuple(dict.fromkeys(raw))


# "items[2].quantity" -> 2; a position of more digits than any list holds is no line's.
_LINE_POSITION = re.compile(r"[^.\[]+\[([0-9]{1,9})\]")


@dataclass(slots=True)
class Operation:
    """One requested operation, as sent. `problems` (batch.engine.fields.Detail) are what is
    wrong with it before its data is parsed, reported as its VALIDATION_ERROR: a referenceId
    that is not valid Unicode, or, from a file, lines of one document that disagree. From a
    file, `line_rows` are the spreadsheet rows of a document's lines; from a workbook of
    several sheets, `sheet` is the sheet (or CSV of a zip) the operation was read from;
    `cells` are the file's own cells of its rows, as uploaded (batch.files.file_rows), for a
    failed-rows CSV in the file's own columns."""

    index: int
    operation: str
    reference_id: str | None
    data: Any
    row_number: int
    original: dict = field(default_factory=dict)
    line_rows: list[int] = field(default_factory=list)
    problems: list = field(default_factory=list)
    sheet: str | None = None
    cells: list[list[str]] | None = None

    def row_for(self, field_path: str | None) -> int:
        """The row an error on `field_path` belongs to: a line's own row for
        "items[2].quantity" when the line rows are known, else the operation's row."""
        match = _LINE_POSITION.match(field_path or "")
        if match and int(match[1]) < len(self.line_rows):
            return self.line_rows[int(match[1])]
        return self.row_number


@dataclass
class BatchRequest:
    operations: list[Operation]
    options: BatchOptions
    # Reading the operations is known to raise no request error (an async job may then be
    # run as it is stored: batch.jobs.submit.store_job).
    checked: bool = False


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _exact_number(text: str) -> Decimal:
    """A JSON number with a fraction or exponent, as an exact Decimal. An exponent beyond what
    Decimal holds (1e99999999999999999999) makes the body malformed, not a server error."""
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"the number {text[:40]} is out of range") from None


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body; invalid JSON, NaN, Infinity and nesting deeper than
    bigledger.client_json.MAX_NESTING are INVALID_JSON."""
    try:
        check_nesting(body)
        return simplejson.loads(body, parse_float=_exact_number, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(
            RequestCode.INVALID_JSON, f"Request body is not valid JSON: {error}"
        ) from None


def parse_batch_request(payload: Any) -> BatchRequest:
    options, raw_operations = envelope_parts(payload)
    return BatchRequest(operations=parse_operations(raw_operations), options=options)


def envelope_parts(payload: Any) -> tuple[BatchOptions, list]:
    """A batch body's options and its operations as sent: an object of `operations` (a
    non-empty list) and `options`, nothing else."""
    if not isinstance(payload, dict):
        raise RequestError(RequestCode.INVALID_REQUEST, "The body must be a JSON object.")
    unknown = sorted(payload.keys() - {"operations", "options"})
    if unknown:
        raise RequestError(RequestCode.INVALID_REQUEST, f"Unknown key: {', '.join(unknown)}.")
    options = BatchOptions.from_json(payload.get("options"))
    raw_operations = payload.get("operations")
    if not isinstance(raw_operations, list) or not raw_operations:
        raise RequestError(
            RequestCode.INVALID_REQUEST, "operations must be a non-empty list of operations."
        )
    return options, raw_operations


def parse_operations(
    raw_operations: list,
    *,
    row_numbers: list[int] | None = None,
    start: int = 0,
    seen: dict[str, int] | None = None,
) -> list[Operation]:
    """Operations numbered from `start` (a later chunk of a file keeps its global index).
    `seen` (referenceId -> index), when shared between calls, finds a referenceId repeated
    across chunks too."""
    operations, seen = [], {} if seen is None else seen
    for position, raw in enumerate(raw_operations):
        index = start + position
        if not isinstance(raw, dict):
            raise RequestError(
                RequestCode.INVALID_REQUEST,
                f"operations[{index}] must be an object.",
                details=[{"field": f"operations[{index}]", "message": "Must be an object."}],
            )
        reference_id = _reference_id(raw.get("referenceId"), index)
        if reference_id is not None:
            if reference_id in seen:
                raise RequestError(
                    RequestCode.DUPLICATE_REFERENCE_ID,
                    f"referenceId '{displayable(reference_id)}' appears more than once.",
                    details=[
                        {
                            "field": f"operations[{index}].referenceId",
                            "firstIndex": seen[reference_id],
                        }
                    ],
                )
            seen[reference_id] = index
        operations.append(
            Operation(
                index=index,
                operation=raw.get("operation"),
                reference_id=reference_id,
                data=raw.get("data"),
                row_number=row_numbers[position] if row_numbers else index + 1,
                original=raw.get("data") if isinstance(raw.get("data"), dict) else {},
                problems=_reference_id_problems(reference_id),
            )
        )
    return operations


def refuses_none(raw_operations: Iterable) -> bool:
    """Whether parse_operations takes every one of these: objects, their referenceIds
    well-formed and none repeated (found without building them)."""
    seen: set[str] = set()
    for index, raw in enumerate(raw_operations):
        if not isinstance(raw, dict):
            return False
        try:
            reference_id = _reference_id(raw.get("referenceId"), index)
        except RequestError:
            return False
        if reference_id is not None:
            if reference_id in seen:
                return False
            seen.add(reference_id)
    return True


def _reference_id(raw: Any, index: int) -> str | None:
    """The referenceId as text; one that is neither a string nor a number that prints is
    a malformed envelope."""
    if raw is None:
        return None
    if isinstance(raw, str | int):
        try:
            return str(raw)
        except ValueError:  # an integer of more digits than Python writes out
            pass
    raise RequestError(
        RequestCode.INVALID_REQUEST, f"operations[{index}].referenceId must be a string."
    )


def _reference_id_problems(reference_id: str | None) -> list[Detail]:
    """A referenceId that cannot be stored or echoed as sent fails its record (the answer
    echoes it with U+FFFD in place of each lone surrogate)."""
    if reference_id is None or is_encodable(reference_id):
        return []
    return [Detail("referenceId", NOT_UNICODE, FieldCode.INVALID_VALUE)]
