"""Processing async jobs: through the same engine as sync batches, crash-safe and
exactly-once.

- A chunk's business writes, its stored results and its `done` mark commit in one
  transaction; a chunk seen again (redelivery, a second worker) is skipped.
- Who may process a job: the holder of the job's liveness lock (batch.jobs.liveness). The
  sweeper (batch.jobs.sweep) re-enqueues jobs whose lock is free and starts queued jobs as
  slots free.
- At most BATCH_MAX_CONCURRENT_JOBS jobs per company process at once; claiming a slot
  locks the company row, so concurrent claims cannot overshoot.
- A job's chunks run on several worker processes at once (batch.jobs.lanes says which may):
  the processor asks BATCH_JOB_HELPERS more processes to help, each taking ready chunks
  until none is left; a helper that finds the processor dead takes its place.
- rollbackOnError makes the whole job one transaction; continueOnError=false, a composite
  job and SQLite run the chunks one after the other, in order.
- A job's final status commits together with what `job_finished` receivers write in its
  transaction (the webhook outbox), so a worker dying in between loses neither."""

import enum
import functools
import itertools
import logging
import os
import socket
import time
from dataclasses import replace

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from batch.engine.codes import ErrorCode, Status
from batch.engine.composite import COMPOSITE
from batch.engine.envelope import BatchOptions
from batch.engine.executor import SKIPPED_MESSAGE, count_results, fewer_collections, run_batch
from batch.engine.handlers import Handler, get_handler
from batch.engine.records import SUCCESS, Record, RecordWarning
from batch.jobs.codec import dumps, loads, operation_from_json
from batch.jobs.composite import CompositeChunks
from batch.jobs.lanes import first_pending_chunk, ready_chunk, runs_in_parallel
from batch.jobs.liveness import is_postgres, release_liveness_lock, take_liveness_lock
from batch.jobs.submit import enqueue_helpers
from batch.jobs.sweep import processing_count, start_queued_jobs
from batch.models import FINISHED, BatchChunk, BatchJob, ChunkStatus, JobMode, JobStatus
from batch.signals import job_finished
from bigledger.models import Company
from bigledger.sql import column, table

logger = logging.getLogger(__name__)

CANCELLED_MESSAGE = "Not processed: the job was cancelled."
FAILED_MESSAGE = "Not processed: the job stopped on a system error; retry the job."
ROLLED_BACK_MESSAGE = "Rolled back because another record of the job failed."


def process_name() -> str:
    """Who processed a chunk, as the chunk records it (a pool process forked after import
    has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Role(enum.Enum):
    """Who commits a chunk, which says when it may: the processor only within its attempt, a
    helper only while the job is processing, the canceller of a queued job always."""

    PROCESSOR = "processor"
    HELPER = "helper"
    CANCELLER = "canceller"


class LeaseLost(Exception):
    """Another worker took the job over, or the job ended; this one stops without
    committing."""


# Claiming -----------------------------------------------------------------------------------


def claim(job_pk: int) -> BatchJob | None:
    """Make this worker the job's processor, or None when it must not process it now:
    finished, alive in another worker, or no free slot for its company."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().filter(pk=job_pk, mode=JobMode.ASYNC).first()
        if job is None or job.is_finished:
            return None
        if job.status == JobStatus.QUEUED:
            if job.cancel_requested and not job.receiving:
                _cancel_rest(job, as_processor=False)
                return None
            Company.objects.select_for_update().get(pk=job.company_id)
            if processing_count(job.company_id) >= settings.BATCH_MAX_CONCURRENT_JOBS:
                return None
        if not take_liveness_lock(job):
            return None
        if job.attempts >= settings.BATCH_JOB_MAX_ATTEMPTS:
            job.error = f"Gave up after {job.attempts} attempts; the last worker died."
            _finish(job, JobStatus.FAILED)
            release_liveness_lock(job.pk)
            return None
        now = timezone.now()
        job.status = JobStatus.PROCESSING
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])
        return job


# Processing ---------------------------------------------------------------------------------


class EntityChunks:
    """Runs the chunks of a job of one entity through its handler."""

    def __init__(self, job: BatchJob, handler: type[Handler], options: BatchOptions):
        self.job, self.handler, self.options = job, handler, options
        self.statistics = TableStatistics(handler.model)

    def refresh_statistics(self, done: int) -> None:
        self.statistics.refresh()

    def run(self, raw: list[dict], *, failed_so_far: bool = False) -> tuple[list[dict], bool]:
        """The chunk's results, and whether it failed. After a failure in a rollbackOnError
        job, the rest is only validated: it will be undone, but each record is told."""
        options = replace(self.options, validate_only=self.options.validate_only or failed_so_far)
        outcome = run_batch(
            handler_class=self.handler,
            company=self.job.company,
            user=self.job.created_by,
            operations=[operation_from_json(body) for body in raw],
            options=options,
        )
        failed = outcome.rolled_back or any(
            record.status == Status.FAILED for record in outcome.records
        )
        self.statistics.added(sum(record.status == Status.CREATED for record in outcome.records))
        return outcome.results, failed


def chunk_runner(job: BatchJob, options: BatchOptions):
    if job.entity == COMPOSITE:
        return CompositeChunks(job, options)
    handler = get_handler(job.entity)
    if handler is None:
        raise LookupError(f"no batch handler for {job.entity!r}")
    return EntityChunks(job, handler, options)


def process_job(job_pk: int) -> None:
    job = claim(job_pk)
    if job is None:
        return
    try:
        options = BatchOptions.from_json(job.options)
        runner = chunk_runner(job, options)
        # A composite job's later chunks must see what earlier ones would create, so even
        # validateOnly writes, in one transaction it then undoes.
        whole = options.validate_only and job.entity == COMPOSITE
        if options.rollback_on_error or whole:
            _process_as_one_transaction(job, runner, options)
        elif job.receiving or runs_in_parallel(job.entity, options):
            _process_in_parallel(job, runner)
        else:
            _process_in_chunks(job, runner, options)
    except LeaseLost:
        logger.warning("job %s was taken over by another worker", job.public_id)
    except Exception as error:
        logger.exception("job %s failed", job.public_id)
        job.error = f"{type(error).__name__}: {error}"
        try:
            _close_rest(job, JobStatus.FAILED, FAILED_MESSAGE, as_processor=True)
        except Exception:
            logger.exception("could not record job %s as failed; the sweeper retries it", job.pk)
    finally:
        release_liveness_lock(job_pk)


def _pending_chunk_ids(job: BatchJob) -> list[int]:
    return list(
        job.chunks.filter(status=ChunkStatus.PENDING)
        .order_by("position")
        .values_list("pk", flat=True)
    )


def _process_in_chunks(job: BatchJob, runner, options: BatchOptions) -> None:
    stopped = not options.continue_on_error and job.failed_records > 0
    for done, chunk_pk in enumerate(_pending_chunk_ids(job), start=1):
        runner.refresh_statistics(done)
        if _cancel_requested(job):
            _cancel_rest(job)
            return
        with transaction.atomic():
            chunk = BatchChunk.objects.select_for_update().get(pk=chunk_pk)
            if chunk.status == ChunkStatus.DONE:
                continue  # a redelivered chunk: its work is already committed
            if stopped:
                _commit_chunk(job, chunk, _not_processed(loads(chunk.operations), SKIPPED_MESSAGE))
            else:
                _run_chunk(job, runner, chunk)
            if not options.continue_on_error and chunk.failed_records:
                stopped = True
    with transaction.atomic():
        job.refresh_from_db()
        _finish(job, _end_status(job), as_processor=True)


def _end_status(job: BatchJob) -> JobStatus:
    """How a job whose every chunk is done ends: failed when its receiving was cut short
    (its error says so: batch.jobs.submit.stop_receiving), else completed."""
    return JobStatus.FAILED if job.error else JobStatus.COMPLETED


def _process_in_parallel(job: BatchJob, runner) -> None:
    """As the processor: ask for helpers, run ready chunks, and when every pending chunk is
    running elsewhere or waits for one that is, wait for the first; finish once none is
    left and none is still to arrive (the job is received: batch.jobs.submit)."""
    pending = job.chunks.filter(status=ChunkStatus.PENDING).count()
    helpers = settings.BATCH_JOB_HELPERS if job.receiving else pending - 1
    enqueue_helpers(job.pk, min(settings.BATCH_JOB_HELPERS, helpers))
    receiving = job.receiving
    for done in itertools.count(1):
        receiving, cancelled = _receiving_and_cancelled(job, receiving)
        if cancelled:
            if not receiving:
                _cancel_rest(job)
                return
            # what has arrived waits, and is cancelled with the rest once all has
            time.sleep(RECEIVING_POLL_SECONDS)
            continue
        with transaction.atomic():
            chunk = ready_chunk(job) or first_pending_chunk(job)
            if chunk is not None:
                runner.refresh_statistics(done)
                _run_chunk(job, runner, chunk)
        if chunk is None:
            if not receiving:
                break
            time.sleep(RECEIVING_POLL_SECONDS)
    with transaction.atomic():
        job.refresh_from_db()
        _finish(job, _end_status(job), as_processor=True)


# How long a worker that found no chunk to run waits before looking again, while the job's
# chunks are still arriving.
RECEIVING_POLL_SECONDS = 0.05


def _receiving_and_cancelled(job: BatchJob, receiving: bool) -> tuple[bool, bool]:
    """Whether the job's chunks are still arriving — read before its pending chunks are, so
    that none has arrived unseen once it says no (the last commit with receiving's end) —
    and whether it was asked to stop."""
    if not receiving:
        return False, _cancel_requested(job)
    return BatchJob.objects.filter(pk=job.pk).values_list("receiving", "cancel_requested").get()


def help_job(job_pk: int) -> None:
    """As a helper: run the job's ready chunks until none is left, then stop — the processor
    waits for the rest and finishes the job. A helper that finds the processor gone (its
    liveness lock free) becomes the processor. While the job's chunks are still arriving,
    a helper that found none ready waits for more.

    A helper gives its worker process back after BATCH_HELPER_SLICE_SECONDS, asking for a
    helper again behind whatever waits in the queue: so another company's job, submitted
    while this one fills every process, starts within a few slices, not when this one ends.
    The processor itself keeps its process to the end."""
    turn_ends = time.monotonic() + settings.BATCH_HELPER_SLICE_SECONDS
    job = BatchJob.objects.filter(pk=job_pk, mode=JobMode.ASYNC).first()
    if job is None or job.status != JobStatus.PROCESSING:
        return
    options = BatchOptions.from_json(job.options)
    if not (job.receiving or runs_in_parallel(job.entity, options)):
        return
    runner = chunk_runner(job, options)
    receiving = job.receiving
    try:
        for done in itertools.count(1):
            receiving, cancelled = _receiving_and_cancelled(job, receiving)
            if cancelled:
                return
            if _processor_gone(job):
                process_job(job_pk)  # unless another worker claimed it first
                return
            if time.monotonic() >= turn_ends:
                enqueue_helpers(job.pk, 1)  # behind what waits; it finds the job done if so
                return
            with transaction.atomic():
                chunk = ready_chunk(job)
                if chunk is not None:
                    runner.refresh_statistics(done)
                    _run_chunk(job, runner, chunk, role=Role.HELPER)
            if chunk is None:
                if not receiving:
                    return
                time.sleep(RECEIVING_POLL_SECONDS)
    except LeaseLost:
        return
    except Exception:
        # The chunk stays pending: the processor runs it, and records the job as failed if
        # it fails again.
        logger.exception("helping with job %s failed", job.public_id)


def _processor_gone(job: BatchJob) -> bool:
    if not take_liveness_lock(job):
        return False
    release_liveness_lock(job.pk)
    return True


def _cancel_requested(job: BatchJob) -> bool:
    return BatchJob.objects.filter(pk=job.pk, cancel_requested=True).exists()


def _run_chunk(job: BatchJob, runner, chunk: BatchChunk, *, role: Role = Role.PROCESSOR) -> None:
    """Inside the chunk's transaction, the chunk locked: run it and commit its results —
    with collections as rare as while the batch runs, from reading its operations to
    writing its results (batch.engine.executor.fewer_collections)."""
    with fewer_collections:
        results = runner.run(loads(chunk.operations))[0]
        chunk.processed_by = process_name()
        _commit_chunk(job, chunk, results, role=role)


# ANALYZE when the job's own inserts since its last ANALYZE reach this share of the rows the
# table's statistics count, and at least this many rows.
ANALYZE_SHARE = 1.0
ANALYZE_MIN_ROWS = 1000


class TableStatistics:
    """Keeps the planner's picture of a table a job is growing true enough, at a cost that
    does not grow with the table.

    A table's statistics describe it as it was at its last ANALYZE. The planner scales their
    row count by the table's current size itself; what goes stale is the picture of its
    values, and for a table that was empty (or never analyzed) that picture is of a small
    table, so values get looked up by scanning every row — each chunk slower than the last
    (until autovacuum's turn, or forever where it is off). ANALYZE fixes that, but it reads a
    sample of up to 30,000 rows from the whole table, so its cost grows with the table, not
    with the job: on a 1,000,000-row table two of them took longer than the 1,000-record job
    (bench/flat_cost.py). So a job analyzes only when its own inserts since its last ANALYZE
    have reached ANALYZE_SHARE of the rows the statistics count (pg_class.reltuples, one
    catalog read; -1 or 0 when never analyzed) and at least ANALYZE_MIN_ROWS: when it has
    doubled the table. A small job on a big table never analyzes it; a job filling an empty
    table does so after 1,000, 2,000, 4,000 … rows — a handful of times, as many as a
    doubling schedule needs (a 20% share made a 100,000-record job on an empty table 40%
    slower). Growth over many small jobs is left to autovacuum's ANALYZE."""

    def __init__(self, model):
        self.model = model
        self.unanalyzed = 0  # rows this job inserted since its last ANALYZE

    def added(self, rows: int) -> None:
        self.unanalyzed += rows

    def refresh(self) -> None:
        if self.unanalyzed < ANALYZE_MIN_ROWS or not is_postgres():
            return
        name = table(self.model)
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [name])
            counted = max(cursor.fetchone()[0], 0)
            if self.unanalyzed >= ANALYZE_SHARE * counted:
                cursor.execute(f"ANALYZE {name}")
                self.unanalyzed = 0


def _process_as_one_transaction(job, runner, options) -> None:
    """rollbackOnError (and a composite job's validateOnly): every chunk in one transaction;
    a failure — or validateOnly, always — undoes them all, and every record is still checked
    so the caller sees all failures at once."""
    chunks = list(job.chunks.filter(status=ChunkStatus.PENDING).order_by("position"))
    stored = []
    failed = False
    # The job row is left unlocked meanwhile, so cancel requests and the sweeper's claims
    # do not queue behind this transaction; the advisory lock says the job is alive.
    with transaction.atomic():
        for chunk in chunks:
            raw = loads(chunk.operations)
            results, chunk_failed = runner.run(raw, failed_so_far=failed)
            failed = failed or chunk_failed
            stored.append((chunk, raw, results))
        undo = options.validate_only or (failed and options.rollback_on_error)
        if undo:
            transaction.set_rollback(True)  # undo every chunk's writes
        else:  # the work, its results and the final status commit together
            for chunk, _, results in stored:
                _commit_chunk(job, chunk, results)
            job.refresh_from_db()
            _finish(job, JobStatus.COMPLETED, as_processor=True)
    if not undo:
        return
    rolled_back = failed and options.rollback_on_error
    told = _rolled_back if rolled_back else _validated
    with transaction.atomic():  # the work is undone; keep what each record was told
        for chunk, raw, results in stored:
            answers = [told(result, body) for result, body in zip(results, raw, strict=True)]
            _commit_chunk(job, chunk, answers)
        job.refresh_from_db()
        _finish(
            job, JobStatus.ROLLED_BACK if rolled_back else JobStatus.COMPLETED, as_processor=True
        )


def _rolled_back(result: dict, body: dict) -> dict:
    if result["status"] in (Status.FAILED, Status.SKIPPED, Status.ROLLED_BACK):
        return result
    record = Record(operation_from_json(body)).roll_back(ROLLED_BACK_MESSAGE)
    return _with_entity(record.result_json(), body)


def _validated(result: dict, body: dict) -> dict:
    """A record of a validateOnly job that went in before the job was undone."""
    if result["status"] not in SUCCESS:
        return result
    record = Record(operation_from_json(body))
    record.status = Status.VALIDATED
    record.warnings = [RecordWarning(**warning) for warning in result.get("warnings", ())]
    return _with_entity(record.result_json(), body)


def _not_processed(raw: list[dict], message: str) -> list[dict]:
    return [
        _with_entity(
            Record(operation_from_json(body)).skip(ErrorCode.SKIPPED, message).result_json(), body
        )
        for body in raw
    ]


def _with_entity(result: dict, body: dict) -> dict:
    """A composite job's results name their entity (and group), after the index."""
    if "entity" not in body:
        return result
    named = {"entity": body["entity"]}
    if "group" in body:
        named["group"] = body["group"]
    return {"index": result["index"], **named, **result}


def _commit_chunk(
    job: BatchJob, chunk: BatchChunk, results: list[dict], *, role: Role = Role.PROCESSOR
) -> None:
    """Inside the chunk's transaction: store its results, mark it done, add its counts, as
    far as the committer's role allows (Role). Two statements of plain SQL, made once: the
    ORM built them anew for every chunk, a tenth of a worker's time."""
    counts = count_results((r["status"], len(r.get("warnings", ()))) for r in results)
    chunk.results = dumps(results)
    chunk.operations = ""
    chunk.status = ChunkStatus.DONE
    chunk.failed_records = counts["failedRecords"]
    chunk.completed_at = now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    chunk_done, add_counts = _commit_statements(role)
    owned = {"status": JobStatus.PROCESSING.value, "attempts": job.attempts}
    conditions = [owned[name] for name in _ROLE_CONDITIONS[role]]
    with connection.cursor() as cursor:
        cursor.execute(
            chunk_done,
            [
                chunk.results,
                ChunkStatus.DONE.value,
                chunk.failed_records,
                stamp,
                chunk.processed_by,
                chunk.pk,
            ],
        )
        cursor.execute(
            add_counts,
            [stamp, *(counts[name] for name in _JOB_COUNTS.values()), job.pk, *conditions],
        )
        if not cursor.rowcount:
            raise LeaseLost  # rolls the chunk back with the transaction


# What the job must still be for a chunk's commit to count, by who commits it: the processor
# only within its attempt, a helper only while the job is processing, a canceller always.
_ROLE_CONDITIONS = {
    Role.PROCESSOR: ("status", "attempts"),
    Role.HELPER: ("status",),
    Role.CANCELLER: (),
}

# The job's running totals (column: count_results' name) each committed chunk adds to.
_JOB_COUNTS = {
    "processed_records": "processedRecords",
    "successful_records": "successfulRecords",
    "failed_records": "failedRecords",
    "skipped_records": "skippedRecords",
    "rolled_back_records": "rolledBackRecords",
    "created_count": "created",
    "updated_count": "updated",
    "deleted_count": "deleted",
    "unchanged_count": "unchanged",
    "warning_count": "warnings",
}


@functools.cache
def _commit_statements(role: Role) -> tuple[str, str]:
    """The chunk's UPDATE and the job's, whose WHERE holds the role's conditions."""
    chunk, job = BatchChunk, BatchJob
    chunk_done = (
        f"UPDATE {table(chunk)} SET {column(chunk, 'results')} = %s, "
        f"{column(chunk, 'operations')} = '', {column(chunk, 'status')} = %s, "
        f"{column(chunk, 'failed_records')} = %s, {column(chunk, 'completed_at')} = %s, "
        f"{column(chunk, 'processed_by')} = %s WHERE {column(chunk, 'id')} = %s"
    )
    added = ", ".join(f"{column(job, name)} = {column(job, name)} + %s" for name in _JOB_COUNTS)
    conditions = [f"{column(job, name)} = %s" for name in _ROLE_CONDITIONS[role]]
    where = " AND ".join([f"{column(job, 'id')} = %s", *conditions])
    add_counts = (
        f"UPDATE {table(job)} SET {column(job, 'heartbeat_at')} = %s, {added} WHERE {where}"
    )
    return chunk_done, add_counts


def _cancel_rest(job: BatchJob, *, as_processor: bool = True) -> None:
    _close_rest(job, JobStatus.CANCELLED, CANCELLED_MESSAGE, as_processor=as_processor)


def _close_rest(job: BatchJob, status: JobStatus, message: str, *, as_processor: bool) -> None:
    """Give every record not yet processed its result (`message`), then finish the job, so
    each operation has exactly one result and a retry can pick the rest up."""
    with transaction.atomic():
        for chunk in job.chunks.select_for_update().filter(status=ChunkStatus.PENDING):
            results = _not_processed(loads(chunk.operations), message)
            _commit_chunk(
                job, chunk, results, role=Role.PROCESSOR if as_processor else Role.CANCELLER
            )
        job.refresh_from_db()
        _finish(job, status, as_processor=as_processor)


def _finish(job: BatchJob, status: JobStatus, *, as_processor: bool = False) -> bool:
    """Record the job's final status — once: a finished job is never re-marked, and a
    processor only finishes the attempt it owns. `job_finished` receivers write in the same
    transaction (the webhook outbox); starting queued jobs waits for the commit."""
    now = timezone.now()
    seconds = round((now - job.started_at).total_seconds(), 3) if job.started_at else None
    rows = BatchJob.objects.filter(pk=job.pk).exclude(status__in=FINISHED)
    if as_processor:
        rows = rows.filter(status=JobStatus.PROCESSING, attempts=job.attempts)
    with transaction.atomic():
        if not rows.update(
            status=status, completed_at=now, execution_time=seconds, error=job.error
        ):
            return False
        job.status, job.completed_at, job.execution_time = status, now, seconds
        job_finished.send(sender=BatchJob, job=job)
    company_id = job.company_id
    transaction.on_commit(lambda: start_queued_jobs(company_id), robust=True)
    return True


def request_cancel(job: BatchJob) -> BatchJob:
    """Queued jobs stop at once (once they have arrived whole, if still arriving); a
    processing job stops before its next chunk."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().get(pk=job.pk)
        if job.status in FINISHED:
            return job
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
        if job.status == JobStatus.QUEUED and not job.receiving:  # else once received
            _cancel_rest(job, as_processor=False)
    return job
