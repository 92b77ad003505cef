"""An import's preview as a person reads it: each row of the file with what the import would
do to it — create a record, change these fields of a stored one (old → new), leave it
unchanged, or refuse it, naming the field, the cell as uploaded ("1,500.555") and the
field's own code (INVALID_AMOUNT), not only the record's VALIDATION_ERROR.

The rows are read again from the stored upload beside the preview's stored results, a page
at a time: a sync preview (one batch) whole, a preview job's page by page from its chunks.
Old values are read for the shown rows' updates and upserts only."""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from batch.admin.uploads import StoredUpload, file_cells, file_operations, summary
from batch.engine.codes import Status
from batch.engine.handlers import EXTERNAL_ID, Handler
from batch.engine.master import MasterDataHandler
from batch.files.columns import layout_for
from batch.jobs import results as job_results
from batch.models import BatchJob, JobMode
from bigledger.models import Company

PAGE_SIZE = 100
LINE_INDEX = re.compile(r"\[(\d+)\]")
WOULD_LABELS = {
    "create": "Create",
    "update": "Update",
    "unchanged": "Unchanged",
    "delete": "Delete",
    "fail": "Error",
    "skipped": "Skipped",
}
NOT_WRITTEN = {Status.FAILED, Status.SKIPPED, Status.ROLLED_BACK}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a row: the field, the cell as uploaded, the field's code."""

    field: str
    value: str
    code: str
    message: str


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


@dataclass
class PreviewRow:
    row_number: int
    operation: str
    summary: str
    would: str  # a key of WOULD_LABELS
    problems: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def label(self) -> str:
        return WOULD_LABELS[self.would]

    @property
    def failed(self) -> bool:
        return self.would in ("fail", "skipped")


def preview_rows(
    *, handler: type[Handler], company: Company, upload: StoredUpload, results: list[dict]
) -> list[PreviewRow]:
    """The preview rows of `results` (the engine's results of the upload's operations), in
    spreadsheet order."""
    operations = file_operations(upload, handler, company, {result["index"] for result in results})
    wanted = {number for _, number, lines in operations.values() for number in (number, *lines)}
    wanted |= {row_of(result) for result in results if row_of(result)}
    cells = file_cells(upload, wanted)
    headers = headers_by_field(handler, upload, cells)
    stored = stored_records(handler, company, operations.values())
    rows = []
    for result in results:
        operation, row_number, line_rows = operations.get(result["index"], ({}, 0, []))
        data = operation.get("data") or {}
        error = result.get("error")
        row = PreviewRow(
            row_number=row_of(result) or row_number,
            operation=result.get("operation") or "",
            summary=summary(data),
            would=_would(result),
        )
        if error:
            row.problems = problems(error, row.row_number, line_rows, cells, headers)
        elif row.would in ("update", "upsert"):
            instance = stored.get(_identity(handler, data))
            if instance is None:
                row.would = "create" if row.would == "upsert" else "update"
            else:
                row.changes = changes(handler, row.operation, data, instance)
                row.would = "update" if row.changes else "unchanged"
        rows.append(row)
    return sorted(rows, key=lambda row: row.row_number)


def row_of(result: dict) -> int | None:
    return ((result.get("error") or {}).get("context") or {}).get("rowNumber")


def _would(result: dict) -> str:
    if result["status"] == Status.SKIPPED:
        return "skipped"
    if result["status"] in NOT_WRITTEN:
        return "fail"
    operation = result.get("operation") or "create"
    return operation if operation in ("create", "update", "upsert", "delete") else "create"


# Problems ---------------------------------------------------------------------------------


def headers_by_field(handler, upload: StoredUpload, cells: dict) -> dict[str, str]:
    """{column name ("address.city"): the file's header it is read from}."""
    layout = layout_for(handler)
    mapping = dict(upload.mapping or {})
    mapping.pop("_ignore", None)
    found = {}
    for api_field, header in mapping.items():
        column = layout.resolve(api_field)
        if column is not None:
            found[column.name] = header
    for row in cells.values():
        for header in row:
            column = layout.resolve(header)
            if column is not None and column.name not in found and header not in mapping.values():
                found[column.name] = header
    return found


def problems(error: dict, row_number: int, line_rows, cells, headers) -> list[Problem]:
    """One problem per field detail (or the error itself), each with the uploaded cell."""
    details = error.get("details") or [
        {"field": error.get("field"), "code": error.get("code"), "message": error.get("message")}
    ]
    found = []
    for detail in details:
        path = detail.get("field") or ""
        row = _line_row(path, line_rows) or row_number
        header = headers.get(LINE_INDEX.sub("", path))
        value = cells.get(row, {}).get(header, "") if header else ""
        found.append(
            Problem(path, value, detail.get("code") or error.get("code", ""), detail["message"])
        )
    return found


def _line_row(path: str, line_rows: list[int]) -> int | None:
    match = LINE_INDEX.search(path)
    if match and int(match[1]) < len(line_rows):
        return line_rows[int(match[1])]
    return None


# Old → new -----------------------------------------------------------------------------------


def _identity(handler, data: dict) -> tuple[str, Any] | None:
    if not issubclass(handler, MasterDataHandler):
        return None
    for param in ("id", EXTERNAL_ID, handler.natural_key_param):
        if data.get(param):
            return param, str(data[param])
    return None


def stored_records(handler, company: Company, operations) -> dict:
    """The stored records the update and upsert rows name, {(param, value): record}."""
    if not issubclass(handler, MasterDataHandler):
        return {}
    keys = {
        key
        for operation, _, _ in operations
        if operation.get("operation") in ("update", "upsert")
        and (key := _identity(handler, operation.get("data") or {}))
    }
    if not keys:
        return {}
    attrs = {"id": "public_id", EXTERNAL_ID: "external_id"}
    attrs[handler.natural_key_param] = handler.natural_key
    query = Q()
    for param, attr in attrs.items():
        values = [value for key_param, value in keys if key_param == param]
        if values:
            query |= Q(**{f"{attr}__in": values})
    found = {}
    for record in handler.model.objects.filter(company=company).filter(query):
        for param, attr in attrs.items():
            found[(param, str(getattr(record, attr)))] = record
    return found


def changes(handler, operation: str, data: dict, instance) -> list[Change]:
    """The fields the row would change on the stored record, as the engine reads them."""
    schema = handler.schema_for(operation) or handler.update_schema
    values, _ = schema.clean(data, partial=True)
    found = []
    for path, attr in handler.field_map.items():
        new = _dig(values, path.split("."))
        if new is _MISSING:
            continue
        old = getattr(instance, attr)
        if new is None:
            new = instance._meta.get_field(attr).get_default()
        if old != new and not (old in (None, "") and new in (None, "")):
            found.append(Change(path, _shown(old), _shown(new)))
    return found


_MISSING = object()


def _dig(values: dict, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(values, dict) or part not in values:
            return _MISSING
        values = values[part]
    return values


def _shown(value) -> str:
    if value in (None, ""):
        return "(blank)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Totals --------------------------------------------------------------------------------------


def row_totals(rows: list[PreviewRow]) -> dict[str, int]:
    """What a whole (sync) preview would do: create, update, unchanged, delete, fail."""
    counted = Counter("fail" if row.failed else row.would for row in rows)
    return {key: counted.get(key, 0) for key in ("create", "update", "unchanged", "delete", "fail")}


def job_totals(job: BatchJob) -> dict[str, int | None]:
    """A preview job's totals from its stored results: updates and upserts are told apart
    from unchanged rows page by page only (the old values are read for a page's rows)."""
    counted = Counter()
    for result in job_results.iter_results(job):
        if result["status"] in NOT_WRITTEN:
            counted["fail"] += 1
        else:
            counted[_would(result)] += 1
    return {
        "create": counted["create"],
        "update": counted["update"] + counted["upsert"],
        "unchanged": None,
        "delete": counted["delete"],
        "fail": counted["fail"],
    }


@dataclass
class PreviewPage:
    rows: list[PreviewRow]
    totals: dict[str, int | None]
    count: int  # rows the filter holds, over every page

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // PAGE_SIZE))


def preview_page(
    *, handler, company: Company, upload: StoredUpload, job: BatchJob, page: int, errors_only: bool
) -> PreviewPage:
    """One page of a finished preview. A sync preview (one batch) is read whole, so its
    totals tell updates from unchanged rows; a preview job's totals come from its stored
    results and its page's rows only are read from the file."""
    start = (page - 1) * PAGE_SIZE
    if job.mode == JobMode.SYNC:
        results = list(job_results.iter_results(job))
        rows = preview_rows(handler=handler, company=company, upload=upload, results=results)
        shown = [row for row in rows if row.failed] if errors_only else rows
        return PreviewPage(shown[start : start + PAGE_SIZE], row_totals(rows), len(shown))
    status = Status.FAILED if errors_only else None
    found = job_results.results_page(job, start=start, stop=start + PAGE_SIZE, status=status)
    count = job_results.count_with_status(job, status) if status else job.total_records
    rows = preview_rows(handler=handler, company=company, upload=upload, results=found)
    return PreviewPage(rows, job_totals(job), count)
