"""Reading a job's stored results back: pages of JSON, and the rows that did not go in as
a CSV ready to fix and upload again."""

import csv
import io
from collections.abc import Iterator

from .codes import Status
from .jobs import loads
from .models import BatchChunk, BatchJob, ChunkStatus

NOT_WRITTEN = {Status.FAILED, Status.SKIPPED, Status.ROLLED_BACK}
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def results_page(job: BatchJob, *, start: int, stop: int, status: str | None = None) -> list:
    """Results with index in [start, stop) — only the chunks covering the range are read.
    With `status`, the page is over the records with that status."""
    if status:
        matching = (result for result in iter_results(job) if result["status"] == status)
        return [result for position, result in enumerate(matching) if start <= position < stop]
    chunks = (
        job.chunks.filter(status=ChunkStatus.DONE, first_index__lt=stop)
        .order_by("position")
        .only("first_index", "size", "results")
    )
    page = []
    for chunk in chunks:
        if chunk.first_index + chunk.size <= start:
            continue
        page.extend(r for r in loads(chunk.results) if start <= r["index"] < stop)
    return page


def count_with_status(job: BatchJob, status: str) -> int:
    return sum(1 for result in iter_results(job) if result["status"] == status)


def iter_results(job: BatchJob) -> Iterator[dict]:
    """Every stored result in order, one chunk in memory at a time."""
    chunk_ids = job.chunks.filter(status=ChunkStatus.DONE).order_by("position")
    for pk in chunk_ids.values_list("pk", flat=True):
        yield from loads(BatchChunk.objects.only("results").get(pk=pk).results)


def not_written(job: BatchJob) -> Iterator[dict]:
    return (result for result in iter_results(job) if result["status"] in NOT_WRITTEN)


def flatten(data, prefix: str = "") -> dict[str, object]:
    """{"address": {"city": "KL"}} → {"address.city": "KL"}; lists of lines become
    numbered columns ("items[0].quantity")."""
    flat: dict[str, object] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, list):
        for position, value in enumerate(data):
            flat.update(flatten(value, f"{prefix[:-1]}[{position}]."))
    else:
        flat[prefix[:-1]] = data
    return flat


def safe_cell(value) -> object:
    """Neutralise a cell a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def failed_rows_csv(job: BatchJob) -> Iterator[str]:
    """CSV lines: the operation, its reference, its original fields, and why it did not
    go in. Two passes over the stored results so the header holds every column."""
    columns: dict[str, None] = {}
    for result in not_written(job):
        columns.update(dict.fromkeys(flatten(_original(result))))
    header = [
        "rowNumber",
        "operation",
        "referenceId",
        *columns,
        "errorCode",
        "errorField",
        "errorMessage",
        "errorDetails",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(value) for value in values])
        return buffer.getvalue()

    yield line(header)
    for result in not_written(job):
        error = result.get("error") or {}
        original = flatten(_original(result))
        details = "; ".join(
            f"{d.get('field')}: {d.get('message')} ({d.get('code')})"
            for d in error.get("details", [])
        )
        yield line(
            [
                (error.get("context") or {}).get("rowNumber", result["index"] + 1),
                result["operation"],
                result.get("referenceId") or "",
                *(original.get(column, "") for column in columns),
                error.get("code", ""),
                error.get("field", ""),
                error.get("message", ""),
                details,
            ]
        )


def _original(result: dict) -> dict:
    error = result.get("error") or {}
    return (error.get("context") or {}).get("originalData") or {}
