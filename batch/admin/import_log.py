"""The import log on a job's page: one line per problem of each record that did not go in —
its spreadsheet row, the field, the value it held, the field's own code and the message —
filterable by field and by code, beside the failed rows CSV to fix and upload again.

The value is the cell as uploaded ("1,500.555", before any transformation), read from the
cells a file job keeps per chunk (BatchChunk.file_cells, in the order of the job's
file_columns). The job does not keep the mapping it was read with, so a field's column is
the one the company's mapping profile for these headers maps to it, else the header naming
the field itself, else the one cell holding the value sent; failing all three, the row's
filled cells are shown. A job without cells (JSON batches) shows the value sent.

Read from the job's stored results; a job with many failures shows the first LOG_LINES
lines of the filter (the CSV has them all)."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from batch.admin.import_mapping import saved_profile
from batch.engine.composite import COMPOSITE
from batch.files.columns import layout_for
from batch.jobs import codec
from batch.jobs.results import NOT_WRITTEN
from batch.models import BatchJob, ChunkStatus
from batch.services.batches import handler_for

LOG_LINES = 500
ROW_CELLS_SHOWN = 6  # filled cells of a row shown when the field's column is not known
FIELD_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
LINE_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class LogLine:
    row: int
    field: str
    value: str
    code: str
    message: str


def log_lines(job: BatchJob) -> Iterator[LogLine]:
    """Every problem of the job's unwritten records, in the order they were processed."""
    cells = FileCells(job) if job.file_columns else None
    for result, rows in _unwritten(job):
        error = result.get("error") or {}
        context = error.get("context") or {}
        original = context.get("originalData") or {}
        row = context.get("rowNumber", result["index"] + 1)
        details = error.get("details") or [error]
        for detail in details:
            field = detail.get("field") or ""
            sent = value_at(original, field)
            yield LogLine(
                row=row,
                field=field,
                value=cells.value(field, sent, original, rows) if cells and rows else sent,
                code=detail.get("code") or error.get("code", ""),
                message=detail.get("message") or error.get("message", ""),
            )


def _unwritten(job: BatchJob) -> Iterator[tuple[dict, list]]:
    """(result, the record's rows of file cells or []) of each record that did not go in,
    one chunk in memory at a time."""
    done = job.chunks.filter(status=ChunkStatus.DONE).order_by("position")
    for pk in done.values_list("pk", flat=True):
        chunk = done.model.objects.only("first_index", "results", "file_cells").get(pk=pk)
        cells = codec.loads(chunk.file_cells) if chunk.file_cells else []
        for result in codec.loads(chunk.results):
            if result["status"] not in NOT_WRITTEN:
                continue
            position = result["index"] - chunk.first_index
            yield result, (cells[position] or []) if 0 <= position < len(cells) else []


def value_at(data, field: str) -> str:
    """The value a record sent for "address.city" or "items[2].quantity" ("" when none)."""
    for name, position in FIELD_PART.findall(field):
        if name and isinstance(data, dict):
            data = data.get(name)
        elif position and isinstance(data, list) and int(position) < len(data):
            data = data[int(position)]
        else:
            return ""
    return "" if data is None or isinstance(data, dict | list) else str(data)


class FileCells:
    """A file job's cells as the log shows them: the field's own cell, or the row's."""

    def __init__(self, job: BatchJob):
        self.headers = list(job.file_columns)
        self.columns = field_columns(job)

    def value(self, field: str, sent: str, original: dict, rows: list[list[str]]) -> str:
        row = rows[_row_position(field, original, len(rows))]
        cells = dict(zip(self.headers, row, strict=False))
        header = self.columns.get(LINE_INDEX.sub("", field))
        if header is not None:
            return cells.get(header) or ""
        holding = [h for h, cell in cells.items() if sent and cell.strip() == sent]
        if len(holding) == 1:
            return cells[holding[0]]
        filled = [f"{h}: {cell}" for h, cell in cells.items() if cell.strip()]
        return " · ".join(filled[:ROW_CELLS_SHOWN]) + (
            " …" if len(filled) > ROW_CELLS_SHOWN else ""
        )


def field_columns(job: BatchJob) -> dict[str, str]:
    """{column name ("address.city", "items.quantity"): the file's header read into it}: the
    company's mapping profile for these headers first, then headers naming a field."""
    layout = layout_for(handler_for(job.entity))
    found = {}
    profile = saved_profile(job.company, job.entity, job.file_columns)
    for column in profile.columns if profile else ():
        resolved = layout.resolve(column.get("field") or "") if column.get("field") else None
        if resolved is not None and column["header"] in job.file_columns:
            found.setdefault(resolved.name, column["header"])
    mapped = set(found.values())
    for header in job.file_columns:
        resolved = layout.resolve(header)
        if resolved is not None and header not in mapped:
            found.setdefault(resolved.name, header)
    return found


def _row_position(field: str, original: dict, rows: int) -> int:
    """Which of a record's file rows holds the field: a line field's own row ("items[2].…"),
    counting a header row of its own when the record has one more row than lines."""
    match = LINE_INDEX.search(field)
    if rows <= 1 or not match:
        return 0
    lines = original.get(field.split("[", 1)[0])
    offset = rows - len(lines) if isinstance(lines, list) and len(lines) < rows else 0
    return min(int(match[1]) + offset, rows - 1)


def import_log_context(request, job: BatchJob) -> dict:
    """The job page's import log, filtered by ?log_field= and ?log_code=."""
    if (
        job.entity == COMPOSITE
        or not job.is_finished
        or job.successful_records == job.total_records
        or job.results_deleted_at  # its results went, its retention over
    ):
        return {"import_log": None}
    field, code = request.GET.get("log_field", ""), request.GET.get("log_code", "")
    fields, codes, count, shown = set(), set(), 0, []
    for line in log_lines(job):
        fields.add(line.field)
        codes.add(line.code)
        if (not field or line.field == field) and (not code or line.code == code):
            count += 1
            if len(shown) < LOG_LINES:
                shown.append(line)
    return {
        "import_log": {
            "lines": shown,
            "count": count,
            "fields": sorted(fields),
            "codes": sorted(codes),
            "field": field,
            "code": code,
            "truncated": count > len(shown),
        }
    }
