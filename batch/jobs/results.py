"""Reading a job's stored results back: pages of JSON, and the rows that did not go in as
a CSV (a workbook, a sheet per entity, for a batch of several) ready to fix and upload again.
Past their retention (BATCH_RESULTS_RETENTION_DAYS, the sweep: batch.jobs.sweep) a job's
results are gone, and each of these says so at once."""

import csv
import io
from collections import defaultdict
from collections.abc import Iterator

from openpyxl import Workbook

from batch.engine.codes import RequestCode, Status
from batch.engine.composite import COMPOSITE, ENTITY_ORDER, resolved_refs
from batch.engine.handlers import Handler, get_handler
from batch.files.columns import layout_for
from batch.files.mapping import operation_rows
from batch.files.security import safe_cell
from batch.files.templates import INSTRUCTIONS_SHEET
from batch.jobs.processing import loads
from batch.jobs.status import iso
from batch.models import BatchChunk, BatchJob, ChunkStatus
from bigledger.errors import Gone

NOT_WRITTEN = {Status.FAILED, Status.SKIPPED, Status.ROLLED_BACK}
# Outcomes after which a "$ref:" to the operation can name its record by id.
MADE = frozenset({Status.CREATED, Status.UPDATED, Status.UNCHANGED})


def results_kept(job: BatchJob) -> None:
    """Refuse (Gone) to read the results of a job whose results were deleted."""
    if job.results_deleted_at is None:
        return
    raise Gone(
        RequestCode.RESULTS_DELETED,
        f"The results of {job.public_id} were deleted on "
        f"{job.results_deleted_at:%Y-%m-%d}, its retention over; its status and counts "
        "remain.",
        details=[{"jobId": job.public_id, "resultsDeletedAt": iso(job.results_deleted_at)}],
    )


def results_page(job: BatchJob, *, start: int, stop: int, status: str | None = None) -> list:
    """Results with index in [start, stop) — only the chunks covering the range are read.
    With `status`, the page is over the records with that status."""
    results_kept(job)
    if status:
        matching = (result for result in iter_results(job) if result["status"] == status)
        return [result for position, result in enumerate(matching) if start <= position < stop]
    if job.entity == COMPOSITE:  # chunks in dependency order: any may hold the range
        found = (result for result in iter_results(job) if start <= result["index"] < stop)
        return sorted(found, key=lambda result: result["index"])
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
    """Every stored result in order, one chunk in memory at a time (refused at once, not
    while streaming, when the results are gone)."""
    results_kept(job)
    return _stored_results(job)


def _stored_results(job: BatchJob) -> Iterator[dict]:
    chunk_ids = job.chunks.filter(status=ChunkStatus.DONE).order_by("position")
    for pk in chunk_ids.values_list("pk", flat=True):
        yield from loads(BatchChunk.objects.only("results").get(pk=pk).results)


def not_written(job: BatchJob) -> Iterator[dict]:
    return (result for result in iter_results(job) if result["status"] in NOT_WRITTEN)


ERROR_COLUMNS = ("errorCode", "errorField", "errorMessage", "errorDetails")


def failed_rows_columns(handler: type[Handler]) -> list[str]:
    """The template's columns (with the operation and referenceId columns), between the
    original row number and why the row did not go in — columns the importer ignores."""
    names = [column.name for column in layout_for(handler).input_columns]
    return ["rowNumber", *names, *ERROR_COLUMNS]


def failed_rows_csv(job: BatchJob) -> Iterator[str]:
    """CSV lines of the records that did not go in, as the rows that read back as them
    (one per line for a document with lines), each with why: fix the cells and upload the
    file again. Cells a spreadsheet would run as formulas are neutralised."""
    results_kept(job)
    return _failed_rows_lines(job)


def _failed_rows_lines(job: BatchJob) -> Iterator[str]:
    handler = get_handler(job.entity)
    columns = failed_rows_columns(handler)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")

    def line(row: dict) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({name: safe_cell(value) for name, value in row.items()})
        return buffer.getvalue()

    yield line(dict(zip(columns, columns, strict=True)))
    for result in not_written(job):
        for row in _failed_rows(handler, result, _original(result)):
            yield line(row)


def _failed_rows(handler: type[Handler], result: dict, data: dict) -> list[dict]:
    """The rows {column: value} of a record that did not go in, with `data` as its fields,
    the first row saying why."""
    rows = operation_rows(
        handler, result["operation"], data, reference_id=result.get("referenceId")
    )
    rows[0].update(_error_cells(result))
    return rows


def made_and_unwritten(job: BatchJob) -> tuple[dict[str, str], list[dict]]:
    """Of a composite job: the ids of the records its operations made, by referenceId (what
    a "$ref:" to them names afterwards), and the results of those that did not go in."""
    made: dict[str, str] = {}
    unwritten: list[dict] = []
    for result in iter_results(job):
        if result["status"] in NOT_WRITTEN:
            unwritten.append(result)
            continue
        record_id = (result.get("data") or {}).get("id")
        if result["status"] in MADE and result.get("referenceId") and record_id:
            made[result["referenceId"]] = record_id
    return made, unwritten


def failed_rows_workbook(job: BatchJob) -> bytes:
    """The records of a composite job that did not go in, as a migration workbook to fix and
    upload again: a sheet per entity (in the order a migration runs them), its template's
    columns and why, each "$ref:" to a record the job made written as that record's id."""
    results_kept(job)
    made, unwritten = made_and_unwritten(job)
    workbook = Workbook(write_only=True)
    instructions = workbook.create_sheet(INSTRUCTIONS_SHEET)  # which an upload passes over
    for line in _workbook_instructions(job, unwritten):
        instructions.append([line])
    by_entity: dict[str, list[dict]] = defaultdict(list)
    for result in unwritten:
        by_entity[result.get("entity")].append(result)
    for entity in ENTITY_ORDER:
        if entity not in by_entity:
            continue
        handler = get_handler(entity)
        columns = failed_rows_columns(handler)
        sheet = workbook.create_sheet(entity)
        sheet.append([safe_cell(name) for name in columns])
        for result in by_entity[entity]:
            for row in _failed_rows(handler, result, resolved_refs(_original(result), made)):
                sheet.append([safe_cell(row.get(name)) for name in columns])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _workbook_instructions(job: BatchJob, unwritten: list[dict]) -> list[str]:
    if not unwritten:
        return [f"Every record of {job.public_id} went in: there is nothing to correct."]
    lines = [
        f"The {len(unwritten):,} records of {job.public_id} that did not go in, a sheet per "
        "entity.",
        "Correct the cells and upload this workbook again as a migration: the columns "
        "rowNumber, errorCode, errorField, errorMessage and errorDetails are ignored then.",
        "A record another one failed to make is still named by its referenceId; one that "
        "went in is named by its id.",
    ]
    nameless = [r["index"] for r in unwritten if r.get("entity") not in ENTITY_ORDER]
    if nameless:  # a request's operation naming no entity: it has no sheet to go on
        shown = ", ".join(f"operations[{index}]" for index in nameless[:20])
        more = f" and {len(nameless) - 20:,} more" if len(nameless) > 20 else ""
        lines.append(f"Not here, as they name no entity: {shown}{more}.")
    return lines


def _error_cells(result: dict) -> dict:
    error = result.get("error") or {}
    details = "; ".join(
        f"{d.get('field')}: {d.get('message')} ({d.get('code')})" for d in error.get("details", [])
    )
    return {
        "rowNumber": (error.get("context") or {}).get("rowNumber", result["index"] + 1),
        "errorCode": error.get("code", ""),
        "errorField": error.get("field", ""),
        "errorMessage": error.get("message", ""),
        "errorDetails": details,
    }


def _original(result: dict) -> dict:
    error = result.get("error") or {}
    return (error.get("context") or {}).get("originalData") or {}
