"""Async jobs end to end: a real Celery worker on Redis processes them through the engine."""

import csv
import io

import pytest
import simplejson

from batch.models import BatchChunk, BatchJob
from ledger import selectors
from ledger.models import Customer
from tests.helpers import create, finished, job_status, numbered_customer, post_batch, submit
from tests.workers import wait_for


@pytest.mark.django_db(transaction=True)
def test_an_async_batch_answers_202_and_a_worker_completes_it(api, company, celery_worker):
    operations = [numbered_customer(i) for i in range(1200)] + [numbered_customer(5000, name="")]

    accepted = submit(api, "customers", operations)

    assert accepted["jobId"].startswith("job_")
    assert accepted["status"] == "queued"
    assert accepted["totalRecords"] == 1201
    assert accepted["progressUrl"] == f"/v1/batch/jobs/{accepted['jobId']}"
    assert accepted["downloadUrl"] is None
    assert accepted["estimatedCompletion"].endswith("Z")
    done = finished(api, accepted["jobId"])
    assert done["status"] == "completed"
    assert done["progress"] == {
        "totalRecords": 1201,
        "processedRecords": 1201,
        "successfulRecords": 1200,
        "failedRecords": 1,
        "skippedRecords": 0,
        "percentComplete": 100.0,
    }
    assert done["results"]["available"] is True
    assert done["results"]["downloadUrl"] == f"/v1/batch/jobs/{accepted['jobId']}/results"
    assert Customer.objects.for_company(company).count() == 1200
    numbers = set(Customer.objects.for_company(company).values_list("number", flat=True))
    assert numbers == {f"CUST-{i:04d}" for i in range(1, 1201)}
    job = BatchJob.objects.get(public_id=accepted["jobId"])
    assert BatchChunk.objects.filter(job=job).count() == 3  # chunks of the entity maximum


@pytest.mark.django_db(transaction=True)
def test_results_are_paged_and_failed_rows_download_as_csv(api, celery_worker):
    operations = [numbered_customer(i) for i in range(700)]
    operations[3] = numbered_customer(3, email="not-an-email")
    operations[650] = numbered_customer(650, name='=HYPERLINK("http://x")', creditLimit="-1")
    job_id = submit(api, "customers", operations)["jobId"]
    finished(api, job_id)

    page = api.get(f"/v1/batch/jobs/{job_id}/results?page=2&pageSize=400").json()
    failed = api.get(f"/v1/batch/jobs/{job_id}/results?status=failed").json()
    download = api.get(f"/v1/batch/jobs/{job_id}/results?format=csv")

    assert [r["index"] for r in page["data"]["results"]] == list(range(400, 700))
    assert page["pagination"]["totalRecords"] == 700
    assert [r["referenceId"] for r in failed["data"]["results"]] == ["ref-3", "ref-650"]
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [row["referenceId"] for row in rows] == ["ref-3", "ref-650"]
    assert rows[0]["email"] == "not-an-email" and rows[0]["errorField"] == "email"
    assert rows[0]["rowNumber"] == "4"
    assert rows[1]["name"].startswith("'=")  # a formula is neutralised, not run
    assert rows[1]["errorCode"] == "VALIDATION_ERROR"


@pytest.mark.django_db(transaction=True)
def test_retry_runs_only_the_failed_records_with_corrections(api, company, celery_worker):
    operations = [numbered_customer(i) for i in range(10)]
    operations[2] = numbered_customer(2, email="bad")
    operations[7] = numbered_customer(7, phone="12")
    job_id = submit(api, "customers", operations)["jobId"]
    finished(api, job_id)

    retried = api.post(
        f"/v1/batch/jobs/{job_id}/retry",
        simplejson.dumps({"corrections": {"ref-2": {"name": "Customer 2", "email": "c2@x.com"}}}),
        content_type="application/json",
    )

    assert retried.status_code == 202
    new_job = retried.json()["data"]
    assert new_job["totalRecords"] == 2
    done = finished(api, new_job["jobId"])
    assert (done["progress"]["successfulRecords"], done["progress"]["failedRecords"]) == (1, 1)
    assert done["retryOf"] == job_id
    assert Customer.objects.for_company(company).filter(email="c2@x.com").exists()
    assert Customer.objects.for_company(company).count() == 9


@pytest.mark.django_db(transaction=True)
def test_rollback_on_error_makes_the_whole_job_one_transaction(api, company, celery_worker):
    operations = [numbered_customer(i) for i in range(1100)]
    operations[1050] = numbered_customer(1050, creditLimit="1.001")

    job_id = submit(api, "customers", operations, rollbackOnError=True)["jobId"]
    done = finished(api, job_id)

    assert done["status"] == "rolled_back"
    assert done["progress"]["failedRecords"] == 1
    assert done["summary"]["rolledBack"] == 1099
    assert not Customer.objects.for_company(company).exists()
    first = api.get(f"/v1/batch/jobs/{job_id}/results?pageSize=1").json()["data"]["results"][0]
    assert (first["status"], first["error"]["code"]) == ("rolled_back", "ROLLED_BACK")


@pytest.mark.django_db(transaction=True)
def test_continue_on_error_false_skips_everything_after_the_first_failure(
    api, company, celery_worker
):
    operations = [numbered_customer(i) for i in range(1200)]
    operations[600] = numbered_customer(600, name="")

    done = finished(api, submit(api, "customers", operations, continueOnError=False)["jobId"])

    assert done["progress"]["successfulRecords"] == 600
    assert done["progress"]["failedRecords"] == 1
    assert done["progress"]["skippedRecords"] == 599
    assert Customer.objects.for_company(company).count() == 600


@pytest.mark.django_db(transaction=True)
def test_jobs_list_filters_by_status_and_entity(api, celery_worker):
    post_batch(api, "customers", [numbered_customer(1)])
    job_id = submit(api, "suppliers", [create({"name": "S"})])["jobId"]
    finished(api, job_id)

    everything = api.get("/v1/batch/jobs").json()
    suppliers = api.get("/v1/batch/jobs?entity=suppliers&status=completed").json()

    assert everything["pagination"]["totalRecords"] == 2
    assert {job["mode"] for job in everything["data"]} == {"sync", "async"}
    assert [job["jobId"] for job in suppliers["data"]] == [job_id]


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_processing_job_between_chunks(api, company, celery_worker):
    operations = [
        create(
            {
                "date": "2024-01-15",
                "reference": f"JE-{i}",
                "lines": [
                    {"accountCode": "6000", "debit": "1.00"},
                    {"accountCode": "1620", "credit": "1.00"},
                ],
            }
        )
        for i in range(20000)
    ]
    job_id = submit(api, "journal-entries", operations)["jobId"]
    wait_for(lambda: job_status(api, job_id)["progress"]["processedRecords"] > 0)

    response = api.post(f"/v1/batch/jobs/{job_id}/cancel")
    done = finished(api, job_id)

    assert response.status_code == 200
    assert done["status"] == "cancelled"
    progress = done["progress"]
    assert 0 < progress["processedRecords"] < 20000
    assert progress["processedRecords"] + progress["skippedRecords"] == 20000
    debit, credit = selectors.journal_totals(company=company)
    assert debit == credit == progress["successfulRecords"]


def test_another_companys_job_is_404(api, other_api, db):
    job_id = post_batch(other_api, "customers", [numbered_customer(1)])["data"]["batchId"]

    assert api.get(f"/v1/batch/jobs/{job_id}").status_code == 404
    assert api.get(f"/v1/batch/jobs/{job_id}/results").status_code == 404
    assert api.post(f"/v1/batch/jobs/{job_id}/retry").status_code == 404


def test_an_async_batch_over_the_async_maximum_is_refused(api, settings, db):
    settings.BATCH_ASYNC_MAX_OPERATIONS = 5

    response = post_batch(
        api, "customers", [numbered_customer(i) for i in range(6)], status=400, **{"async": True}
    )

    assert response["error"]["code"] == "BATCH_TOO_LARGE"


def test_a_sync_batch_can_be_read_back_as_a_job(api, db):
    batch_id = post_batch(api, "customers", [numbered_customer(1), numbered_customer(2, name="")])[
        "data"
    ]["batchId"]

    status = job_status(api, batch_id)
    results = api.get(f"/v1/batch/jobs/{batch_id}/results").json()["data"]["results"]

    assert (status["mode"], status["status"]) == ("sync", "completed")
    assert [r["status"] for r in results] == ["created", "failed"]
