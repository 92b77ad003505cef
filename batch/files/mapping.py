"""Spreadsheet rows → batch operations ({"operation", "referenceId", "data"}) for a handler.

Columns. Without a mapping, each header names a field: exactly ("address.city",
"items.quantity"), case-insensitively, snake_case or spaced ("credit_limit", "Credit Limit"),
or by the bare name of a nested or line field no other column shares ("city", "quantity").
A mapping {apiField: column} ("address.city": "City") reads a field from any column and
takes precedence; a header whose field is mapped from another column is not read. Columns
listed under the mapping key "_ignore" are not read, nor are the template's calculated
columns (layout.computed_columns) or the columns a failed-rows export adds (RESULT_COLUMNS:
rowNumber, errorCode …). Any other column the handler does not know is a
request-level INVALID_MAPPING error naming it — data is never dropped silently.

Cells. Blank cells are left out of the record (so an update changes only what a row fills
in); values are sent as the strings the cell holds, trimmed, since every parser accepts
numeric strings; a leading apostrophe that an export added against formula injection
("'+6012…", "'-5") is removed. Numeric columns are rewritten as the plain decimals the
parsers take (batch.engine.parsers.PLAIN_DECIMAL): spaces and apostrophes between digits are
dropped; with both "," and "." the last one is the decimal point; a lone comma is a decimal
comma in a semicolon-separated file (the European Excel convention) and, elsewhere, a
thousands separator only where it groups three digits ("1,500"; "1,5" is 1.5); 1E3 and
1.5e-05, as a spreadsheet writes very large or small numbers, are written out; digits of other
scripts become 0-9. What still is not a plain decimal is left for the parser to refuse.

Rows. The "operation" column says create, update, upsert or delete (blank: create); a delete sends
only the fields its schema takes (the identifiers), so a full exported row can be marked for
deletion. For a lines entity (invoices, bills, journal entries, payments), consecutive rows
with the same `reference` make one document whose list collects each row's line columns.
A row with a blank reference continues the current document when its header cells are blank
too, and starts a new document when it fills any of them. Header values may be repeated on
each line or filled on any one of them; lines of one document that disagree are reported in
the chunk's `problems` for that document. Each document keeps the spreadsheet row of each of
its lines (`line_rows`), so an error in items[3] can be reported against its own row."""

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from batch.engine.codes import FieldCode
from batch.engine.fields import Detail
from batch.engine.handlers import Handler
from batch.files.columns import (
    HEADER,
    LINE,
    META,
    NUMERIC_KINDS,
    OPERATION_COLUMN,
    REFERENCE_ID_COLUMN,
    Column,
    Layout,
    layout_for,
)
from batch.files.readers import EXTRA_CELLS
from batch.files.security import FORMULA_TRIGGERS
from bigledger.client_json import check_nesting
from bigledger.errors import RequestError

INVALID_MAPPING = "INVALID_MAPPING"
IGNORE_KEY = "_ignore"
DEFAULT_OPERATION = "create"
# Columns a failed-rows export adds beside the record's own; ignored when it comes back.
RESULT_COLUMNS = frozenset({"rowNumber", "errorCode", "errorField", "errorMessage", "errorDetails"})


@dataclass(frozen=True)
class Source:
    """One file column read into one field."""

    header: str
    column: Column

    @property
    def numeric(self) -> bool:
        return self.column.kind in NUMERIC_KINDS


@dataclass(frozen=True)
class ImportPlan:
    """Which header feeds which field; made (and checked) before any row is read."""

    layout: Layout
    sources: tuple[Source, ...]
    ignored: tuple[str, ...] = ()
    decimal_comma: bool = False


@dataclass
class FileChunk:
    """Up to one batch of operations read from a file. `first_index` is the position of the
    chunk's first operation in the whole file; `row_numbers[i]` the spreadsheet row of
    operation i (its first row for a document with lines); `line_rows[i][n]` the row of its
    line n (empty for entities without lines); `problems[i]` what the file itself says is
    wrong with operation i (lines of one document that disagree), to be reported as that
    operation's VALIDATION_ERROR; `cells[i]` the file's own cells of operation i's rows, when
    they are kept."""

    first_index: int
    operations: list[dict] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    line_rows: list[list[int]] = field(default_factory=list)
    problems: list[list[Detail]] = field(default_factory=list)
    list_name: str | None = None
    cells: list[list[list[str]]] = field(default_factory=list)  # batch.files.file_rows

    def __len__(self) -> int:
        return len(self.operations)

    def row_for(self, index: int, field_path: str | None = None) -> int:
        """The spreadsheet row an error on `field_path` of operation `index` (0-based in this
        chunk) belongs to: the line's own row for "items[3].quantity", else the first row."""
        if field_path and self.list_name:
            match = re.match(rf"{re.escape(self.list_name)}\[(\d+)\]", field_path)
            rows = self.line_rows[index]
            if match and int(match[1]) < len(rows):
                return rows[int(match[1])]
        return self.row_numbers[index]


def mapping_error(message: str, details: list[dict] | None = None) -> RequestError:
    return RequestError(INVALID_MAPPING, message, details=details)


def json_object(raw: Any, name: str, shape: str) -> dict | None:
    """An import option sent as JSON text or as an object (`name`, for the error, which says it
    must be `shape`): the object, or None when absent or blank."""
    if raw is None or (isinstance(raw, str | bytes) and not raw.strip()):
        return None
    if isinstance(raw, str | bytes):
        try:
            check_nesting(raw)
            raw = json.loads(raw)
        except ValueError as error:
            raise mapping_error(f"{name} is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise mapping_error(f"{name} must be {shape}.")
    return raw


def parse_mapping(raw: Any) -> dict[str, Any] | None:
    """The `mapping` form field: a JSON object {apiField: column}, optionally with
    "_ignore": [column, …]. None or blank means no mapping."""
    raw = json_object(raw, "mapping", 'a JSON object {"apiField": "column"}')
    if raw is None:
        return None
    mapping: dict[str, Any] = {}
    for key, value in raw.items():
        if key == IGNORE_KEY:
            ignored = [value] if isinstance(value, str) else value
            if not isinstance(ignored, list) or not all(isinstance(v, str) for v in ignored):
                raise mapping_error(f"mapping.{IGNORE_KEY} must be a list of column names.")
            mapping[key] = ignored
        elif not isinstance(value, str) or not value.strip():
            raise mapping_error(f"mapping.{key} must be the name of a column of the file.")
        else:
            mapping[key] = value
    return mapping


def plan_import(
    handler: type[Handler],
    headers: list[str],
    mapping: dict[str, Any] | None = None,
    *,
    decimal_comma: bool = False,
) -> ImportPlan:
    """Match the file's headers (and the mapping) to the handler's fields; raises
    INVALID_MAPPING listing every problem at once."""
    layout = layout_for(handler)
    mapping = dict(mapping or {})
    ignore = {name.strip().casefold() for name in mapping.pop(IGNORE_KEY, [])}
    sources, problems = _mapped_sources(layout, headers, mapping)
    ignored, unknown = _header_sources(layout, headers, ignore, sources, problems)
    if problems or unknown:
        problems += [
            _problem(header, f"Not a field of {layout.entity}.", "UNKNOWN_COLUMN")
            for header in unknown
        ]
        raise mapping_error(_summary(layout, unknown, problems), problems)
    if not sources:
        raise mapping_error(f"No column of the file is a field of {layout.entity}.")
    ordered = sorted(sources.values(), key=lambda source: layout.columns.index(source.column))
    return ImportPlan(layout, tuple(ordered), tuple(ignored), decimal_comma)


def _mapped_sources(layout: Layout, headers: list[str], mapping: dict) -> tuple[dict, list]:
    """The fields the mapping reads, by column name, and what is wrong with the mapping."""
    by_folded = {header.casefold(): header for header in headers if header}
    sources: dict[str, Source] = {}
    problems: list[dict] = []
    for api_field, wanted in mapping.items():
        column = layout.resolve(api_field)
        header = by_folded.get(str(wanted).strip().casefold())
        if column is None or column.computed:
            problems.append(
                _problem(api_field, f"Not a field of {layout.entity}.", "UNKNOWN_FIELD")
            )
        elif header is None:
            problems.append(
                _problem(api_field, f"Column '{wanted}' is not in the file.", "UNKNOWN_COLUMN")
            )
        elif column.name in sources:
            problems.append(_problem(api_field, "Mapped more than once.", "DUPLICATE"))
        else:
            sources[column.name] = Source(header, column)
    return sources, problems


def _header_sources(layout, headers, ignore, sources, problems) -> tuple[list, list]:
    """Add the fields the other headers name to `sources`; returns (ignored headers,
    unknown headers) and adds two headers naming one field to `problems`."""
    mapped_fields = set(sources)
    mapped_headers = {source.header for source in sources.values()}
    ignored, unknown = [], []
    for header in headers:
        if not header or header in mapped_headers:
            continue
        column = layout.resolve(header)
        result_column = column is None and header in RESULT_COLUMNS  # a field's name wins
        if header.casefold() in ignore or result_column or (column and column.computed):
            ignored.append(header)
        elif column is None:
            unknown.append(header)
        elif column.name in mapped_fields:
            ignored.append(header)  # the mapping reads this field from another column
        elif column.name in sources:
            message = f"Names the same field as column '{sources[column.name].header}'."
            problems.append(_problem(header, message, "DUPLICATE"))
        else:
            sources[column.name] = Source(header, column)
    return ignored, unknown


def _problem(name: str, message: str, code: str) -> dict:
    return {"field": name, "message": message, "code": code}


def _summary(layout: Layout, unknown: list[str], problems: list[dict]) -> str:
    if unknown and len(unknown) == len(problems):
        return (
            f"Unknown columns for {layout.entity}: {', '.join(unknown)}. Rename them to field "
            f'names, map them in `mapping`, or list them under "{IGNORE_KEY}".'
        )
    return f"The columns of the file do not match the fields of {layout.entity}."


def read_operations(
    handler: type[Handler],
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    headers: list[str] | None = None,
    mapping: dict[str, Any] | None = None,
    chunk_size: int | None = None,
    decimal_comma: bool | None = None,
) -> Iterator[FileChunk]:
    """Chunks of at most `chunk_size` (default: the handler's max_records) operations, read
    lazily from `rows` (a reader from readers.py, or any iterable of (row_number, {header:
    text}) with `headers` given). The plan is checked now, so a mapping error raises before
    anything is read; decimal_comma defaults to "the file is semicolon-separated"."""
    if headers is None:
        headers = rows.headers
    if decimal_comma is None:
        decimal_comma = getattr(rows, "delimiter", None) == ";"
    plan = plan_import(handler, headers, mapping, decimal_comma=decimal_comma)
    return planned_operations(plan, rows, chunk_size or handler.max_records)


def planned_operations(
    plan: ImportPlan, rows: Iterable[tuple[int, dict[str, str]]], size: int
) -> Iterator[FileChunk]:
    """read_operations() by a plan already made: chunks of at most `size` operations."""
    if plan.layout.has_lines:
        return _chunked(_documents(plan, rows), size, plan.layout.list_name)
    return _chunked(_records(plan, rows), size, None)


# Rows to operations ------------------------------------------------------------------------

# (operation, row number, line rows, problems)
Built = tuple[dict, int, list[int], list[Detail]]


def _chunked(built: Iterator[Built], size: int, list_name: str | None) -> Iterator[FileChunk]:
    chunk = FileChunk(0, list_name=list_name)
    for operation, row_number, line_rows, problems in built:
        chunk.operations.append(operation)
        chunk.row_numbers.append(row_number)
        chunk.line_rows.append(line_rows)
        chunk.problems.append(problems)
        if len(chunk) == size:
            yield chunk
            chunk = FileChunk(chunk.first_index + size, list_name=list_name)
    if chunk.operations:
        yield chunk


def _records(plan: ImportPlan, rows: Iterable[tuple[int, dict[str, str]]]) -> Iterator[Built]:
    """Entities without lines: one row, one operation. The operation is built as the cells
    are read — what _operation() makes of them — in one pass over the columns, each knowing
    beforehand where its value goes: a row is every cell of a file."""
    decimal_comma = plan.decimal_comma
    readers = [
        (header, column, numeric, _destination(column))
        for header, column, numeric in _cell_readers(plan)
    ]
    for row_number, row in rows:
        values: dict[Column, str] = {}
        operation, reference_id, data = DEFAULT_OPERATION, None, {}
        for header, column, numeric, destination in readers:
            raw = row.get(header)
            if not raw or not (
                value := cell_value(raw, numeric=numeric, decimal_comma=decimal_comma)
            ):
                continue
            values[column] = value
            if destination is _OPERATION:
                operation = value.lower()
            elif destination is _REFERENCE_ID:
                reference_id = value
            elif destination is not None:
                parents, leaf = destination
                target = data
                for part in parents:
                    target = target.setdefault(part, {})
                target[leaf] = value
        if values:
            if operation == "delete":
                data = _only(data, values, operation)
            operation_body = {"operation": operation, "referenceId": reference_id, "data": data}
            yield operation_body, row_number, [], _row_problems(row, row_number)


_OPERATION, _REFERENCE_ID = object(), object()


def _destination(column: Column):
    """Where _operation() puts a column's value: the operation, the referenceId, nowhere
    (another meta column) or (the parents of its path in the data, its key)."""
    if column.name == OPERATION_COLUMN:
        return _OPERATION
    if column.name == REFERENCE_ID_COLUMN:
        return _REFERENCE_ID
    if column.scope == META:
        return None
    return column.path[:-1], column.path[-1]


def _row_problems(row: dict, row_number: int) -> list[Detail]:
    extra = row.get(EXTRA_CELLS)
    if not extra:
        return []
    message = (
        f"Row {row_number} has {len(extra)} more values than the header has columns; "
        "a value that holds the delimiter must be in double quotes."
    )
    return [Detail("row", message, FieldCode.INVALID_VALUE)]


def _cell_readers(plan: ImportPlan, scopes=(META, HEADER, LINE)):
    return [(s.header, s.column, s.numeric) for s in plan.sources if s.column.scope in scopes]


def _operation(values: dict[Column, str], lines: list[dict] | None = None, list_name=None):
    operation = DEFAULT_OPERATION
    reference_id = None
    data: dict[str, Any] = {}
    for column, value in values.items():
        if column.name == OPERATION_COLUMN:
            operation = value.lower()
        elif column.name == REFERENCE_ID_COLUMN:
            reference_id = value
        elif column.scope != META:
            _put(data, column.path, value)
    if operation == "delete":
        data = _only(data, values, operation)
    if lines:
        data[list_name] = lines
    return {"operation": operation, "referenceId": reference_id, "data": data}


def _only(data: dict, values: dict[Column, str], operation: str) -> dict:
    """The fields the operation's schema takes (a delete takes the identifiers)."""
    kept: dict[str, Any] = {}
    for column, value in values.items():
        if column.scope == HEADER and operation in column.operations:
            _put(kept, column.path, value)
    return kept


def _put(data: dict, path: tuple[str, ...], value: str) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


@dataclass
class _Document:
    first_row: int
    key: str | None
    header: dict[Column, str]
    header_rows: dict[Column, int]
    lines: list[dict] = field(default_factory=list)
    line_rows: list[int] = field(default_factory=list)
    problems: list[Detail] = field(default_factory=list)

    def merge(self, values: dict[Column, str], row_number: int) -> None:
        for column, value in values.items():
            if column not in self.header:
                self.header[column], self.header_rows[column] = value, row_number
            elif self.header[column] != value:
                first = self.header_rows[column]
                self.problems.append(
                    Detail(
                        column.name,
                        f"Row {row_number} has '{value}' but row {first} of the same "
                        f"document has '{self.header[column]}'.",
                        FieldCode.INVALID_VALUE,
                    )
                )


def _documents(plan: ImportPlan, rows: Iterable[tuple[int, dict[str, str]]]) -> Iterator[Built]:
    """Entities with lines: consecutive rows of one reference make one document."""
    layout = plan.layout
    header_readers = _cell_readers(plan, (META, HEADER))
    line_readers = _cell_readers(plan, (LINE,))
    group = layout.by_name.get(layout.group_column)
    keep_lines = (layout.max_lines or 0) + 1  # one over the maximum: the schema says too many
    document: _Document | None = None
    for row_number, row in rows:
        header, line = {}, {}
        for name, column, numeric in header_readers:
            value = cell_value(row.get(name), numeric=numeric, decimal_comma=plan.decimal_comma)
            if value is not None:
                header[column] = value
        for name, column, numeric in line_readers:
            value = cell_value(row.get(name), numeric=numeric, decimal_comma=plan.decimal_comma)
            if value is not None:
                line[column.path[-1]] = value
        if not header and not line:
            continue
        problems = _row_problems(row, row_number)
        key = header.get(group)
        continues = document is not None and (key == document.key if key else not header)
        if not continues:
            if document is not None:
                yield _built(document, layout.list_name)
            document = _Document(row_number, key, header, dict.fromkeys(header, row_number))
        else:
            document.merge(header, row_number)
        document.problems += problems
        if line and len(document.lines) < keep_lines:
            document.lines.append(line)
            document.line_rows.append(row_number)
    if document is not None:
        yield _built(document, layout.list_name)


def _built(document: _Document, list_name: str) -> Built:
    operation = _operation(document.header, document.lines, list_name)
    return operation, document.first_row, document.line_rows, document.problems


# Cells -------------------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_NUMBER_SPACES = re.compile(r"[\s\u00a0\u202f']")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+")  # "1,234,567"
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]{1,2}")


def cell_value(raw: str | None, *, numeric: bool = False, decimal_comma: bool = False):
    """A cell's text as a field value: None when blank; trimmed; the apostrophe an export
    put before = + - @ removed; numbers in a plain decimal form."""
    if not raw:
        return None
    value = raw.strip()
    if not value:
        return None
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_TRIGGERS:
        value = value[1:]
    if numeric:
        value = number_text(value, decimal_comma=decimal_comma)
    return value


def number_text(value: str, *, decimal_comma: bool = False) -> str:
    """ "1.234,56" and "1,234.56" → "1234.56"; "10,5" → "10.5"; "1,500" → "1500" unless
    commas are decimal; "1E3" → "1000". Anything else is left for the field's parser to
    judge."""
    if _PLAIN_NUMBER.fullmatch(value):  # "30", "-1234.50": already plain, as most are
        return value
    value = _ascii_digits(_NUMBER_SPACES.sub("", value))
    comma, dot = value.rfind(","), value.rfind(".")
    if comma >= 0 and dot >= 0:
        point, separator = (",", ".") if comma > dot else (".", ",")
        return value.replace(separator, "").replace(point, ".")
    if comma >= 0:
        return _commas(value, decimal_comma=decimal_comma)
    if _SCIENTIFIC.fullmatch(value):
        return format(Decimal(value), "f")
    return value


def _commas(value: str, *, decimal_comma: bool) -> str:
    """A number whose only separators are commas: thousands where they group three digits
    (and commas are not decimal), else one comma is the decimal point."""
    if _GROUPED.fullmatch(value) and not (decimal_comma and value.count(",") == 1):
        return value.replace(",", "")
    if value.count(",") == 1:
        return value.replace(",", ".")
    return value


def _ascii_digits(value: str) -> str:
    """Digits of any script (Arabic-Indic, full-width …) as 0-9, as Decimal() reads them."""
    if value.isascii():
        return value
    return "".join(str(unicodedata.decimal(char, char)) for char in value)


# Operations back to rows -------------------------------------------------------------------


def operation_rows(
    handler: type[Handler], operation: str, data: dict, *, reference_id: str | None = None
) -> list[dict[str, Any]]:
    """The spreadsheet rows {column: value} that read back as this operation: the inverse
    of read_operations, for exports that must upload again (a failed-rows CSV). A document
    with lines gives one row per line, its fields on the first and its reference on each.
    Values are returned as they are (booleans as true/false); pass them through
    security.safe_cell when writing. Fields that are not columns are left out."""
    layout = layout_for(handler)
    first: dict[str, Any] = {}
    if operation != DEFAULT_OPERATION or len(layout.operations) > 1:
        first[OPERATION_COLUMN] = operation
    if reference_id is not None:
        first[REFERENCE_ID_COLUMN] = reference_id
    for column in layout.input_columns:
        if column.scope == HEADER:
            value = _dig(data, column.path)
            if value is not None:
                first[column.name] = _exported(value)
    lines = data.get(layout.list_name) if layout.has_lines else None
    if not isinstance(lines, list) or not lines:
        return [first]
    group = layout.group_column
    rows = []
    for position, line in enumerate(lines):
        row = dict(first) if position == 0 else ({group: first[group]} if group in first else {})
        for column in layout.input_columns:
            if column.scope == LINE and isinstance(line, dict):
                value = _dig(line, column.path)
                if value is not None:
                    row[column.name] = _exported(value)
        rows.append(row)
    return rows


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return None if isinstance(data, dict | list) else data


def _exported(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
