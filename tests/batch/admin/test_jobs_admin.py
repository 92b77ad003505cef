"""The BatchJob admin: a company's staff follow their jobs, download results and failed
rows, retry what did not go in where that can help, cancel what has not run (each after a
confirmation) — and see no other company's. The list tells kinds apart, hides previews and
says honestly how each job ended."""

import csv
import io
import json

import pytest
from django.db import transaction
from django.urls import reverse

from batch.engine.composite import parse_composite_request
from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
from batch.jobs.composite import submit_composite_job
from batch.jobs.processing import process_job
from batch.jobs.submit import submit_job
from batch.models import BatchJob, JobKind
from batch.services.batches import handler_for
from ledger.models import Customer
from tests.helpers import admin_file_job, create, make_company, staff_user
from tests.workers import stop_shared_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def job_url(name: str, job: BatchJob) -> str:
    return reverse(f"admin:batch_batchjob_{name}", args=[job.pk])


def customers_job(credentials, *emails: str, **options) -> BatchJob:
    operations = [
        create({"name": f"Customer {i}", "email": email}, f"ref-{i}")
        for i, email in enumerate(emails, start=1)
    ]
    return submit_job(
        company=credentials.company,
        user=staff_user(credentials),
        handler=handler_for("customers"),
        request=BatchRequest(parse_operations(operations), BatchOptions(run_async=True, **options)),
    )


def customers_file(credentials, text: str, **options) -> BatchJob:
    """customers.csv imported as the admin does: a preview with validate_only."""
    return admin_file_job(credentials, text.encode(), **options)


def changelist(client, **params):
    return client.get(reverse("admin:batch_batchjob_changelist"), params)


@pytest.fixture(autouse=True)
def _jobs_run_here(_workers):
    """The jobs here are processed in this process, at the test's pace: the session's shared
    worker (started by an earlier module) must not take them up first."""
    stop_shared_worker(_workers)


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


def test_the_list_shows_kind_file_uploader_outcome_and_compact_counts(client, alpha, finished_job):
    imported = customers_file(alpha, "name,email\nAcme,acme@example.com\n")
    client.force_login(staff_user(alpha))

    page = changelist(client)
    filtered = changelist(client, status__exact="queued")

    assert page.status_code == 200
    assert [job.public_id for job in page.context["cl"].result_list] == [
        imported.public_id,
        finished_job.public_id,
    ]
    assert "customers.csv" in page.text
    assert staff_user(alpha).username in page.text
    assert "2 ✓ · 1 ✗" in page.text  # finished_job: two in, one failed
    assert "job-badge-partially_succeeded" in page.text
    assert "job-badge-succeeded" in page.text
    assert ">Import<" in page.text and ">API<" in page.text
    assert filtered.context["cl"].result_count == 0


def test_a_job_with_nothing_in_is_failed_in_red_not_completed(client, alpha):
    job = customers_job(alpha, "not-an-email", "also-not-an-email")
    process_job(job.pk)
    job.refresh_from_db()
    client.force_login(staff_user(alpha))

    page = changelist(client)
    detail = client.get(job_url("change", job))

    assert (job.status, job.outcome) == ("completed", "failed")
    assert "0 ✓ · 2 ✗" in page.text
    assert "job-badge-failed" in page.text and "#f8d7da" in page.text
    assert "job-badge-completed" not in page.text
    assert "job-badge-failed" in detail.text
    assert "job-badge-failed" in client.get(job_url("progress", job)).text


def test_previews_are_hidden_from_the_list_unless_the_kind_filter_asks(client, alpha):
    preview = customers_file(alpha, "name,email\nAcme,acme@example.com\n", validate_only=True)
    imported = customers_file(alpha, "name,email\nAcme,acme@example.com\n")
    client.force_login(staff_user(alpha))

    default = changelist(client)
    previews = changelist(client, kind="preview")
    everything = changelist(client, kind="all")

    assert (preview.kind, imported.kind) == (JobKind.PREVIEW, JobKind.IMPORT)
    assert [job.pk for job in default.context["cl"].result_list] == [imported.pk]
    assert preview.public_id not in default.text
    assert [job.pk for job in previews.context["cl"].result_list] == [preview.pk]
    assert everything.context["cl"].result_count == 2
    assert "All but previews" in default.text


def test_the_detail_page_shows_progress_summary_and_buttons(client, alpha, finished_job):
    client.force_login(staff_user(alpha))

    page = client.get(job_url("change", finished_job))

    assert page.status_code == 200
    assert "2 successful, 1 failed" in page.text
    assert "job-badge-partially_succeeded" in page.text
    assert "Download results (JSON)" in page.text
    assert "Download failed rows (CSV)" in page.text
    assert 'id="cancel-job"' not in page.text  # it has finished
    assert 'name="_save"' not in page.text  # jobs are not edited by hand
    assert client.get(reverse("admin:batch_batchjob_add")).status_code == 403


def test_the_detail_page_links_to_what_the_job_wrote(client, alpha, finished_job):
    client.force_login(staff_user(alpha))
    written = Customer.objects.for_company(alpha.company).order_by("number")

    page = client.get(job_url("change", finished_job))

    for customer in written:
        url = reverse("admin:ledger_customer_change", args=[customer.pk])
        assert f'<a href="{url}">{customer}</a>' in page.text
    assert written.count() == 2
    assert reverse("admin:ledger_customer_changelist") in page.text


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


def test_validation_failures_get_no_retry_but_the_way_forward(client, alpha, finished_job):
    client.force_login(staff_user(alpha))

    page = client.get(job_url("change", finished_job))
    forced = client.post(job_url("retry", finished_job), {"post": "yes"})

    assert 'id="retry-job"' not in page.text
    assert "correct them and import the corrected file" in page.text
    assert forced.status_code == 302
    assert not BatchJob.objects.filter(retry_of=finished_job).exists()


def test_records_held_back_by_a_bad_row_get_no_retry_with_the_same_options(client, alpha):
    # continueOnError=false: the bad email fails, the two after it are skipped; sent again
    # with the same options, the bad email would hold them back again.
    job = customers_job(
        alpha,
        "one@example.com",
        "not-an-email",
        "three@example.com",
        continue_on_error=False,
    )
    process_job(job.pk)
    job.refresh_from_db()
    client.force_login(staff_user(alpha))

    page = client.get(job_url("change", job))

    assert (job.failed_records, job.skipped_records) == (1, 1)
    assert 'id="retry-job"' not in page.text
    assert 'id="no-retry"' in page.text


def test_retry_asks_first_then_makes_a_new_job_of_a_cancelled_jobs_records(client, alpha):
    client.force_login(staff_user(alpha))
    with transaction.atomic():  # cancelled before a worker left running elsewhere sees it
        job = customers_job(alpha, "one@example.com", "two@example.com")
        client.post(job_url("cancel", job), {"post": "yes"})
    job.refresh_from_db()

    page = client.get(job_url("change", job))
    asked = client.get(job_url("retry", job))
    not_yet = BatchJob.objects.filter(retry_of=job).exists()
    response = client.post(job_url("retry", job), {"post": "yes"})

    assert (job.outcome, job.skipped_records) == ("cancelled", 2)
    assert 'id="retry-job"' in page.text
    assert asked.status_code == 200
    assert "again, as a new job?" in asked.text and 'name="post" value="yes"' in asked.text
    assert not not_yet
    retry = BatchJob.objects.get(retry_of=job)
    assert response.status_code == 302
    assert response.url == job_url("progress", retry)
    assert (retry.kind, retry.mode, retry.total_records, retry.status) == (
        "retry",
        "async",
        2,
        "queued",
    )
    process_job(retry.pk)
    wait_for(lambda: BatchJob.objects.get(pk=retry.pk).is_finished)
    assert Customer.objects.filter(company=alpha.company).count() == 2
    assert client.get(job_url("progress", retry)).status_code == 200


def test_cancel_asks_first_then_stops_a_queued_job(client, alpha):
    client.force_login(staff_user(alpha))

    with transaction.atomic():  # queued throughout: no worker sees it before the cancel
        job = customers_job(alpha, "one@example.com")
        detail = client.get(job_url("change", job))
        asked = client.get(job_url("cancel", job))
        job.refresh_from_db()
        still_queued = (job.status, job.cancel_requested)
        response = client.post(job_url("cancel", job), {"post": "yes"})

    assert 'id="cancel-job"' in detail.text
    assert asked.status_code == 200 and "Yes, cancel the job" in asked.text
    assert still_queued == ("queued", False)
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.cancel_requested, job.skipped_records) == ("cancelled", True, 1)
    process_job(job.pk)
    assert Customer.objects.count() == 0
    assert "job-badge-cancelled" in client.get(job_url("change", job)).text


def test_cancel_selected_jobs_asks_before_cancelling(client, alpha):
    client.force_login(staff_user(alpha))

    with transaction.atomic():  # queued throughout: no worker sees it before the cancel
        job = customers_job(alpha, "one@example.com")
        selection = {"action": "cancel_selected_jobs", "_selected_action": [job.pk]}
        asked = changelist_post(client, selection)
        job.refresh_from_db()
        still_queued = job.status
        changelist_post(client, {**selection, "post": "yes"})

    assert asked.status_code == 200 and job.public_id in asked.text
    assert "Yes, cancel them" in asked.text
    assert still_queued == "queued"
    job.refresh_from_db()
    assert job.status == "cancelled"


def changelist_post(client, data):
    return client.post(reverse("admin:batch_batchjob_changelist"), data)


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
    assert client.post(job_url("retry", finished_job), {"post": "yes"}).status_code == 404
    assert not BatchJob.objects.filter(retry_of=finished_job).exists()


def test_a_batch_of_several_entities_offers_its_failed_rows_as_a_workbook(client, alpha):
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
    download = client.get(job_url("failed_rows", job))

    assert page.status_code == 200
    assert "Download results (JSON)" in page.text
    assert "Download failed rows (Excel)" in page.text
    assert 'id="retry-job"' not in page.text  # a data error: a retry would fail again
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{job.public_id}-failed.xlsx"'


def test_the_export_form_chooses_csv_rather_than_dashes(client, alpha):
    client.force_login(staff_user(alpha))

    page = client.get(reverse("admin:ledger_customer_export"))

    assert page.status_code == 200
    assert '<option value="0" selected>csv</option>' in page.text
    assert '<option value="" selected>' not in page.text


def test_the_site_root_and_view_site_lead_to_the_admin(client, alpha):
    client.force_login(staff_user(alpha))

    root = client.get("/", follow=True)
    admin_index = client.get(reverse("admin:index"))

    assert root.status_code == 200
    assert root.redirect_chain[-1][0] == reverse("admin:index")
    view_site = admin_index.context["site_url"]
    assert client.get(view_site, follow=True).status_code == 200
