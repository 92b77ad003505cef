"""What the batch endpoints answer: the shapes docs/api.md describes."""

from batch.engine.executor import BatchOutcome
from batch.jobs.status import estimated_completion, iso, job_status, job_url
from batch.models import BatchJob


def batch_response(job: BatchJob, outcome: BatchOutcome) -> dict:
    """A processed sync batch."""
    counts = outcome.counts
    return {
        "success": True,
        "data": {
            "batchId": job.public_id,
            "status": str(outcome.status),
            "totalRecords": counts["totalRecords"],
            "processedRecords": counts["processedRecords"],
            "successfulRecords": counts["successfulRecords"],
            "failedRecords": counts["failedRecords"],
            "skippedRecords": counts["skippedRecords"],
            "results": outcome.results,
            "summary": {
                "created": counts["created"],
                "updated": counts["updated"],
                "deleted": counts["deleted"],
                "unchanged": counts["unchanged"],
                "validated": counts["validated"],
                "rolledBack": counts["rolledBackRecords"],
                "errors": counts["errors"],
                "warnings": counts["warnings"],
            },
            "options": outcome.options.as_json(),
            "executionTime": outcome.execution_time,
            "startedAt": iso(outcome.started_at),
            "completedAt": iso(outcome.completed_at),
        },
    }


def job_accepted_response(job: BatchJob) -> dict:
    """An accepted async job (answered with HTTP 202)."""
    return {
        "success": True,
        "data": {
            "jobId": job.public_id,
            "status": job.status,
            "totalRecords": job.total_records,
            "estimatedCompletion": iso(estimated_completion(job)),
            "progressUrl": job_url(job),
            "downloadUrl": None,
        },
    }


def job_status_response(job: BatchJob) -> dict:
    """A job's status in the API's envelope."""
    return {"success": True, "data": job_status(job)}
