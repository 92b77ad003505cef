"""Starting queued jobs as slots free, and resuming jobs whose worker died. Enqueuing twice is
harmless: claiming lets only one worker through."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from batch.jobs.submit import enqueue
from batch.models import BatchJob, JobMode, JobStatus


def processing_count(company_id: int) -> int:
    return BatchJob.objects.filter(
        company_id=company_id, mode=JobMode.ASYNC, status=JobStatus.PROCESSING
    ).count()


def start_queued_jobs(company_id: int) -> None:
    """Hand the oldest queued jobs to workers while the company has free slots."""
    free = settings.BATCH_MAX_CONCURRENT_JOBS - processing_count(company_id)
    if free <= 0:
        return
    queued = BatchJob.objects.filter(
        company_id=company_id, mode=JobMode.ASYNC, status=JobStatus.QUEUED
    ).order_by("created_at", "pk")
    for job_pk in queued.values_list("pk", flat=True)[:free]:
        enqueue(job_pk)


def sweep() -> dict[str, int]:
    """Resume jobs whose worker died and start queued jobs that have a free slot. Enqueuing
    twice is harmless: claim() lets only one worker through."""
    stale_before = timezone.now() - timedelta(seconds=settings.BATCH_JOB_STALE_SECONDS)
    stale = list(
        BatchJob.objects.filter(
            mode=JobMode.ASYNC, status=JobStatus.PROCESSING, heartbeat_at__lt=stale_before
        ).values_list("pk", flat=True)
    )
    for job_pk in stale:
        enqueue(job_pk)
    companies = set(
        BatchJob.objects.filter(mode=JobMode.ASYNC, status=JobStatus.QUEUED).values_list(
            "company_id", flat=True
        )
    )
    for company_id in companies:
        start_queued_jobs(company_id)
    return {"resumed": len(stale), "companies": len(companies)}
