"""Idempotency-Key on batch POSTs: a retry replays the first answer and processes nothing."""

import threading

import pytest
import simplejson
from django.db import connection

from batch.models import BatchJob, JobMode
from ledger.models import Customer
from tests.helpers import api_client_for, make_company
from tests.workers import flush_broker, stop_shared_worker

BODY = {"operations": [{"operation": "create", "data": {"name": "Acme", "email": "a@acme.test"}}]}


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Rate-limit windows stand still, so headers compare equal."""
    monkeypatch.setattr("batch.api.ratelimit.clock", lambda: 1_900_000_025.0)


def post(api, body=BODY, key="key-1", entity="customers"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    payload = body if isinstance(body, str) else simplejson.dumps(body)
    return api.post(f"/v1/batch/{entity}", payload, content_type="application/json", **headers)


def limit_headers(response) -> tuple:
    return tuple(response[name] for name in ("RateLimit-Limit", "RateLimit-Remaining"))


def test_the_same_key_and_body_replays_the_first_answer(api, company):
    first = post(api)
    again = post(api)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert limit_headers(again) == limit_headers(first) == ("10", "9")
    assert Customer.objects.for_company(company).count() == 1
    assert BatchJob.objects.for_company(company).count() == 1


def test_a_replay_is_not_counted_against_the_rate_limit(api):
    post(api)
    post(api)

    fresh = post(api, key="key-2")

    assert fresh["RateLimit-Remaining"] == "8"


def test_the_same_key_with_another_body_is_422(api, company):
    post(api)

    other = post(api, body={**BODY, "options": {"validateOnly": True}})

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert other.has_header("RateLimit-Remaining")
    assert BatchJob.objects.for_company(company).count() == 1


def test_the_same_key_on_another_entity_is_422(api):
    post(api)

    assert post(api, entity="suppliers").status_code == 422


def test_keys_belong_to_one_company(api, other_api, company, other_company):
    post(api)

    theirs = post(other_api)

    assert theirs.status_code == 200
    assert not theirs.has_header("Idempotent-Replayed")
    assert Customer.objects.for_company(other_company).count() == 1


def test_without_a_key_every_request_is_processed(api, company):
    post(api, key=None)
    post(api, key=None)

    assert BatchJob.objects.for_company(company).count() == 2


def test_request_errors_are_replayed_too(api, company):
    first = post(api, body="{broken")
    again = post(api, body="{broken")

    assert first.status_code == again.status_code == 400
    assert again.json()["error"]["code"] == "INVALID_JSON"
    assert again["Idempotent-Replayed"] == "true"


def test_a_rate_limited_request_is_not_stored(api, company, settings, monkeypatch):
    settings.BATCH_RATE_LIMIT = "1/min"
    post(api, key="first")

    refused = post(api, key="second")
    assert refused.status_code == 429

    monkeypatch.setattr("batch.api.ratelimit.clock", lambda: 1_900_000_025.0 + 60)
    retried = post(api, key="second", body={**BODY, "options": {"validateOnly": True}})
    assert retried.status_code == 200
    assert not retried.has_header("Idempotent-Replayed")


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\nkey", "clé"])
def test_malformed_keys_are_refused(api, company, key):
    response = post(api, key=key)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert not BatchJob.objects.for_company(company).exists()


def test_a_replayed_async_request_does_not_create_a_second_job(api, company):
    body = {**BODY, "options": {"async": True}}

    first = post(api, body=body)
    again = post(api, body=body)

    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["data"]["jobId"] == first.json()["data"]["jobId"]
    assert BatchJob.objects.for_company(company).filter(mode=JobMode.ASYNC).count() == 1


def test_retry_of_a_job_takes_a_key_too(api, company):
    # The nameless customer fails; Acme, held back after it, is what a retry can put in.
    operations = [
        {"operation": "create", "data": {}},
        {"operation": "create", "data": {"name": "Acme"}},
    ]
    body = {"operations": operations, "options": {"continueOnError": False}}
    post(api, body=body, key=None)
    batch_id = BatchJob.objects.for_company(company).get().public_id
    retry = f"/v1/batch/jobs/{batch_id}/retry"

    first = api.post(retry, HTTP_IDEMPOTENCY_KEY="retry-1")
    again = api.post(retry, HTTP_IDEMPOTENCY_KEY="retry-1")

    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert BatchJob.objects.for_company(company).filter(mode=JobMode.ASYNC).count() == 1


# While the first is in flight ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_second_request_while_the_first_runs_is_409(monkeypatch):
    credentials = make_company()
    inside, release = threading.Event(), threading.Event()
    from batch.api import views

    real_run = views.run_sync_batch

    def slow_run(**kwargs):
        inside.set()
        assert release.wait(30)
        return real_run(**kwargs)

    monkeypatch.setattr(views, "run_sync_batch", slow_run)
    answers = {}

    def first():
        try:
            answers["first"] = post(api_client_for(credentials))
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(30)
        while_running = post(api_client_for(credentials))
        with_other_body = post(api_client_for(credentials), body={**BODY, "options": {}})
    finally:
        release.set()
        thread.join()
    after = post(api_client_for(credentials))

    assert while_running.status_code == 409
    assert while_running.json()["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS"
    assert with_other_body.status_code == 422
    assert answers["first"].status_code == 200
    assert after["Idempotent-Replayed"] == "true"
    assert BatchJob.objects.for_company(credentials.company).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_are_processed_once():
    credentials = make_company()
    barrier, answers = threading.Barrier(8), []

    def send():
        try:
            client = api_client_for(credentials)
            barrier.wait()
            answers.append(post(client, key="shared"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    originals = [
        a for a in answers if a.status_code == 200 and not a.has_header("Idempotent-Replayed")
    ]
    replays = [a for a in answers if a.has_header("Idempotent-Replayed")]
    in_flight = [a for a in answers if a.status_code == 409]
    assert len(originals) == 1
    assert len(replays) + len(in_flight) == 7
    assert all(replay.content == originals[0].content for replay in replays)
    assert BatchJob.objects.for_company(credentials.company).count() == 1
    assert Customer.objects.for_company(credentials.company).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_that_fails_after_storing_its_job_is_answered_with_that_job(
    credentials, company, monkeypatch, _workers
):
    """The job exists and will be processed; the request then fails (here building its
    answer; a database lost midway through a received job in production). Retried with its
    key, it is answered with that job — not stored, and its records applied, a second time."""
    stop_shared_worker(_workers)  # none may be processing the job as the tables are emptied
    api = api_client_for(credentials)
    api.raise_request_exception = False
    body = {**BODY, "options": {"async": True}}

    def fails(job):
        raise RuntimeError("the answer could not be built")

    with monkeypatch.context() as patched:
        patched.setattr("batch.api.views.job_accepted_response", fails)
        failed = post(api, body=body)
    again = post(api, body=body)

    jobs = BatchJob.objects.for_company(company).filter(mode=JobMode.ASYNC)
    flush_broker()  # its message, which no worker is left to take
    assert failed.status_code == 500
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json()["data"]["jobId"] == jobs.get().public_id
