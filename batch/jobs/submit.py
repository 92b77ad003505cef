"""Submitting an async job: the job, its chunks and its total commit together, then a worker
is handed the job (by task name: the tasks import this package, not the other way round)."""

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from celery import signature
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from batch.engine.bulk import copy_insert
from batch.engine.codes import RequestCode
from batch.engine.envelope import BatchOptions, BatchRequest, Operation
from batch.engine.executor import fewer_collections
from batch.engine.handlers import Handler
from batch.jobs.codec import CELLS_KEY, dumps, operation_json
from batch.jobs.lanes import packed_keys, runs_in_parallel
from batch.jobs.liveness import release_receiving_lock, take_receiving_lock
from batch.models import BatchChunk, BatchJob, JobKind, JobMode, JobStatus
from batch.signals import job_stored
from bigledger.errors import RequestError
from bigledger.models import Company, PublicIdGenerator

logger = logging.getLogger(__name__)

ASYNC_JOB_ID = PublicIdGenerator("job")
RUN_JOB_TASK = "batch.run_job"  # batch.jobs.tasks.run_job
HELP_JOB_TASK = "batch.help_job"  # batch.jobs.tasks.help_job


def check_async_size(size: int) -> None:
    limit = settings.BATCH_ASYNC_MAX_OPERATIONS
    if size > limit:
        raise RequestError(
            RequestCode.BATCH_TOO_LARGE,
            f"An async batch takes at most {limit} operations; this one has {size}.",
            details=[{"field": "operations", "max": limit, "received": size}],
        )


def preview_expiry(kind: str) -> datetime | None:
    """When a job of `kind` is swept away: previews after BATCH_PREVIEW_TTL_SECONDS, the
    rest never."""
    if kind != JobKind.PREVIEW:
        return None
    return timezone.now() + timedelta(seconds=settings.BATCH_PREVIEW_TTL_SECONDS)


def submit_job(
    *,
    company: Company,
    user,
    handler: type[Handler],
    request: BatchRequest,
    source: str = "api",
    retry_of: BatchJob | None = None,
    kind: str = JobKind.API,
    file_name: str = "",
) -> BatchJob:
    """Store the job and its chunks; a worker picks it up once this commits. The operations
    need only be sized and iterable: an API request's are read from its body as they are
    stored, so a refusal met while reading them (a repeated referenceId) leaves no job."""
    check_async_size(len(request.operations))
    return submit_job_from_chunks(
        company=company,
        user=user,
        handler=handler,
        chunks=in_chunks(request.operations, handler.max_records),
        options=request.options,
        source=source,
        retry_of=retry_of,
        kind=kind,
        file_name=file_name,
        checked=request.checked,
    )


def in_chunks(operations: Iterable[Operation], size: int) -> Iterator[list[Operation]]:
    """Consecutive lists of `size` operations (the last may be shorter), taken as needed."""
    remaining = iter(operations)
    while chunk := list(itertools.islice(remaining, size)):
        yield chunk


CHUNKS_PER_COPY = 20  # chunks held in memory before one COPY stores them


def submit_job_from_chunks(
    *,
    company: Company,
    user,
    handler: type[Handler],
    chunks: Iterable[list[Operation]],
    options: BatchOptions,
    source: str = "api",
    retry_of: BatchJob | None = None,
    kind: str = JobKind.API,
    file_name: str = "",
    file_columns: list[str] | None = None,
    checked: bool = False,
) -> BatchJob:
    """Store a job from chunks of at most handler.max_records operations, taken one at a
    time from `chunks` (a file read lazily); `checked` as store_job takes it."""

    def encoded(operations: list[Operation]) -> list[dict]:
        if len(operations) > handler.max_records:
            raise ValueError(f"a chunk of {len(operations)} is over {handler.max_records}")
        return [operation_json(op) for op in operations]

    return store_job(
        company=company,
        user=user,
        entity=handler.entity,
        chunks=(encoded(operations) for operations in chunks),
        options=options,
        source=source,
        retry_of=retry_of,
        kind=kind,
        file_name=file_name,
        file_columns=file_columns,
        keys=lambda operations: packed_keys(handler, operations),
        checked=checked,
    )


def store_job(
    *,
    company: Company,
    user,
    entity: str,
    chunks: Iterable[list[dict]],
    options: BatchOptions,
    source: str = "api",
    retry_of: BatchJob | None = None,
    kind: str = JobKind.API,
    file_name: str = "",
    file_columns: list[str] | None = None,
    keys: Callable[[list[dict]], bytes] | None = None,
    checked: bool = False,
) -> BatchJob:
    """Store a job from its chunks of stored operations (batch.jobs.codec), taken one at a
    time, so no more than CHUNKS_PER_COPY are ever held, with the record keys each chunk's
    operations name (`keys`; batch.jobs.lanes). `kind` says what the job is for (a
    preview expires), `file_name` which upload it came from and `file_columns` its header.
    Collections are made rarer meanwhile, as while a batch runs: the chunks held are many
    objects, none in cycles.

    The job, its chunks and its total commit together — a request error raised while the
    chunks are read leaves nothing — and a worker picks the job up once they have; unless
    the caller has `checked` that reading the chunks raises no request error, and the job's
    chunks may run in parallel (batch.jobs.lanes.runs_in_parallel): then the job is
    received — its chunks commit a few at a time, and workers run them as they arrive."""
    job = BatchJob(
        company=company,
        public_id=ASYNC_JOB_ID(),
        entity=entity,
        mode=JobMode.ASYNC,
        source=source,
        kind=kind,
        file_name=file_name,
        file_columns=file_columns or [],
        expires_at=preview_expiry(kind),
        status=JobStatus.QUEUED,
        options=options.as_json(),
        created_by=user,
        retry_of=retry_of,
    )
    rows = _chunk_rows(job, chunks, keys)
    with fewer_collections:
        if checked and runs_in_parallel(entity, options) and not connection.in_atomic_block:
            _receive(job, rows)
        else:
            _store_whole(job, rows)
    return job


def _chunk_rows(
    job: BatchJob, chunks: Iterable[list[dict]], keys: Callable[[list[dict]], bytes] | None
) -> Iterator[BatchChunk]:
    first_index = 0
    for position, operations in enumerate(chunks):
        yield BatchChunk(
            job=job,
            position=position,
            first_index=first_index,
            size=len(operations),
            operations=dumps(operations),
            file_cells=_file_cells(operations),
            keys=keys(operations) if keys else b"",
        )
        first_index += len(operations)


def _store_whole(job: BatchJob, rows: Iterator[BatchChunk]) -> None:
    with transaction.atomic():
        job.save(force_insert=True)
        while stored := list(itertools.islice(rows, CHUNKS_PER_COPY)):
            copy_insert(BatchChunk, stored)
            job.total_records += sum(chunk.size for chunk in stored)
        job.save(update_fields=["total_records"])
        # The sweeper starts queued jobs too, so a broker hiccup here delays, never loses.
        transaction.on_commit(lambda: enqueue(job.pk), robust=True)
        transaction.on_commit(lambda: job_stored.send(BatchJob, job=job), robust=True)


CHUNKS_PER_RECEIPT = 4  # chunks a received job commits at a time


def _receive(job: BatchJob, rows: Iterator[BatchChunk]) -> None:
    """Store the job a few chunks at a time, each few committed (with the total so far) for
    workers to run while the rest is read. The job and its first chunks commit together, so
    a failure before then leaves nothing. A failure after is the job's, not the request's:
    the job is accepted with what it received, and finishes failed, its error saying how
    much arrived (so a retry with the same Idempotency-Key is answered this job, not run
    again); this process dying does the same (the sweeper finds its receiving lock free)."""
    locked = False
    try:
        with transaction.atomic():
            job.receiving = True
            job.save(force_insert=True)
            take_receiving_lock(job.pk)
            locked = True
            _add_chunks(job, list(itertools.islice(rows, CHUNKS_PER_RECEIPT)))
            transaction.on_commit(lambda: enqueue(job.pk), robust=True)
            transaction.on_commit(lambda: job_stored.send(BatchJob, job=job), robust=True)
        try:
            while stored := list(itertools.islice(rows, CHUNKS_PER_RECEIPT)):
                with transaction.atomic():
                    _add_chunks(job, stored)
        except BaseException as error:
            logger.exception("receiving job %s stopped", job.public_id)
            # Unless its end is recorded (the database is gone), the request fails as well.
            if not _stop_receiving_now(job, f"{type(error).__name__}: {error}"):
                raise
            if not isinstance(error, Exception):  # the process is being stopped
                raise
            return
        BatchJob.objects.filter(pk=job.pk).update(receiving=False)
        job.receiving = False
        if BatchJob.objects.filter(
            pk=job.pk, status=JobStatus.QUEUED, cancel_requested=True
        ).exists():
            # Cancelled while arriving and still queued (no free slot): claiming it now
            # cancels the rest, as cancelling a queued job does at once.
            enqueue(job.pk)
    finally:
        if locked:
            release_receiving_lock(job.pk)


def _stop_receiving_now(job: BatchJob, reason: str) -> bool:
    """End the job's receiving after a failure: whether it has ended, here or by the sweeper
    (first when this process's connection dropped, its receiving lock with it). A failed
    transaction drops a broken connection, so this runs on a new one: only a database out
    of reach leaves the job receiving, for the sweeper to end."""
    try:
        stop_receiving(job.pk, reason)  # False when the sweeper has already
        job.refresh_from_db(fields=["receiving", "error"])
    except Exception:
        logger.exception("could not end the receiving of job %s", job.public_id)
        return False
    return not job.receiving


def _add_chunks(job: BatchJob, stored: list[BatchChunk]) -> None:
    copy_insert(BatchChunk, stored)
    job.total_records += sum(chunk.size for chunk in stored)
    BatchJob.objects.filter(pk=job.pk).update(total_records=job.total_records)


def stop_receiving(job_pk: int, reason: str) -> bool:
    """End a job's receiving short: its workers finish what it received, and the job as
    failed, saying how many of its records arrived and why no more did. False when it was
    not receiving (it had just finished)."""
    job = BatchJob.objects.filter(pk=job_pk).only("total_records").first()
    if job is None:
        return False
    error = (
        f"The request sending this job stopped after {job.total_records:,} of its records "
        f"were stored ({reason}); those were processed, the rest never arrived. "
        "Send the rest again."
    )
    return bool(
        BatchJob.objects.filter(pk=job_pk, receiving=True).update(receiving=False, error=error)
    )


def _file_cells(operations: list[dict]) -> str:
    """The original cells of a file's operations, taken out of them: kept with the chunk for
    its failed-rows CSV, while its operations are cleared once it is done."""
    cells = [body.pop(CELLS_KEY, None) for body in operations]
    return dumps(cells) if any(row is not None for row in cells) else ""


def enqueue(job_pk: int) -> None:
    """Hand the job to a worker. A message lost on the way delays the job, never loses it:
    the sweeper enqueues queued and stale jobs again."""
    signature(RUN_JOB_TASK, args=[job_pk]).apply_async()


def enqueue_helpers(job_pk: int, count: int) -> None:
    """Ask `count` more worker processes to take a share of the job's chunks."""
    for _ in range(count):
        signature(HELP_JOB_TASK, args=[job_pk]).apply_async()
