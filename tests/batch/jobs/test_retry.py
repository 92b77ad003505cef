"""Retrying a job: its unwritten records go into one retry job, once — a second retry, even
four at the same moment, is refused and nothing is posted twice. Records refused on their
data are retried only with corrections: sent again as they are, they would fail again."""

import threading
from decimal import Decimal

import pytest
import simplejson
from django.db import connection, transaction
from django.urls import reverse

from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
from batch.jobs.processing import request_cancel
from batch.jobs.submit import submit_job
from batch.models import BatchJob
from batch.services.batches import handler_for
from ledger.models import JournalEntry
from tests.helpers import api_client_for, create, finished, staff_user, submit

pytestmark = pytest.mark.django_db(transaction=True)

ENTITY = "journal-entries"


def entry(reference: str, debit_account: str) -> dict:
    return create(
        {
            "date": "2024-01-31",
            "reference": reference,
            "description": "Month-end accrual",
            "lines": [
                {"accountId": debit_account, "debit": Decimal("120.00")},
                {"accountId": "1620", "credit": Decimal("120.00")},
            ],
        },
        reference,
    )


CORRECTIONS = {"corrections": {"JE-2": entry("JE-2", "6000")["data"]}}
STILL_WRONG = {"corrections": {"JE-2": entry("JE-2", "9998")["data"]}}


def failed_job(api) -> str:
    """A finished journal-entries job: JE-1 posted, JE-2 refused (no account 9999)."""
    job_id = submit(api, ENTITY, [entry("JE-1", "6000"), entry("JE-2", "9999")])["jobId"]
    done = finished(api, job_id)
    assert (done["progress"]["successfulRecords"], done["progress"]["failedRecords"]) == (1, 1)
    return job_id


def retry(api, job_id: str, body: dict | None = None):
    return api.post(
        f"/v1/batch/jobs/{job_id}/retry",
        simplejson.dumps(body or {}),
        content_type="application/json",
    )


def postings(company, reference: str) -> int:
    return JournalEntry.objects.for_company(company).filter(reference=reference).count()


def test_a_second_retry_is_409_naming_the_retry_and_posts_nothing_again(
    api, company, celery_worker
):
    job_id = failed_job(api)

    first = retry(api, job_id, CORRECTIONS)
    second = retry(api, job_id, CORRECTIONS)

    assert first.status_code == 202
    retry_id = first.json()["data"]["jobId"]
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert error["message"] == (
        f"{job_id} was already retried as {retry_id}; retry that job instead."
    )
    assert error["details"] == [{"jobId": job_id, "retryJobId": retry_id}]
    assert finished(api, retry_id)["progress"]["successfulRecords"] == 1
    assert BatchJob.objects.filter(retry_of__public_id=job_id).count() == 1
    assert (postings(company, "JE-1"), postings(company, "JE-2")) == (1, 1)


def test_four_concurrent_retries_make_one_job_and_post_once(credentials, company, celery_worker):
    job_id = failed_job(api_client_for(credentials))
    barrier, answers = threading.Barrier(4), []

    def send():
        try:
            client = api_client_for(credentials)
            barrier.wait()
            answers.append(retry(client, job_id, CORRECTIONS))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer.status_code for answer in answers) == [202, 409, 409, 409]
    [accepted] = [answer for answer in answers if answer.status_code == 202]
    retry_id = accepted.json()["data"]["jobId"]
    for refused in (answer for answer in answers if answer.status_code == 409):
        assert refused.json()["error"]["details"][0]["retryJobId"] == retry_id
    assert [job.public_id for job in BatchJob.objects.filter(retry_of__public_id=job_id)] == [
        retry_id
    ]
    finished(api_client_for(credentials), retry_id)
    assert (postings(company, "JE-1"), postings(company, "JE-2")) == (1, 1)


def test_what_the_retry_left_unwritten_is_retried_from_the_retry(api, company, celery_worker):
    job_id = failed_job(api)
    retry_id = retry(api, job_id, STILL_WRONG).json()["data"]["jobId"]  # another bad account
    assert finished(api, retry_id)["progress"]["failedRecords"] == 1

    again = retry(api, retry_id, CORRECTIONS)

    assert again.status_code == 202
    assert finished(api, again.json()["data"]["jobId"])["retryOf"] == retry_id
    assert (postings(company, "JE-1"), postings(company, "JE-2")) == (1, 1)


def cancelled_job(credentials) -> BatchJob:
    """A journal-entries job of JE-1 and JE-2 (account 9999), cancelled while queued."""
    operations = [entry("JE-1", "6000"), entry("JE-2", "9999")]
    with transaction.atomic():  # cancelled before any worker sees it queued
        job = submit_job(
            company=credentials.company,
            user=staff_user(credentials),
            handler=handler_for(ENTITY),
            request=BatchRequest(parse_operations(operations), BatchOptions(run_async=True)),
        )
        return request_cancel(job)


def test_the_admins_retry_confirmed_twice_says_so_and_makes_no_second_job(
    client, api, credentials, company, celery_worker
):
    job = cancelled_job(credentials)
    client.force_login(staff_user(credentials))
    url = reverse("admin:batch_batchjob_retry", args=[job.pk])

    first = client.post(url, {"post": "yes"}, follow=True)
    second = client.post(url, {"post": "yes"}, follow=True)

    [retry_job] = BatchJob.objects.filter(retry_of=job)
    assert first.redirect_chain[-1][0] == reverse(
        "admin:batch_batchjob_progress", args=[retry_job.pk]
    )
    assert second.redirect_chain[-1][0] == reverse("admin:batch_batchjob_change", args=[job.pk])
    assert [str(message) for message in second.context["messages"]] == [
        f"{job.public_id} was already retried as {retry_job.public_id}; retry that job instead."
    ]
    finished(api, retry_job.public_id)
    assert (postings(company, "JE-1"), postings(company, "JE-2")) == (1, 0)  # 9999 again
