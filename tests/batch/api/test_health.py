"""GET /health/live, /health/ready and /health/workers: what a load balancer and monitoring
ask, answered without a key, and 503 with the failed check when something is down."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client, override_settings
from django.utils import timezone

from batch.api import health
from batch.jobs.sweep import sweep
from batch.models import SweeperHeartbeat
from tests.helpers import numbered_customer, submit
from tests.workers import stop_shared_worker, wait_for

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
    }
}


def get(path: str):
    response = Client().get(path)
    return response.status_code, response.json()


def test_live_answers_without_touching_the_database():
    # No django_db mark: a query would fail the test.
    assert get("/health/live") == (200, {"status": "ok"})
    assert Client().head("/health/live").status_code == 200
    assert Client().post("/health/live").status_code == 405


@pytest.mark.django_db
def test_ready_when_database_cache_and_schema_answer():
    assert get("/health/ready") == (
        200,
        {"status": "ok", "checks": {"database": "ok", "cache": "ok", "migrations": "ok"}},
    )


@pytest.mark.django_db
def test_not_ready_when_the_cache_is_down():
    with override_settings(CACHES=UNREACHABLE_REDIS):
        status, answer = get("/health/ready")

    assert status == 503
    assert answer["status"] == "unavailable"
    assert answer["checks"] == {"database": "ok", "cache": "ConnectionError", "migrations": "ok"}


@pytest.mark.django_db
def test_not_ready_while_a_migration_is_not_applied(monkeypatch):
    monkeypatch.setattr(health, "_schema_current", False)
    [latest] = MigrationLoader(connection).graph.leaf_nodes("batch")
    MigrationRecorder(connection).record_unapplied(*latest)

    status, answer = get("/health/ready")

    assert status == 503
    assert answer["checks"]["migrations"] == "1 not applied"


@pytest.mark.django_db(transaction=True)
def test_workers_are_reported_gone_until_a_sweep_runs_and_again_once_sweeps_stop(api, _workers):
    stop_shared_worker(_workers)  # no worker, so nothing sweeps but this test
    SweeperHeartbeat.objects.all().delete()  # what it noted before it stopped
    submit(api, "customers", [numbered_customer(1)])

    before = get("/health/workers")
    sweep()
    after = get("/health/workers")
    SweeperHeartbeat.objects.update(swept_at=timezone.now() - timedelta(seconds=120))
    stale = get("/health/workers")

    assert before[0] == 503 and before[1]["lastSweep"] is None
    assert after[0] == 200 and after[1]["secondsSinceLastSweep"] < 5
    assert after[1]["lastSweep"].endswith("Z")  # as the API writes times
    assert after[1]["jobs"]["queued"] + after[1]["jobs"]["processing"] == 1
    assert stale[0] == 503 and stale[1]["secondsSinceLastSweep"] >= 120


def test_a_running_worker_is_seen(celery_worker):
    SweeperHeartbeat.objects.all().delete()
    wait_for(lambda: get("/health/workers")[0] == 200, timeout=30)
