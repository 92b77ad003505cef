"""Results kept for BATCH_RESULTS_RETENTION_DAYS: the sweep then deletes a finished job's
chunks — results, stored operations, file cells — and keeps the job with its counts; reading
what went says so (410 RESULTS_DELETED), in the API and in the admin alike."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from batch.jobs import sweep
from batch.models import BatchChunk, BatchJob, BatchReference
from tests.batch.jobs.test_composite_jobs import accounts, entries, post_composite
from tests.helpers import admin_file_job, admin_url, finished, json_of, staff_user

pytestmark = pytest.mark.django_db(transaction=True)

# One row goes in, one fails: the job has results, failed rows and something to retry.
CSV = b"name,email\r\nAcme,acme@example.com\r\nNo Email,not-an-email\r\n"


def finished_days_ago(credentials, days: int) -> BatchJob:
    job = admin_file_job(credentials, CSV)
    assert job.is_finished and BatchChunk.objects.filter(job=job).exists()
    BatchJob.objects.filter(pk=job.pk).update(completed_at=timezone.now() - timedelta(days=days))
    return BatchJob.objects.get(pk=job.pk)


def test_results_past_their_retention_go_and_the_job_stays(credentials, settings, fresh_pacing):
    settings.BATCH_RESULTS_RETENTION_DAYS = 30
    old = finished_days_ago(credentials, 31)
    recent = finished_days_ago(credentials, 29)

    outcome = sweep.sweep()

    old.refresh_from_db()
    assert outcome["resultsDeleted"] == 1
    assert not BatchChunk.objects.filter(job=old).exists()
    assert old.results_deleted_at is not None
    assert (old.total_records, old.successful_records, old.failed_records) == (2, 1, 1)
    assert BatchChunk.objects.filter(job=recent).exists()
    assert BatchJob.objects.get(pk=recent.pk).results_deleted_at is None


def test_a_composite_jobs_references_go_with_its_results(api, settings, celery_worker):
    settings.BATCH_RESULTS_RETENTION_DAYS = 30
    settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS = 3  # the entries in a later chunk
    posted = post_composite(api, accounts(3) + entries(3, accounts_made=3))["data"]
    assert finished(api, posted["jobId"])["status"] == "completed"
    job = BatchJob.objects.get(public_id=posted["jobId"])
    assert BatchReference.objects.filter(job=job).count() == 3  # the accounts entries name
    BatchJob.objects.filter(pk=job.pk).update(completed_at=timezone.now() - timedelta(days=31))

    assert sweep.delete_expired_results() == 1
    assert not BatchReference.objects.filter(job=job).exists()


def test_a_preview_keeps_its_results_until_it_expires_whole(credentials, settings):
    settings.BATCH_RESULTS_RETENTION_DAYS = 1
    preview = admin_file_job(credentials, CSV, validate_only=True)
    BatchJob.objects.filter(pk=preview.pk).update(completed_at=timezone.now() - timedelta(days=2))

    assert sweep.delete_expired_results() == 0
    assert BatchChunk.objects.filter(job=preview).exists()


def test_without_a_retention_nothing_goes(credentials, settings, fresh_pacing):
    settings.BATCH_RESULTS_RETENTION_DAYS = 0
    job = finished_days_ago(credentials, 3650)

    assert sweep.delete_expired_results() == 0
    assert BatchChunk.objects.filter(job=job).exists()


def test_one_sweep_deletes_a_bounded_number_oldest_first(credentials, settings):
    settings.BATCH_RESULTS_RETENTION_DAYS = 1
    jobs = [finished_days_ago(credentials, days) for days in (5, 9, 7)]

    first = sweep.delete_expired_results(limit=2)

    kept = set(
        BatchJob.objects.filter(results_deleted_at__isnull=True).values_list("pk", flat=True)
    )
    assert first == 2 and kept == {jobs[0].pk}  # 9 and 7 days old went first
    assert sweep.delete_expired_results(limit=2) == 1


def test_deletion_waits_for_its_turn_a_minute_after_the_last(credentials, settings, fresh_pacing):
    settings.BATCH_RESULTS_RETENTION_DAYS = 1
    finished_days_ago(credentials, 2)
    assert sweep.delete_expired_when_due()["resultsDeleted"] == 1
    finished_days_ago(credentials, 2)

    assert sweep.delete_expired_when_due()["resultsDeleted"] == 0
    assert BatchJob.objects.filter(results_deleted_at__isnull=True).count() == 1


def test_the_api_says_the_results_went_and_keeps_the_counts(api, credentials, settings):
    settings.BATCH_RESULTS_RETENTION_DAYS = 30
    job = finished_days_ago(credentials, 31)
    sweep.delete_expired_results()
    url = f"/v1/batch/jobs/{job.public_id}"

    status = json_of(api.get(url))["data"]
    page, csv = api.get(f"{url}/results"), api.get(f"{url}/results?format=csv")
    retry = api.post(f"{url}/retry", {}, format="json")

    assert status["progress"]["successfulRecords"] == 1
    assert status["results"]["available"] is False
    assert status["results"]["deletedAt"] is not None
    for response in (page, csv, retry):
        assert response.status_code == 410, response.content
        assert json_of(response)["error"]["code"] == "RESULTS_DELETED"
    assert json_of(page)["error"]["details"] == [
        {"jobId": job.public_id, "resultsDeletedAt": status["results"]["deletedAt"]}
    ]


@pytest.mark.parametrize("deleted", [False, True], ids=["kept", "deleted"])
def test_a_job_whose_every_record_went_in_has_nothing_to_retry(api, credentials, deleted):
    job = admin_file_job(credentials, b"name,email\r\nAcme,acme@example.com\r\n")
    if deleted:
        BatchJob.objects.filter(pk=job.pk).update(completed_at=timezone.now() - timedelta(days=2))
        assert sweep.delete_expired_results(days=1) == 1

    retry = api.post(f"/v1/batch/jobs/{job.public_id}/retry", {}, format="json")

    assert retry.status_code == 409, retry.content  # what it is, not that the results went
    assert json_of(retry)["error"]["message"] == "Nothing to retry: every record went in."


def test_the_admin_job_page_says_the_results_went(client, credentials, settings):
    settings.BATCH_RESULTS_RETENTION_DAYS = 30
    job = finished_days_ago(credentials, 31)
    sweep.delete_expired_results()
    client.force_login(staff_user(credentials))

    page = client.get(admin_url(BatchJob, "change", job.pk))
    download = client.get(admin_url(BatchJob, "results", job.pk), follow=True)
    retry = client.get(admin_url(BatchJob, "retry", job.pk), follow=True)

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="results-deleted"' in html
    assert 'id="download-results"' not in html and 'id="retry-job"' not in html
    assert "were deleted on" in download.content.decode()
    assert "which say what did not go in, were deleted" in retry.content.decode()


def test_one_sweep_stays_within_its_chunks_but_always_takes_one_job(credentials, settings):
    settings.BATCH_RESULTS_RETENTION_DAYS = 1
    for days in (4, 3, 2):
        finished_days_ago(credentials, days)  # a chunk each

    assert sweep.delete_expired_results(chunks=2) == 2
    assert sweep.delete_expired_results(chunks=0) == 1  # over the budget alone: still one
    assert not BatchChunk.objects.exists()


def test_the_command_deletes_every_expired_result_at_once(credentials, settings):
    settings.BATCH_RESULTS_RETENTION_DAYS = 0  # kept for good, unless the command says
    old = [finished_days_ago(credentials, days) for days in (40, 50, 60)]
    recent = finished_days_ago(credentials, 10)
    output = io.StringIO()

    with pytest.raises(CommandError, match="--days"):
        call_command("delete_expired_results")
    call_command("delete_expired_results", days=30, stdout=output)

    deleted = set(
        BatchJob.objects.filter(results_deleted_at__isnull=False).values_list("pk", flat=True)
    )
    assert deleted == {job.pk for job in old}
    assert BatchChunk.objects.filter(job=recent).exists()
    assert "3 deleted" in output.getvalue()
