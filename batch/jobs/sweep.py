"""Starting queued jobs as slots free, resuming jobs whose worker died, and ending the
receiving of jobs whose web process died while storing them. Every worker's main process
sweeps every couple of seconds (batch.worker); beat, when it runs, sends the same sweep as a
task. Enqueuing twice is harmless: claiming lets only one worker through.

The sweep also deletes expired previews (with their results), and the results of jobs past
BATCH_RESULTS_RETENTION_DAYS, at most once a minute and a bounded number at a time, so a
sweep every couple of seconds stays cheap."""

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from batch.jobs.liveness import interrupted_receipt_ids, orphaned_job_ids
from batch.jobs.submit import enqueue, stop_receiving
from batch.models import (
    FINISHED,
    BatchChunk,
    BatchJob,
    BatchReference,
    JobKind,
    JobMode,
    JobStatus,
    SweeperHeartbeat,
)

PREVIEWS_PER_SWEEP = 200  # expired previews deleted by one sweep; the rest wait a minute
# What one sweep deletes of expired results: at most this many jobs, and the oldest jobs
# whose chunks stay within this many (always one job, however large: a job of 1,000,000
# records has 2,000 chunks, a sync batch one).
RESULTS_JOBS_PER_SWEEP = 500
RESULTS_CHUNKS_PER_SWEEP = 2_000
DELETE_EXPIRED_EVERY_SECONDS = 60
_expired_deleted_at: float | None = None  # this process's last deletion (time.monotonic)


def processing_count(company_id: int) -> int:
    return BatchJob.objects.filter(
        company_id=company_id, mode=JobMode.ASYNC, status=JobStatus.PROCESSING
    ).count()


def startable_job_ids(company_id: int) -> list[int]:
    """The company's oldest queued jobs, as many as it has free slots."""
    free = settings.BATCH_MAX_CONCURRENT_JOBS - processing_count(company_id)
    if free <= 0:
        return []
    queued = BatchJob.objects.filter(
        company_id=company_id, mode=JobMode.ASYNC, status=JobStatus.QUEUED
    ).order_by("created_at", "pk")
    return list(queued.values_list("pk", flat=True)[:free])


def start_queued_jobs(company_id: int) -> None:
    """Hand the oldest queued jobs to workers while the company has free slots."""
    for job_pk in startable_job_ids(company_id):
        enqueue(job_pk)


def due_jobs() -> dict[int, int]:
    """What a sweep hands to workers, as job pk → its claims so far (a job due again with more
    claims was taken up in between): processing jobs whose worker died (their liveness lock is
    free), then queued jobs that have a free slot in their company."""
    companies = set(
        BatchJob.objects.filter(mode=JobMode.ASYNC, status=JobStatus.QUEUED).values_list(
            "company_id", flat=True
        )
    )
    startable = [job_pk for company_id in companies for job_pk in startable_job_ids(company_id)]
    due = orphaned_job_ids() + startable
    if not due:
        return {}
    claims = dict(BatchJob.objects.filter(pk__in=due).values_list("pk", "attempts"))
    return {job_pk: claims[job_pk] for job_pk in due if job_pk in claims}


def delete_expired_previews(limit: int = PREVIEWS_PER_SWEEP) -> int:
    """Delete up to `limit` finished previews whose time is up; how many were deleted. A
    preview still running is left until it has finished."""
    expired = BatchJob.objects.filter(
        kind=JobKind.PREVIEW, expires_at__lte=timezone.now(), status__in=FINISHED
    ).order_by("expires_at")
    pks = list(expired.values_list("pk", flat=True)[:limit])
    if not pks:
        return 0
    BatchJob.objects.filter(pk__in=pks).delete()
    return len(pks)


def delete_expired_results(
    *,
    days: int | None = None,
    limit: int = RESULTS_JOBS_PER_SWEEP,
    chunks: int = RESULTS_CHUNKS_PER_SWEEP,
) -> int:
    """Delete the chunks — stored operations, results, file cells — and references (what a
    composite job's operations became) of jobs finished more than `days`
    (BATCH_RESULTS_RETENTION_DAYS) ago, oldest first, up to `limit` jobs and `chunks`
    chunks, and note when on each job, which stays with its counts; how many jobs.
    Nothing when the retention is 0, and never a preview's: its page reads them until it
    expires, and then it goes whole."""
    days = settings.BATCH_RESULTS_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    expired = (
        BatchJob.objects.filter(
            results_deleted_at__isnull=True,
            completed_at__lt=timezone.now() - timedelta(days=days),
            status__in=FINISHED,
        )
        .exclude(kind=JobKind.PREVIEW)  # deleted whole when they expire
        .order_by("completed_at")
    )
    candidates = list(expired.values_list("pk", flat=True)[:limit])
    held = dict(
        BatchChunk.objects.filter(job_id__in=candidates)
        .values_list("job_id")
        .annotate(Count("pk"))
        .order_by()
    )
    pks, budget = [], chunks
    for pk in candidates:
        if pks and held.get(pk, 0) > budget:
            break
        pks.append(pk)
        budget -= held.get(pk, 0)
    if not pks:
        return 0
    with transaction.atomic():
        BatchChunk.objects.filter(job_id__in=pks).delete()
        BatchReference.objects.filter(job_id__in=pks).delete()  # a composite job's, as well
        BatchJob.objects.filter(pk__in=pks).update(results_deleted_at=timezone.now())
    return len(pks)


def delete_expired_when_due() -> dict[str, int]:
    """delete_expired_previews() and delete_expired_results(), at most once every
    DELETE_EXPIRED_EVERY_SECONDS in this process: how many of each."""
    global _expired_deleted_at
    now = time.monotonic()
    last = _expired_deleted_at
    if last is not None and now - last < DELETE_EXPIRED_EVERY_SECONDS:
        return {"previewsDeleted": 0, "resultsDeleted": 0}
    _expired_deleted_at = now
    return {
        "previewsDeleted": delete_expired_previews(),
        "resultsDeleted": delete_expired_results(),
    }


def end_interrupted_receipts() -> int:
    """End the receiving of jobs whose sender is gone (batch.jobs.submit): their workers
    finish what arrived, and the job as failed. How many there were."""
    reason = "the process storing them ended before the rest arrived"
    return sum(stop_receiving(job_pk, reason) for job_pk in interrupted_receipt_ids())


def record_sweep() -> None:
    """Note that a sweep ran now (SweeperHeartbeat's one row): GET /health/workers reads it."""
    now = timezone.now()
    if not SweeperHeartbeat.objects.filter(pk=1).update(swept_at=now):
        SweeperHeartbeat.objects.update_or_create(pk=1, defaults={"swept_at": now})


def enqueue_all(due: dict[int, int]) -> None:
    for job_pk in due:
        enqueue(job_pk)


def sweep(enqueue_due: Callable[[dict[int, int]], None] = enqueue_all) -> dict[str, int]:
    """End the receiving of jobs whose sender died; hand the due jobs (due_jobs()) to
    `enqueue_due` — every one, unless the caller keeps track of what it enqueued already
    (batch.worker.Sweeper); delete what expired, when due; note the sweep. Beat's task and
    the workers' own sweeper both run this."""
    interrupted = end_interrupted_receipts()
    due = due_jobs()
    enqueue_due(due)
    record_sweep()
    return {
        "enqueued": len(due),
        "receiptsInterrupted": interrupted,
        **delete_expired_when_due(),
    }
