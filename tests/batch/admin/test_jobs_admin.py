"""The BatchJob admin: a company's staff follow their jobs, download results and failed
rows, retry what did not go in and cancel what has not run — and see no other company's."""

import csv
import io
import json

import pytest
from django.urls import reverse

from batch.engine.composite import parse_composite_request
from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
from batch.jobs.composite import submit_composite_job
from batch.jobs.processing import process_job
from batch.jobs.submit import submit_job
from batch.models import BatchJob
from batch.services.batches import handler_for
from ledger.models import Customer
from tests.helpers import create, make_company, staff_user

pytestmark = pytest.mark.django_db(transaction=True)


def job_url(name: str, job: BatchJob) -> str:
    return reverse(f"admin:batch_batchjob_{name}", args=[job.pk])


def customers_job(credentials, *emails: str) -> BatchJob:
    operations = [
        create({"name": f"Customer {i}", "email": email}, f"ref-{i}")
        for i, email in enumerate(emails, start=1)
    ]
    return submit_job(
        company=credentials.company,
        user=staff_user(credentials),
        handler=handler_for("customers"),
        request=BatchRequest(parse_operations(operations), BatchOptions(run_async=True)),
    )


@pytest.fixture
def alpha():
    return make_company("Alpha Sdn Bhd")


@pytest.fixture
def finished_job(alpha) -> BatchJob:
    job = customers_job(alpha, "one@example.com", "not-an-email", "three@example.com")
    process_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.successful_records, job.failed_records) == ("completed", 2, 1)
    return job


def test_the_list_shows_progress_counts_and_who_and_filters(client, alpha, finished_job):
    client.force_login(staff_user(alpha))

    page = client.get(reverse("admin:batch_batchjob_changelist"))
    filtered = client.get(reverse("admin:batch_batchjob_changelist"), {"status__exact": "queued"})

    assert page.status_code == 200
    assert finished_job.public_id in page.text
    assert "100%" in page.text
    assert staff_user(alpha).username in page.text
    assert filtered.context["cl"].result_count == 0


def test_the_detail_page_shows_progress_summary_and_buttons(client, alpha, finished_job):
    client.force_login(staff_user(alpha))

    page = client.get(job_url("change", finished_job))

    assert page.status_code == 200
    assert "2 successful, 1 failed" in page.text
    assert "Download results (JSON)" in page.text
    assert "Download failed rows (CSV)" in page.text
    assert 'value="Retry failed records"' in page.text
    assert 'value="Cancel job"' not in page.text  # it has finished
    assert 'name="_save"' not in page.text  # jobs are not edited by hand
    assert client.get(reverse("admin:batch_batchjob_add")).status_code == 403


def test_results_download_as_json_and_failed_rows_as_csv(client, alpha, finished_job):
    client.force_login(staff_user(alpha))

    results = json.loads(b"".join(client.get(job_url("results", finished_job)).streaming_content))
    failed = b"".join(client.get(job_url("failed_rows", finished_job)).streaming_content)

    assert results["jobId"] == finished_job.public_id
    assert [r["status"] for r in results["results"]] == ["created", "failed", "created"]
    header, row = csv.reader(io.StringIO(failed.decode("utf-8")))
    row = dict(zip(header, row, strict=False))
    assert (row["email"], row["errorCode"], row["errorField"]) == (
        "not-an-email",
        "VALIDATION_ERROR",
        "email",
    )
    status = client.get(job_url("status", finished_job)).json()
    assert status["progress"]["percentComplete"] == 100.0
    assert status["status"] == "completed"


def test_retry_makes_a_new_job_of_the_failed_records(client, alpha, finished_job):
    client.force_login(staff_user(alpha))

    response = client.post(job_url("retry", finished_job))

    retry = BatchJob.objects.get(retry_of=finished_job)
    assert response.status_code == 302
    assert response.url == job_url("progress", retry)
    assert (retry.mode, retry.total_records, retry.status) == ("async", 1, "queued")
    process_job(retry.pk)
    retry.refresh_from_db()
    assert retry.failed_records == 1  # the same bad email, the same rule
    assert client.get(job_url("progress", retry)).status_code == 200


def test_cancel_stops_a_queued_job(client, alpha):
    job = customers_job(alpha, "one@example.com")
    client.force_login(staff_user(alpha))

    detail = client.get(job_url("change", job))
    response = client.post(job_url("cancel", job))

    assert 'value="Cancel job"' in detail.text
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.cancel_requested, job.skipped_records) == ("cancelled", True, 1)
    process_job(job.pk)
    assert Customer.objects.count() == 0
    assert client.get(job_url("cancel", job)).status_code == 403  # buttons POST


def test_the_progress_page_polls_the_admins_own_json(client, alpha):
    job = customers_job(alpha, "one@example.com", "two@example.com")
    client.force_login(staff_user(alpha))

    queued = client.get(job_url("progress", job))
    process_job(job.pk)
    done = client.get(job_url("status", job)).json()

    assert queued.status_code == 200
    assert f'data-status-url="{job_url("status", job)}"' in queued.text
    assert 'http-equiv="refresh"' in queued.text  # without JavaScript it still moves on
    assert done["progress"] == {
        "totalRecords": 2,
        "processedRecords": 2,
        "successfulRecords": 2,
        "failedRecords": 0,
        "skippedRecords": 0,
        "percentComplete": 100.0,
    }


def test_another_companys_staff_see_none_of_its_jobs(client, alpha, finished_job):
    beta = make_company("Beta Sdn Bhd")
    client.force_login(staff_user(beta))

    listing = client.get(reverse("admin:batch_batchjob_changelist"))

    assert finished_job.public_id not in listing.text
    for name in ("change", "progress", "status", "results", "failed_rows"):
        assert client.get(job_url(name, finished_job)).status_code == 404, name
    assert client.post(job_url("retry", finished_job)).status_code == 404
    assert not BatchJob.objects.filter(retry_of=finished_job).exists()


def test_a_batch_of_several_entities_offers_no_failed_rows_csv_or_retry(client, alpha):
    request = parse_composite_request(
        {
            "operations": [
                {"entity": "customers", "operation": "create", "data": {"name": "Acme"}},
                {"entity": "customers", "operation": "create", "data": {"name": ""}},
            ],
            "options": {"async": True},
        }
    )
    job = submit_composite_job(company=alpha.company, user=staff_user(alpha), request=request)
    process_job(job.pk)
    client.force_login(staff_user(alpha))

    page = client.get(job_url("change", job))
    csv_link = client.get(job_url("failed_rows", job))

    assert page.status_code == 200
    assert "Download results (JSON)" in page.text
    assert "Download failed rows (CSV)" not in page.text
    assert 'value="Retry failed records"' not in page.text
    assert csv_link.status_code == 302  # back to the job, with the reason as a message
