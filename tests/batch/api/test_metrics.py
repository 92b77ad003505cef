"""GET /v1/batch/metrics: the documented shape, computed from aggregates over the company's jobs."""

from datetime import timedelta

import simplejson
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batch.engine.handlers import registered_handlers
from batch.models import BatchJob, JobMode, JobStatus
from bigledger.models import PublicIdGenerator
from tests.helpers import create, post_batch

JOB_ID = PublicIdGenerator("job")


def make_job(company, *, entity="customers", status=JobStatus.COMPLETED, age_days=0, **counts):
    job = BatchJob.objects.create(
        company=company,
        public_id=JOB_ID(),
        entity=entity,
        mode=JobMode.ASYNC,
        status=status,
        **counts,
    )
    if age_days:
        BatchJob.objects.filter(pk=job.pk).update(
            created_at=timezone.now() - timedelta(days=age_days)
        )
    return job


def finished(company, entity, *, records, successful, seconds, age_days=0):
    return make_job(
        company,
        entity=entity,
        age_days=age_days,
        total_records=records,
        processed_records=records,
        successful_records=successful,
        failed_records=records - successful,
        execution_time=seconds,
    )


def get_metrics(api) -> dict:
    response = api.get("/v1/batch/metrics")
    assert response.status_code == 200, response.content
    return simplejson.loads(response.content)


def test_metrics_answer_in_the_documented_shape(api, company, other_company):
    finished(company, "customers", records=100, successful=95, seconds=2.0)
    finished(company, "customers", records=50, successful=50, seconds=3.0)
    finished(company, "items", records=200, successful=190, seconds=1.0)
    make_job(company, status=JobStatus.PROCESSING, total_records=1000)
    make_job(company, status=JobStatus.QUEUED, total_records=10)
    make_job(company, status=JobStatus.QUEUED, total_records=10)
    finished(company, "items", records=999, successful=0, seconds=9.0, age_days=45)
    finished(other_company, "customers", records=7, successful=7, seconds=1.0)

    body = get_metrics(api)

    assert body["success"] is True
    data = body["data"]
    assert data["currentMonth"] == {
        "totalBatches": 6,
        "totalRecords": 100 + 50 + 200 + 1000 + 10 + 10,
        "averageProcessingTime": 2.0,
        "successRate": 95.7,  # 335 of 350 processed records
    }
    assert data["activeBatches"] == 1
    assert data["queuedBatches"] == 2
    assert data["rateLimits"]["remaining"] == 10
    assert data["rateLimits"]["resetTime"].endswith("Z")
    assert set(data["entities"]) == set(registered_handlers())
    assert data["entities"]["customers"] == {
        "batches": 5,
        "records": 1170,
        "successfulRecords": 145,
        "failedRecords": 5,
        "recordsPerSecond": 30.0,
    }
    assert data["entities"]["items"]["recordsPerSecond"] == 200.0
    assert data["entities"]["payments"] == {
        "batches": 0,
        "records": 0,
        "successfulRecords": 0,
        "failedRecords": 0,
        "recordsPerSecond": None,
    }


def test_a_company_without_batches_has_empty_metrics(api):
    data = get_metrics(api)["data"]

    assert data["currentMonth"] == {
        "totalBatches": 0,
        "totalRecords": 0,
        "averageProcessingTime": None,
        "successRate": None,
    }
    assert data["activeBatches"] == data["queuedBatches"] == 0


def test_sync_batches_count_and_use_up_the_rate_limit(api, monkeypatch):
    monkeypatch.setattr("batch.api.ratelimit.clock", lambda: 1_900_000_025.0)
    for number in range(3):
        post_batch(api, "customers", [create({"name": f"C{number}"})])

    response = api.get("/v1/batch/metrics")
    data = simplejson.loads(response.content)["data"]

    assert data["currentMonth"]["totalBatches"] == 3
    assert data["currentMonth"]["successRate"] == 100.0
    assert data["entities"]["customers"]["successfulRecords"] == 3
    assert data["rateLimits"]["remaining"] == 7
    assert response["RateLimit-Remaining"] == "7"


def count_metric_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        get_metrics(api)
    return len(queries)


def test_metrics_cost_a_constant_number_of_queries(api, company):
    get_metrics(api)  # the key's last use is recorded once a minute, not on every request
    for entity in ("customers", "items"):
        finished(company, entity, records=10, successful=9, seconds=1.0)
    few = count_metric_queries(api)

    for number in range(40):
        entity = ("customers", "items", "invoices", "payments")[number % 4]
        finished(company, entity, records=10, successful=9, seconds=1.0)
        make_job(company, status=JobStatus.QUEUED)
    many = count_metric_queries(api)

    assert few == many
    assert many == 4  # the API key, the user's permissions (one statement), two aggregates


def test_metrics_need_an_api_key(client):
    assert client.get("/v1/batch/metrics").status_code == 401
