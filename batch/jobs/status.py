"""A job's progress as its callers are told it: counts, percent, an estimate of when it will
finish, and where its results are. The API answers it in its envelope; webhooks send it."""

from datetime import UTC, datetime, timedelta

from django.db.models import F, Sum
from django.utils import timezone

from batch.models import BatchJob, JobMode, JobStatus

# Records/s assumed for a queued job before this company has finished one of its kind.
DEFAULT_THROUGHPUT = 2000.0


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def job_url(job: BatchJob) -> str:
    return f"/v1/batch/jobs/{job.public_id}"


def results_url(job: BatchJob) -> str:
    return f"{job_url(job)}/results"


def measured_throughput(job: BatchJob) -> float:
    """Records/s: this job's own pace once it has one, else what the company's finished
    jobs of the same entity managed, else a default."""
    if job.status == JobStatus.PROCESSING and job.started_at and job.processed_records:
        elapsed = (timezone.now() - job.started_at).total_seconds()
        if elapsed > 0:
            return job.processed_records / elapsed
    history = (
        BatchJob.objects.filter(
            company_id=job.company_id,
            entity=job.entity,
            mode=JobMode.ASYNC,
            status=JobStatus.COMPLETED,
            execution_time__gt=0,
        )
        .order_by("-completed_at")[:10]
        .aggregate(records=Sum("processed_records"), seconds=Sum(F("execution_time")))
    )
    if history["records"] and history["seconds"]:
        return history["records"] / history["seconds"]
    return DEFAULT_THROUGHPUT


def estimated_completion(job: BatchJob) -> datetime | None:
    if job.is_finished:
        return job.completed_at
    remaining = max(job.total_records - job.processed_records - job.skipped_records, 0)
    return timezone.now() + timedelta(seconds=remaining / measured_throughput(job))


def percent_complete(job: BatchJob) -> float:
    done = job.processed_records + job.skipped_records
    return 100.0 if not job.total_records else round(100.0 * done / job.total_records, 1)


def job_status(job: BatchJob) -> dict:
    """The job's status, with its summary once it is finished."""
    available = job.is_finished and job.results_deleted_at is None
    return {
        "jobId": job.public_id,
        "entity": job.entity,
        "mode": job.mode,
        "source": job.source,
        "kind": job.kind,
        "fileName": job.file_name or None,
        "status": job.status,
        "outcome": job.outcome,
        "progress": {
            "totalRecords": job.total_records,
            "processedRecords": job.processed_records,
            "successfulRecords": job.successful_records,
            "failedRecords": job.failed_records,
            "skippedRecords": job.skipped_records,
            "percentComplete": percent_complete(job),
        },
        "summary": {
            "created": job.created_count,
            "updated": job.updated_count,
            "deleted": job.deleted_count,
            "unchanged": job.unchanged_count,
            "rolledBack": job.rolled_back_records,
            "errors": job.failed_records,
            "warnings": job.warning_count,
        },
        "options": job.options,
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "estimatedCompletion": iso(estimated_completion(job)),
        "completedAt": iso(job.completed_at),
        "expiresAt": iso(job.expires_at),
        "executionTime": job.execution_time,
        "cancelRequested": job.cancel_requested,
        "retryOf": job.retry_of.public_id if job.retry_of_id else None,
        "error": job.error or None,
        "results": {
            "available": available,
            "downloadUrl": results_url(job) if available else None,
            "failedRowsCsvUrl": f"{results_url(job)}?format=csv" if available else None,
            "deletedAt": iso(job.results_deleted_at),
        },
    }
