"""Honest jobs through the API: every job says what it was for (api, import, preview,
retry) and how it ended (outcome); previews are neither listed nor counted unless asked
for, and expire; a retry that would only fail again is refused with the way forward."""

import json
from datetime import timedelta

import pytest
import simplejson
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
from batch.jobs.processing import request_cancel
from batch.jobs.submit import submit_job
from batch.models import BatchJob
from batch.services.batches import handler_for
from ledger.models import Customer
from tests.helpers import create, finished, post_batch, staff_user, submit

pytestmark = pytest.mark.django_db(transaction=True)

GOOD_AND_BAD = b"name,email\r\nAcme,acme@example.com\r\nBad,not-an-email\r\n"


def upload(api, content: bytes, *, name="customers.csv", options=None, status=200) -> dict:
    form = {"file": SimpleUploadedFile(name, content)}
    if options is not None:
        form["options"] = json.dumps(options)
    response = api.post("/v1/batch/customers/import-csv", form, format="multipart")
    assert response.status_code == status, response.content
    return response.json()["data"]


def jobs_listed(api, **params) -> list[dict]:
    response = api.get("/v1/batch/jobs", params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def status_of(api, job_id: str) -> dict:
    return api.get(f"/v1/batch/jobs/{job_id}").json()["data"]


def retry(api, job_id: str, body: dict | None = None):
    return api.post(
        f"/v1/batch/jobs/{job_id}/retry",
        simplejson.dumps(body or {}),
        content_type="application/json",
    )


def processed_job(api, *emails: str) -> str:
    """An async customers job of one customer per email, run to its end by a worker."""
    operations = [
        create({"name": f"Customer {i}", "email": email}, f"ref-{i}")
        for i, email in enumerate(emails, start=1)
    ]
    job_id = submit(api, "customers", operations)["jobId"]
    finished(api, job_id)
    return job_id


def test_each_door_records_its_kind_file_and_uploader(api, credentials):
    batch = post_batch(api, "customers", [create({"name": "Json"})])["data"]
    imported = upload(api, GOOD_AND_BAD, name="october customers.csv")
    preview = upload(api, GOOD_AND_BAD, options={"validateOnly": True})

    api_job, import_job, preview_job = (
        status_of(api, job_id)
        for job_id in (batch["batchId"], imported["batchId"], preview["batchId"])
    )

    assert (api_job["kind"], api_job["fileName"]) == ("api", None)
    assert (import_job["kind"], import_job["fileName"]) == ("import", "october customers.csv")
    assert (preview_job["kind"], preview_job["fileName"]) == ("preview", "customers.csv")
    uploader = BatchJob.objects.get(public_id=imported["batchId"]).created_by
    assert uploader == staff_user(credentials)
    assert import_job["expiresAt"] is None


def test_a_preview_expires_after_the_configured_time(api, settings):
    settings.BATCH_PREVIEW_TTL_SECONDS = 3600
    before = timezone.now()

    preview = upload(api, GOOD_AND_BAD, options={"validateOnly": True})

    expires = BatchJob.objects.get(public_id=preview["batchId"]).expires_at
    assert before + timedelta(seconds=3600) <= expires <= timezone.now() + timedelta(seconds=3600)


def test_previews_are_not_listed_or_counted_unless_asked_for(api):
    imported = upload(api, GOOD_AND_BAD)
    preview = upload(api, GOOD_AND_BAD, options={"validateOnly": True})

    listed = jobs_listed(api)
    previews = jobs_listed(api, kind="preview")
    metrics = api.get("/v1/batch/metrics").json()["data"]
    preview_metrics = api.get("/v1/batch/metrics", {"kind": "preview"}).json()["data"]
    refused = api.get("/v1/batch/jobs", {"kind": "previews"})

    assert [job["jobId"] for job in listed] == [imported["batchId"]]
    assert [job["jobId"] for job in previews] == [preview["batchId"]]
    assert metrics["currentMonth"]["totalBatches"] == 1
    assert metrics["entities"]["customers"]["successfulRecords"] == 1
    assert preview_metrics["currentMonth"]["totalBatches"] == 1
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "INVALID_REQUEST"


def test_outcome_says_failed_when_nothing_went_in(api, celery_worker):
    failed = processed_job(api, "not-an-email", "also-not-an-email")
    partial = processed_job(api, "one@example.com", "not-an-email")
    clean = processed_job(api, "two@example.com")

    outcomes = {job["jobId"]: job["outcome"] for job in jobs_listed(api)}

    assert status_of(api, failed)["status"] == "completed"  # the engine finished it …
    assert outcomes == {  # … but nothing went in
        failed: "failed",
        partial: "partially_succeeded",
        clean: "succeeded",
    }


def test_a_queued_job_has_no_outcome_yet(api, credentials):
    with transaction.atomic():  # looked at before any worker can take it
        job = submit_job(
            company=credentials.company,
            user=staff_user(credentials),
            handler=handler_for("customers"),
            request=BatchRequest(
                parse_operations([create({"name": "Later"}, "later")]),
                BatchOptions(run_async=True),
            ),
        )
        status = status_of(api, job.public_id)
        request_cancel(job)  # leaves a worker nothing to do once this commits

    assert (status["status"], status["outcome"]) == ("queued", None)


def test_retrying_validation_failures_is_409_pointing_to_a_corrected_file(api, celery_worker):
    job_id = processed_job(api, "one@example.com", "not-an-email")

    refused = retry(api, job_id)
    corrected = retry(
        api, job_id, {"corrections": {"ref-2": {"name": "Customer 2", "email": "two@ex.com"}}}
    )

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert "would fail again" in error["message"]
    assert "corrected" in error["message"]
    assert error["details"] == [{"jobId": job_id, "retryable": False}]
    assert corrected.status_code == 202  # corrected data is the way forward
    retried = finished(api, corrected.json()["data"]["jobId"])  # not left to the worker
    assert retried["kind"] == "retry"
    assert retried["progress"]["successfulRecords"] == 1


def test_a_file_import_refused_retry_names_the_file(api, credentials):
    imported = upload(api, GOOD_AND_BAD, name="october.csv")

    refused = retry(api, imported["batchId"])

    assert refused.status_code == 409
    assert (
        "correct the rows in october.csv and import it again"
        in (refused.json()["error"]["message"])
    )


def test_a_cancelled_jobs_records_are_retried(api, credentials, celery_worker):
    with transaction.atomic():  # cancelled before any worker can see it queued
        job = submit_job(
            company=credentials.company,
            user=staff_user(credentials),
            handler=handler_for("customers"),
            request=BatchRequest(
                parse_operations([create({"name": "Acme", "email": "a@example.com"}, "a")]),
                BatchOptions(run_async=True),
            ),
        )
        request_cancel(job)

    answer = retry(api, job.public_id)

    assert status_of(api, job.public_id)["outcome"] == "cancelled"
    assert answer.status_code == 202
    assert finished(api, answer.json()["data"]["jobId"])["outcome"] == "succeeded"
    assert Customer.objects.filter(company=credentials.company, name="Acme").exists()


def test_a_preview_is_never_retried(api):
    preview = upload(api, GOOD_AND_BAD, options={"validateOnly": True})

    refused = retry(api, preview["batchId"])

    assert refused.status_code == 409
    assert "is a preview" in refused.json()["error"]["message"]
