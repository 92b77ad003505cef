"""Health checks for load balancers, orchestrators and monitoring (docs/operations.md, "Health
checks"). No key: they tell only whether something works, never what a company holds; a
failed check names the error's kind, and the log has the rest.

- GET /health/live: the web process answers; touches neither database nor cache.
- GET /health/ready: the database and cache answer and every migration is applied: 200, or
  503 with the failed checks — take the process out of rotation, do not restart it.
- GET /health/workers: some worker is running — a sweep (batch.worker) ran recently — and
  how many jobs wait: 200, or 503 when no sweep ran for a few sweep intervals
  (workers_silent_after)."""

import logging
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Min
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_safe

from batch.jobs.status import iso
from batch.models import BatchJob, JobMode, JobStatus, SweeperHeartbeat

logger = logging.getLogger(__name__)

OK = "ok"
# Sweeps an interval apart; silent for this many of them, the workers are taken as gone.
SILENT_SWEEPS = 3
SILENT_MIN_SECONDS = 30


def workers_silent_after() -> float:
    """Seconds without a sweep after which no worker is taken to be running: a few of the
    sweeper's intervals (the workers' own, else beat's), and never under half a minute."""
    interval = settings.BATCH_WORKER_SWEEP_SECONDS or settings.BATCH_SWEEP_SECONDS
    return max(SILENT_SWEEPS * interval, SILENT_MIN_SECONDS)


@require_safe
def live(request) -> JsonResponse:
    return JsonResponse({"status": OK})


@require_safe
def ready(request) -> JsonResponse:
    checks = {
        "database": _check(_database_answers),
        "cache": _check(_cache_answers),
    }
    checks["migrations"] = _check(_migrations_applied) if checks["database"] == OK else "unknown"
    healthy = all(outcome == OK for outcome in checks.values())
    return JsonResponse(
        {"status": OK if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


@require_safe
def workers(request) -> JsonResponse:
    heartbeat = SweeperHeartbeat.objects.filter(pk=1).first()
    now = timezone.now()
    since = (now - heartbeat.swept_at).total_seconds() if heartbeat else None
    running = since is not None and since <= workers_silent_after()
    jobs = BatchJob.objects.filter(mode=JobMode.ASYNC)
    queued = jobs.filter(status=JobStatus.QUEUED)
    oldest = queued.aggregate(oldest=Min("created_at"))["oldest"]
    return JsonResponse(
        {
            "status": OK if running else "unavailable",
            "lastSweep": iso(heartbeat.swept_at) if heartbeat else None,
            "secondsSinceLastSweep": None if since is None else round(since, 1),
            "jobs": {
                "queued": queued.count(),
                "processing": jobs.filter(status=JobStatus.PROCESSING).count(),
                "oldestQueuedSeconds": round((now - oldest).total_seconds(), 1) if oldest else None,
            },
        },
        status=200 if running else 503,
    )


def _check(answers) -> str:
    """The check's outcome: "ok", or what went wrong (the error's kind, or what `answers`
    said)."""
    try:
        problem = answers()
    except Exception as error:
        logger.exception("health check %s failed", answers.__name__)
        return type(error).__name__
    return problem or OK


def _database_answers() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def _cache_answers() -> str | None:
    key, token = "health:ready", secrets.token_hex(8)
    cache.set(key, token, timeout=30)
    return None if cache.get(key) == token else "does not keep what it is given"


_schema_current = False  # once every migration is applied, a running process keeps it so


def _migrations_applied() -> str | None:
    global _schema_current
    if not _schema_current:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            return f"{len(pending)} not applied"
        _schema_current = True
    return None


urlpatterns = [
    path("live", live, name="health-live"),
    path("ready", ready, name="health-ready"),
    path("workers", workers, name="health-workers"),
]
