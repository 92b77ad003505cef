"""The import log on a job's page: one line per problem of each record that did not go in —
its spreadsheet row, the field, the value it held, the field's own code and the message —
filterable by field and by code, beside the failed rows CSV to fix and upload again.

Read from the job's stored results; a job with many failures shows the first LOG_LINES
lines of the filter (the CSV has them all)."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from batch.engine.composite import COMPOSITE
from batch.jobs.results import not_written
from batch.models import BatchJob

LOG_LINES = 500
FIELD_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class LogLine:
    row: int
    field: str
    value: str
    code: str
    message: str


def log_lines(job: BatchJob) -> Iterator[LogLine]:
    """Every problem of the job's unwritten records, in the order they were processed."""
    for result in not_written(job):
        error = result.get("error") or {}
        context = error.get("context") or {}
        original = context.get("originalData") or {}
        row = context.get("rowNumber", result["index"] + 1)
        details = error.get("details") or [error]
        for detail in details:
            field = detail.get("field") or ""
            yield LogLine(
                row=row,
                field=field,
                value=value_at(original, field),
                code=detail.get("code") or error.get("code", ""),
                message=detail.get("message") or error.get("message", ""),
            )


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


def import_log_context(request, job: BatchJob) -> dict:
    """The job page's import log, filtered by ?log_field= and ?log_code=."""
    if (
        job.entity == COMPOSITE
        or not job.is_finished
        or job.successful_records == job.total_records
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
