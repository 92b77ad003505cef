"""Async jobs as the API and the admin act on them: submit, find, cancel, retry, and read
their results back."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError

from batch.engine.codes import ErrorCode, RequestCode
from batch.engine.composite import (
    COMPOSITE,
    CompositeRequest,
    composite_request,
    resolved_refs,
)
from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
from batch.files import file_rows
from batch.jobs import codec, results
from batch.jobs import composite as composite_jobs
from batch.jobs.processing import request_cancel
from batch.jobs.submit import submit_job
from batch.models import BatchJob, ChunkStatus, JobKind, JobMode, JobStatus
from batch.services.batches import handler_for
from bigledger.errors import Conflict, NotFound, RequestError
from bigledger.models import Company


def submit_batch_job(*, company: Company, user, entity: str, request: BatchRequest) -> BatchJob:
    """Store an async batch as a job; a worker picks it up once this commits."""
    handler = handler_for(entity)
    handler.check_options(request.options)
    return submit_job(company=company, user=user, handler=handler, request=request)


def submit_composite_job(*, company: Company, user, request: CompositeRequest) -> BatchJob:
    """Store a migration of several entities (POST /v1/batch with options.async) as a job."""
    return composite_jobs.submit_composite_job(company=company, user=user, request=request)


def find_job(*, company: Company, job_id: str) -> BatchJob:
    """The company's job or sync batch; another company's is as absent as a missing one."""
    try:  # get(), not first(): an unordered query, built in half the time (jobs are polled)
        return (
            BatchJob.objects.for_company(company).select_related("retry_of").get(public_id=job_id)
        )
    except BatchJob.DoesNotExist:
        raise NotFound(RequestCode.NOT_FOUND, f"No job '{job_id}'.") from None


def cancel_job(*, job: BatchJob) -> BatchJob:
    """Queued jobs stop at once; a processing job stops before its next chunk."""
    if job.mode != JobMode.ASYNC:
        raise Conflict(RequestCode.INVALID_REQUEST, "A sync batch has already finished.")
    return request_cancel(job)


def job_results_page(*, job: BatchJob, start: int, stop: int, status: str | None) -> list:
    return results.results_page(job, start=start, stop=stop, status=status)


def count_job_results(*, job: BatchJob, status: str | None) -> int:
    return results.count_with_status(job, status) if status else job.total_records


def job_results(*, job: BatchJob) -> Iterator[dict]:
    return results.iter_results(job)


def failed_rows_csv(*, job: BatchJob) -> Iterator[str]:
    if job.entity == COMPOSITE:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            "A batch of several entities has no failed-rows CSV (its rows have no one set of "
            "columns): its failed rows are a workbook, a sheet per entity (?format=xlsx).",
        )
    if job.file_columns:  # from a file: its own headers and cells, to fix and upload again
        results.results_kept(job)
        return file_rows.failed_rows_csv(job.file_columns, _chunks_with_cells(job))
    return results.failed_rows_csv(job)


def failed_rows_workbook(*, job: BatchJob) -> bytes:
    if job.entity != COMPOSITE:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            "The failed rows of a batch of one entity are a CSV (?format=csv); a workbook "
            "is for a batch of several.",
        )
    return results.failed_rows_workbook(job)


def _chunks_with_cells(job: BatchJob):
    """(first index, results, cells) of each done chunk, one chunk in memory at a time."""
    done = job.chunks.filter(status=ChunkStatus.DONE).order_by("position")
    for pk in done.values_list("pk", flat=True):
        chunk = done.model.objects.only("first_index", "results", "file_cells").get(pk=pk)
        cells = codec.loads(chunk.file_cells) if chunk.file_cells else None
        yield chunk.first_index, codec.loads(chunk.results), cells


# Failures the same data meets again however often it is sent: only corrected data helps.
DATA_ERRORS = frozenset(
    {
        ErrorCode.VALIDATION_ERROR,
        ErrorCode.DUPLICATE_ERROR,
        ErrorCode.REFERENCE_ERROR,
        ErrorCode.NOT_FOUND,
        ErrorCode.PERMISSION_ERROR,
        ErrorCode.UNSUPPORTED_OPERATION,
        ErrorCode.DEPENDENCY_FAILED,
    }
)


# Records another record's failure held back: skipped after it (continueOnError false) or
# rolled back with it (rollbackOnError).
HELD_BACK = frozenset({ErrorCode.SKIPPED, ErrorCode.ROLLED_BACK})


def retry_can_help(job: BatchJob, options: BatchOptions) -> bool:
    """Whether sending a finished job's unwritten records again with `options` could put
    any of them in: those of a job that was cancelled or stopped on a system error (status
    failed); records that met a system error or a conflict; and records held back by
    another's failure, if this time they are not (continueOnError and no rollbackOnError).
    Records that failed on their data fail again: their way forward is a corrected file."""
    if job.status in (JobStatus.CANCELLED, JobStatus.FAILED):
        return True
    whole = BatchOptions.from_json(job.options).rollback_on_error
    codes = {_cause(result, whole) for result in results.not_written(job)}
    if codes - DATA_ERRORS - HELD_BACK:
        return True
    return bool(codes & HELD_BACK) and options.continue_on_error and not options.rollback_on_error


def _cause(result: dict, whole: bool) -> str | None:
    """Why the record did not go in. A group member rolled back with another that failed
    (not by a rollbackOnError over the whole job) is rolled back again with it: as for a
    record whose dependency failed, only corrected data helps."""
    code = (result.get("error") or {}).get("code")
    if code == ErrorCode.ROLLED_BACK and "group" in result and not whole:
        return ErrorCode.DEPENDENCY_FAILED
    return code


def only_validated(job: BatchJob) -> bool:
    """Whether the job only validated its records (validateOnly): it wrote nothing."""
    return BatchOptions.from_json(job.options).validate_only


def only_data_errors(job: BatchJob) -> Conflict:
    way_forward = (
        f"correct the rows in {job.file_name or 'the file'} and import it again"
        if job.kind in (JobKind.IMPORT, JobKind.PREVIEW) or job.file_name
        else "send the records again corrected (corrections, keyed by referenceId)"
    )
    return Conflict(
        RequestCode.INVALID_REQUEST,
        f"Retrying {job.public_id} would fail again: the records that did not go in failed "
        "on their data (validation, duplicate or reference errors), or were held back by "
        f"those that did. To go on, {way_forward}.",
        details=[{"jobId": job.public_id, "retryable": False}],
    )


def retry_job(*, job: BatchJob, user, corrections: dict, options: BatchOptions) -> BatchJob:
    """A new async job (kind retry) of the records that did not go in (failed, skipped,
    rolled back), with corrected data where the caller sent some, keyed by referenceId.
    Without corrections, a job whose unwritten records all failed on their data is a
    Conflict: sending them again as they are cannot help.

    A job is retried once: a second retry, even one racing the first, is a Conflict naming
    the retry job, whose own unwritten records are what is left to retry."""
    if not job.is_finished:
        raise Conflict(RequestCode.INVALID_REQUEST, "The job has not finished yet.")
    if retry := job.retries.first():
        raise already_retried(job, retry)
    if job.kind == JobKind.PREVIEW:
        raise Conflict(
            RequestCode.INVALID_REQUEST,
            f"{job.public_id} is a preview: it wrote nothing, so there is nothing to retry. "
            "Import the file instead.",
        )
    if only_validated(job):
        raise Conflict(
            RequestCode.INVALID_REQUEST,
            f"{job.public_id} only validated its records: it wrote nothing, so there is "
            "nothing to retry. Send them again without validateOnly.",
        )
    if job.successful_records == job.total_records:  # the counts outlive deleted results
        raise nothing_to_retry()
    if not corrections and not retry_can_help(job, options):
        raise only_data_errors(job)
    if job.entity == COMPOSITE:
        return _retry_composite(job, user, corrections, options)
    raw, row_numbers, seen = [], [], set()
    for result in results.not_written(job):
        reference_id = result.get("referenceId")
        context = (result.get("error") or {}).get("context") or {}
        data = corrections.get(reference_id, context.get("originalData"))
        seen.add(reference_id)
        raw.append({"operation": result["operation"], "referenceId": reference_id, "data": data})
        row_numbers.append(context.get("rowNumber", result["index"] + 1))
    check_corrected(corrections, seen)
    if not raw:
        raise nothing_to_retry()
    request = BatchRequest(
        operations=parse_operations(raw, row_numbers=row_numbers), options=options
    )
    with retried_once(job):
        return submit_job(
            company=job.company,
            user=user,
            handler=handler_for(job.entity),
            request=request,
            source=job.source,
            retry_of=job,
            kind=JobKind.RETRY,
            file_name=job.file_name,
        )


def _retry_composite(job: BatchJob, user, corrections: dict, options: BatchOptions) -> BatchJob:
    """retry_job() of a batch of several entities: its unwritten operations, naming what
    the first job made by id (composite_retry_operations), as a new such job."""
    raw = composite_retry_operations(job, corrections)
    check_corrected(corrections, {operation["referenceId"] for operation in raw})
    if not raw:
        raise nothing_to_retry()
    request = composite_request(raw, options)
    with retried_once(job):
        return composite_jobs.submit_composite_job(
            company=job.company,
            user=user,
            request=request,
            source=job.source,
            kind=JobKind.RETRY,
            file_name=job.file_name,
            retry_of=job,
        )


def composite_retry_operations(job: BatchJob, corrections: dict) -> list[dict]:
    """The operations of a composite job that did not go in, as a POST /v1/batch would send
    them — with their corrected data where `corrections` (by referenceId) has some — and each
    "$ref:" to an operation that did go in replaced by the id of what it made, so they need
    nothing of the first job. References among them stay: they run together again."""
    made, unwritten = results.made_and_unwritten(job)
    operations = []
    for result in unwritten:
        reference_id = result.get("referenceId")
        context = (result.get("error") or {}).get("context") or {}
        data = corrections.get(reference_id, context.get("originalData"))
        operation = {
            "entity": result["entity"],
            "operation": result["operation"],
            "referenceId": reference_id,
            "data": resolved_refs(data, made),
        }
        if "group" in result:
            operation["group"] = result["group"]
        operations.append(operation)
    return operations


def check_corrected(corrections: dict, unwritten: set) -> None:
    unknown = sorted(set(corrections) - unwritten, key=str)
    if unknown:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            f"No failed record has referenceId {', '.join(map(str, unknown))}.",
        )


@contextmanager
def retried_once(job: BatchJob) -> Iterator[None]:
    """A racing retry of the job that committed first wins: the constraint waited for it."""
    try:
        yield
    except IntegrityError as error:
        if (retry := job.retries.first()) is None:
            raise
        raise already_retried(job, retry) from error


def nothing_to_retry() -> Conflict:
    return Conflict(RequestCode.INVALID_REQUEST, "Nothing to retry: every record went in.")


def already_retried(job: BatchJob, retry: BatchJob) -> Conflict:
    return Conflict(
        RequestCode.INVALID_REQUEST,
        f"{job.public_id} was already retried as {retry.public_id}; retry that job instead.",
        details=[{"jobId": job.public_id, "retryJobId": retry.public_id}],
    )
