"""GET /v1/batch/metrics: a company's batch work, as docs/api.md describes it, plus
per-entity counts and throughput. Previews write nothing, so they are counted only when
asked for (?kind=preview), never beside the imports.

Aggregates over the company's BatchJob rows (sync batches and async jobs alike): one query
for this month by entity (the month's totals are their sums) and one for what is running or
waiting, whatever the number of jobs."""

from datetime import datetime

from django.db.models import Count, Q, Sum
from django.utils import timezone

from batch.api.ratelimit import peek, standard_policy
from batch.api.responses import iso
from batch.engine.handlers import registered_handlers
from batch.models import BatchJob, JobKind, JobStatus


def month_start(now: datetime) -> datetime:
    """The first instant of `now`'s month in the project's time zone."""
    return timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def jobs_of_kind(company, kind: str | None):
    """The company's jobs of `kind`; without one, every job but previews."""
    jobs = BatchJob.objects.for_company(company)
    return jobs.filter(kind=kind) if kind else jobs.exclude(kind=JobKind.PREVIEW)


def entity_rows(company, since: datetime, kind: str | None = None) -> dict[str, dict]:
    timed = Q(execution_time__gt=0)
    rows = (
        jobs_of_kind(company, kind)
        .filter(created_at__gte=since)
        .values("entity")
        .annotate(
            batches=Count("pk"),
            records=Sum("total_records"),
            processed=Sum("processed_records"),
            successful=Sum("successful_records"),
            failed=Sum("failed_records"),
            timed_batches=Count("execution_time"),
            seconds=Sum("execution_time"),
            timed_records=Sum("processed_records", filter=timed),
            timed_seconds=Sum("execution_time", filter=timed),
        )
        .order_by("entity")
    )
    return {row["entity"]: row for row in rows}


def running_counts(company, kind: str | None = None) -> dict[str, int]:
    return (
        jobs_of_kind(company, kind)
        .filter(status__in=[JobStatus.PROCESSING, JobStatus.QUEUED])
        .aggregate(
            active=Count("pk", filter=Q(status=JobStatus.PROCESSING)),
            queued=Count("pk", filter=Q(status=JobStatus.QUEUED)),
        )
    )


def _total(rows, name: str) -> float:
    return sum(row[name] or 0 for row in rows)


def current_month(rows: list[dict]) -> dict:
    processed, timed = _total(rows, "processed"), _total(rows, "timed_batches")
    return {
        "totalBatches": _total(rows, "batches"),
        "totalRecords": _total(rows, "records"),
        "averageProcessingTime": round(_total(rows, "seconds") / timed, 3) if timed else None,
        "successRate": (
            round(100 * _total(rows, "successful") / processed, 1) if processed else None
        ),
    }


def entity_metrics(row: dict | None) -> dict:
    row = row or {}
    seconds = row.get("timed_seconds") or 0
    return {
        "batches": row.get("batches") or 0,
        "records": row.get("records") or 0,
        "successfulRecords": row.get("successful") or 0,
        "failedRecords": row.get("failed") or 0,
        "recordsPerSecond": round((row.get("timed_records") or 0) / seconds, 1)
        if seconds
        else None,
    }


def batch_metrics(*, company, now: datetime | None = None, kind: str | None = None) -> dict:
    """The metrics: this month's batches, what is running and queued, and where the
    company stands against its standard rate limit — of the jobs of `kind`, or of every
    job but previews."""
    now = now or timezone.now()
    rows = entity_rows(company, month_start(now), kind)
    running = running_counts(company, kind)
    limit = peek(company=company, policy=standard_policy())
    entities = sorted(set(registered_handlers()) | set(rows))
    return {
        "currentMonth": current_month(list(rows.values())),
        "activeBatches": running["active"],
        "queuedBatches": running["queued"],
        "rateLimits": {"remaining": limit.remaining, "resetTime": iso(limit.reset_time())},
        "entities": {entity: entity_metrics(rows.get(entity)) for entity in entities},
    }
