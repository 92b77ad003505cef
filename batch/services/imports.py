"""File imports and templates: the services the API's import and template endpoints and the
admin call, so a spreadsheet meets the same rules whichever door it comes in by.

A file is read lazily (batch.files) into chunks of the entity's maximum. A file that fits in
one chunk runs at once as a sync batch; a larger one (or any, with options.async) becomes an
async job whose chunks are stored as they are read, so no more than a few chunks of a
million-row file are ever held. Operations keep their spreadsheet row as rowNumber (a
document's lines keep theirs, for errors inside a line) and their index in the whole file."""

import itertools
from dataclasses import dataclass, replace
from typing import BinaryIO

from django.conf import settings

from batch.engine.codes import RequestCode
from batch.engine.composite import CompositeRequest, parse_composite_request
from batch.engine.envelope import BatchOptions, BatchRequest, Operation, parse_operations
from batch.engine.executor import BatchOutcome
from batch.engine.handlers import Handler
from batch.files.mapping import IGNORE_KEY, FileChunk, parse_mapping
from batch.files.readers import CsvRows, XlsxRows, open_csv, open_xlsx
from batch.files.reading import read_file
from batch.files.sheets import Migration, read_migration, workbook_sheets, zip_sheets
from batch.files.templates import TEMPLATE_LIST_LIMIT, Lists, csv_template, excel_template
from batch.files.transforms import transforms_object
from batch.files.workbook import SHEETS, migration_workbook
from batch.jobs.codec import dumps
from batch.jobs.composite import submit_composite_job
from batch.jobs.submit import submit_job_from_chunks
from batch.models import BatchJob, JobKind
from batch.services import profiles
from batch.services.batches import handler_for, run_sync_batch, run_sync_composite
from bigledger.errors import RequestError
from bigledger.models import Company

CSV, XLSX = "csv", "xlsx"


@dataclass(frozen=True)
class ImportOutcome:
    """A file's import: the sync batch it ran as (with its outcome), or the async job it was
    queued as (`outcome` None)."""

    job: BatchJob
    outcome: BatchOutcome | None = None

    @property
    def is_async(self) -> bool:
        return self.outcome is None


def open_rows(file: BinaryIO, kind: str) -> CsvRows | XlsxRows:
    """Open an uploaded file (binary, seekable) of `kind` "csv" or "xlsx"; a file that is
    not one is a RequestError(INVALID_FILE)."""
    max_rows = settings.BATCH_FILE_MAX_ROWS
    if kind == CSV:
        return open_csv(file, max_rows=max_rows)
    if kind == XLSX:
        return open_xlsx(file, max_rows=max_rows)
    raise ValueError(f"kind must be {CSV!r} or {XLSX!r}, not {kind!r}")


def import_file(
    *,
    company: Company,
    user,
    entity: str,
    file: BinaryIO,
    kind: str,
    mapping: dict | str | None = None,
    options: BatchOptions,
    source: str,
    file_name: str = "",
    mapping_profile: str | None = None,
    transforms: dict | str | None = None,
) -> ImportOutcome:
    """Import an uploaded CSV or XLSX file of `entity` records. `mapping` is {apiField:
    column} (or its JSON), `mapping_profile` the name of a saved profile (its columns and
    transformations), `transforms` {column: [transformation, …]} (batch.files.transforms);
    `source` ("csv", "excel", "admin") is recorded on the batch. Request-level problems
    (unknown entity, unreadable file, bad mapping) raise RequestError and leave nothing
    behind."""
    handler_for(entity)  # an unknown entity is 404 before the file is looked at
    return import_rows(
        company=company,
        user=user,
        entity=entity,
        rows=open_rows(file, kind),
        mapping=mapping,
        options=options,
        source=source,
        file_name=file_name,
        mapping_profile=mapping_profile,
        transforms=transforms,
    )


def import_rows(
    *,
    company: Company,
    user,
    entity: str,
    rows: CsvRows | XlsxRows,
    mapping: dict | str | None = None,
    options: BatchOptions,
    source: str,
    file_name: str = "",
    mapping_profile: str | None = None,
    transforms: dict | str | None = None,
) -> ImportOutcome:
    """import_file() for a file already opened with open_rows(). The job keeps the file's
    headers and each operation's original cells, for a failed-rows CSV in the file's own
    columns."""
    handler = handler_for(entity)
    kind = file_kind(options)
    handler.check_options(options)
    mapping, transforms = requested_mapping(company, entity, mapping, mapping_profile, transforms)
    read = read_file(handler, rows, mapping=mapping, transforms=transforms, company=company)
    chunks = read.chunks
    first = next(chunks, None)
    if first is None:
        raise RequestError(RequestCode.INVALID_FILE, "The file has no rows below its header.")
    seen: dict[str, int] = {}  # referenceIds across the whole file
    if not options.run_async:
        second = next(chunks, None)
        if second is None:
            request = BatchRequest(operations=file_operations(first, seen), options=options)
            job, outcome = run_sync_batch(
                company=company,
                user=user,
                entity=entity,
                request=request,
                source=source,
                kind=kind,
                file_name=file_name,
            )
            keep_sync_cells(job, read.headers, first.cells)
            return ImportOutcome(job, outcome)
        chunks = itertools.chain([second], chunks)
    job = submit_job_from_chunks(
        company=company,
        user=user,
        handler=handler,
        chunks=(file_operations(chunk, seen) for chunk in itertools.chain([first], chunks)),
        options=replace(options, run_async=True),
        source=source,
        kind=kind,
        file_name=file_name,
        file_columns=read.headers,
        # Workers may run the file's rows as they are stored once nothing left to read can
        # refuse the file: a repeated referenceId would, and only reading all of it tells.
        checked=not read.names_reference_ids and rows.check_whole(),
    )
    return ImportOutcome(job)


def requested_mapping(company, entity, mapping, profile_name, transforms) -> tuple:
    """The mapping and transformations an import asks for: a named profile's, with the
    request's own mapping and transformations taking precedence, column by column."""
    mapping, transforms = parse_mapping(mapping), transforms_object(transforms)
    if not profile_name:
        return mapping, transforms
    profile = profiles.import_profile(company=company, entity=entity, name=profile_name)
    merged = {**profile.mapping, **(mapping or {})}
    ignored = [*profile.mapping.get(IGNORE_KEY, []), *(mapping or {}).get(IGNORE_KEY, [])]
    if ignored:
        merged[IGNORE_KEY] = ignored
    return merged, {**profile.transforms, **(transforms or {})}


def keep_sync_cells(job: BatchJob, headers: list[str], cells: list) -> None:
    """A sync file batch: its headers on the job, its operations' cells on its one chunk."""
    BatchJob.objects.filter(pk=job.pk).update(file_columns=headers)
    job.file_columns = headers
    job.chunks.filter(position=0).update(file_cells=dumps(cells))


def file_kind(options: BatchOptions) -> str:
    """A file run with validateOnly is a preview (never counted as an import, and swept
    away after a while); any other file run is an import."""
    return JobKind.PREVIEW if options.validate_only else JobKind.IMPORT


def file_operations(chunk: FileChunk, seen: dict[str, int]) -> list[Operation]:
    """A chunk's operations, numbered in the whole file, each with its spreadsheet row, its
    lines' rows and what the file says is wrong with it."""
    operations = parse_operations(
        chunk.operations, row_numbers=chunk.row_numbers, start=chunk.first_index, seen=seen
    )
    for operation, line_rows, problems in zip(
        operations, chunk.line_rows, chunk.problems, strict=True
    ):
        operation.line_rows, operation.problems = line_rows, problems
    for operation, cells in zip(operations, chunk.cells, strict=False):
        operation.cells = cells
    return operations


# The migration workbook: several entities in one file ---------------------------------------


def open_migration(file: BinaryIO, kind: str) -> Migration:
    """The operations of an uploaded migration file: an .xlsx of one sheet per entity
    (`kind` "xlsx") or a zip of <entity>.csv files ("csv"). More than an async job takes
    (BATCH_ASYNC_MAX_OPERATIONS) is BATCH_TOO_LARGE, found without reading further."""
    max_rows = settings.BATCH_FILE_MAX_ROWS
    if kind == CSV:
        sheets = zip_sheets(file, max_rows=max_rows)
    elif kind == XLSX:
        sheets = workbook_sheets(file, max_rows=max_rows)
    else:
        raise ValueError(f"kind must be {CSV!r} or {XLSX!r}, not {kind!r}")
    return read_migration(sheets, limit=settings.BATCH_ASYNC_MAX_OPERATIONS)


def import_migration(
    *,
    company: Company,
    user,
    migration: Migration,
    mapping: dict | str | None = None,
    options: BatchOptions,
    source: str = "api",
    file_name: str = "",
) -> ImportOutcome:
    """Run a migration file as one request of several entities (POST /v1/batch): entities
    in dependency order, so a sheet names what an earlier sheet creates by its key; each
    result's error names its sheet and row. A file of more operations than a sync request
    takes, or sent with options.async, becomes a job."""
    if parse_mapping(mapping) is not None:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            "A file of several sheets takes no mapping: name each sheet's columns as the "
            "migration template does.",
            details=[{"field": "mapping", "message": "Not taken here."}],
        )
    if options.run_async or len(migration) > settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS:
        request = migration_request(migration, replace(options, run_async=True))
        job = submit_composite_job(
            company=company,
            user=user,
            request=request,
            source=source,
            kind=file_kind(options),
            file_name=file_name,
        )
        return ImportOutcome(job)
    job, outcome = run_sync_composite(
        company=company,
        user=user,
        request=migration_request(migration, options),
        source=source,
        kind=file_kind(options),
        file_name=file_name,
    )
    return ImportOutcome(job, outcome)


def migration_request(migration: Migration, options: BatchOptions) -> CompositeRequest:
    """The composite request of a migration file, each operation keeping where it came
    from: its sheet, its row, its lines' rows and what the file says is wrong with it."""
    payload = {"operations": migration.operations, "options": options.as_json()}
    request = parse_composite_request(payload)
    origins = zip(
        migration.sheets,
        migration.row_numbers,
        migration.line_rows,
        migration.problems,
        strict=True,
    )
    for step, (sheet, row_number, line_rows, problems) in zip(request.steps, origins, strict=True):
        op = step.op
        op.sheet, op.row_number, op.line_rows = sheet, row_number, line_rows
        op.problems = [*op.problems, *problems]
    return request


# Templates ------------------------------------------------------------------------------------


def company_lists(*, handler: type[Handler], company: Company) -> Lists:
    """The company's own codes for the handler's reference columns, keyed by field name
    ("taxCode", "customerNumber" …), from the handler's `template_lists(company)`."""
    lists = handler.template_lists(company)
    return {name: list(values)[:TEMPLATE_LIST_LIMIT] for name, values in lists.items()}


def csv_template_for(*, company: Company, entity: str) -> str:
    """The CSV template of `entity`: its header row and an example using the company's codes."""
    handler = handler_for(entity)
    return csv_template(handler, company_lists(handler=handler, company=company))


def excel_template_for(*, company: Company, entity: str) -> bytes:
    """The .xlsx template of `entity`, its dropdowns filled with the company's own codes."""
    handler = handler_for(entity)
    return excel_template(handler, company_lists(handler=handler, company=company))


def migration_template_for(*, company: Company) -> bytes:
    """The migration workbook: a sheet per entity, in the order a migration runs, their
    dropdowns filled with the company's own codes and with what the other sheets hold."""
    handlers = [handler_for(entity) for entity in SHEETS]
    lists = {
        handler.entity: company_lists(handler=handler, company=company) for handler in handlers
    }
    return migration_workbook(handlers, lists)
