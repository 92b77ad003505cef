"""Webhooks: a company registers URLs; finished async jobs are POSTed to them, signed,
retried with backoff, and every delivery is logged."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from batch.jobs import processing as jobs
from batch.jobs.submit import ASYNC_JOB_ID
from batch.models import (
    BatchJob,
    DeliveryStatus,
    JobMode,
    JobStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from batch.webhooks import delivery as webhooks
from batch.webhooks import notify
from batch.webhooks.notify import notify_job_finished
from tests.helpers import finished, numbered_customer, submit
from tests.workers import Worker, stop_shared_worker, wait_for


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers 500 to the first
    `fail_first` of them, 200 after."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": self.headers, "body": body})
                self.send_response(500 if len(receiver.requests) <= receiver.fail_first else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    """The receivers here listen on 127.0.0.1, which production refuses."""
    settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def receiver():
    receivers = []

    def start(fail_first: int = 0) -> Receiver:
        receivers.append(Receiver(fail_first))
        return receivers[-1]

    yield start
    for started in receivers:
        started.close()


@pytest.fixture(scope="module")
def webhook_worker(_workers):
    """A worker that retries failed deliveries after 0.2 s, 0.4 s, … instead of 30 s, 60 s."""
    stop_shared_worker(_workers)
    worker = Worker(
        "webhooks", BATCH_WEBHOOK_RETRY_BASE_SECONDS="0.2", BATCH_WEBHOOK_ALLOW_PRIVATE_URLS="1"
    ).start()
    yield worker
    worker.stop()


def register(api, url: str, **body) -> dict:
    response = api.post("/v1/webhooks", {"url": url, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["data"]


def verified(request: dict, secret: str) -> bool:
    """What a receiver does with the BigLedger-Signature header (see batch.webhooks)."""
    parts = dict(
        item.split("=", 1) for item in request["headers"]["BigLedger-Signature"].split(",")
    )
    signed = parts["t"].encode() + b"." + request["body"]
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return parts["t"] == request["headers"]["BigLedger-Timestamp"] and hmac.compare_digest(
        expected, parts["v1"]
    )


def async_job(company, status=JobStatus.PROCESSING) -> BatchJob:
    return BatchJob.objects.create(
        company=company,
        public_id=ASYNC_JOB_ID(),
        entity="customers",
        mode=JobMode.ASYNC,
        status=status,
        total_records=1,
        started_at=timezone.now(),
    )


@pytest.fixture
def enqueued(monkeypatch) -> list:
    """Deliveries handed to the broker, instead of handing them over."""
    calls = []

    def record(pk, countdown=None):
        calls.append((pk, countdown))

    monkeypatch.setattr(webhooks, "enqueue_delivery", record)
    monkeypatch.setattr(notify, "enqueue_delivery", record)
    return calls


# End to end, through a real worker ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_finished_async_job_posts_one_signed_completed_event(
    api, company, webhook_worker, receiver
):
    hook = receiver()
    endpoint = register(api, hook.url)

    job_id = submit(api, "customers", [numbered_customer(1), numbered_customer(2)])["jobId"]
    finished(api, job_id)

    wait_for(lambda: hook.requests, timeout=30)
    time.sleep(1)  # room for a duplicate to show up
    assert len(hook.requests) == 1
    request = hook.requests[0]
    body = json.loads(request["body"])
    assert verified(request, endpoint["secret"])
    assert request["path"] == "/hooks"
    assert request["headers"]["BigLedger-Event"] == "batch.job.completed"
    assert request["headers"]["Content-Type"] == "application/json"
    assert body["event"] == "batch.job.completed"
    assert body["id"] == request["headers"]["BigLedger-Delivery"]
    assert body["data"]["jobId"] == job_id
    assert body["data"]["status"] == "completed"
    assert body["data"]["progress"]["successfulRecords"] == 2
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).first()
    )
    assert (delivery.public_id, delivery.attempts, delivery.last_status_code) == (
        body["id"],
        1,
        200,
    )


@pytest.mark.django_db(transaction=True)
def test_a_receiver_failing_twice_gets_the_delivery_on_the_third_attempt(
    api, webhook_worker, receiver
):
    hook = receiver(fail_first=2)
    endpoint = register(api, hook.url)

    job_id = submit(api, "customers", [numbered_customer(1)])["jobId"]
    finished(api, job_id)

    wait_for(lambda: len(hook.requests) >= 3, timeout=30)
    time.sleep(1)
    assert len(hook.requests) == 3
    assert len({r["headers"]["BigLedger-Delivery"] for r in hook.requests}) == 1
    assert all(verified(r, endpoint["secret"]) for r in hook.requests)
    log = wait_for(
        lambda: (
            (page := api.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json())["data"][0][
                "status"
            ]
            == "delivered"
            and page
        )
    )
    assert log["pagination"]["totalRecords"] == 1
    delivery = log["data"][0]
    assert (delivery["attempts"], delivery["lastStatusCode"], delivery["jobId"]) == (
        3,
        200,
        job_id,
    )
    assert delivery["deliveredAt"] is not None and delivery["nextAttemptAt"] is None


# Deliveries, in process ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_job_creates_a_batch_job_failed_delivery(
    api, company, enqueued, django_capture_on_commit_callbacks
):
    failed_only = register(api, "https://example.com/failed", events=["batch.job.failed"])
    register(api, "https://example.com/completed", events=["batch.job.completed"])
    job = async_job(company)

    with django_capture_on_commit_callbacks(execute=True):
        job.error = "RuntimeError: boom"
        jobs._finish(job, JobStatus.FAILED)

    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint.public_id == failed_only["id"]
    assert (delivery.event, delivery.job, delivery.status) == (
        "batch.job.failed",
        job,
        DeliveryStatus.PENDING,
    )
    payload = json.loads(delivery.payload)
    assert payload["id"] == delivery.public_id
    assert payload["data"]["status"] == "failed"
    assert payload["data"]["error"] == "RuntimeError: boom"
    assert enqueued == [(delivery.pk, None)]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.ROLLED_BACK, JobStatus.CANCELLED])
def test_rolled_back_and_cancelled_jobs_count_as_completed(api, company, enqueued, status):
    register(api, "https://example.com/hooks")

    notify_job_finished(job=async_job(company, status=status))

    assert WebhookDelivery.objects.get().event == "batch.job.completed"


@pytest.mark.django_db
def test_sync_batches_and_inactive_endpoints_get_no_deliveries(api, company, enqueued):
    register(api, "https://example.com/hooks")
    inactive = register(api, "https://example.com/off")
    WebhookEndpoint.objects.filter(public_id=inactive["id"]).update(active=False)
    sync = async_job(company, status=JobStatus.COMPLETED)
    sync.mode = JobMode.SYNC
    sync.save()

    assert notify_job_finished(job=sync) == []
    deliveries = notify_job_finished(job=async_job(company, status=JobStatus.COMPLETED))

    assert [d.endpoint.url for d in deliveries] == ["https://example.com/hooks"]


@pytest.mark.django_db
def test_a_job_notified_twice_is_delivered_once(
    api, company, enqueued, django_capture_on_commit_callbacks
):
    register(api, "https://example.com/hooks")
    job = async_job(company, status=JobStatus.COMPLETED)

    with django_capture_on_commit_callbacks(execute=True):
        notify_job_finished(job=job)
        notify_job_finished(job=job)

    assert WebhookDelivery.objects.count() == 1
    assert len(enqueued) == 1


@pytest.mark.django_db
def test_a_delivery_gives_up_after_the_maximum_attempts(api, company, enqueued, receiver, settings):
    settings.BATCH_WEBHOOK_MAX_ATTEMPTS = 3
    settings.BATCH_WEBHOOK_RETRY_BASE_SECONDS = 0
    hook = receiver(fail_first=99)
    register(api, hook.url)
    [delivery] = notify_job_finished(job=async_job(company, status=JobStatus.FAILED))

    for _ in range(4):  # the fourth finds nothing left to do
        webhooks.deliver(delivery_pk=delivery.pk)

    delivery.refresh_from_db()
    assert len(hook.requests) == 3
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, 500)
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    assert delivery.next_attempt_at is None


@pytest.mark.django_db
def test_an_unreachable_url_is_logged_and_retried_with_growing_delays(
    api, company, enqueued, settings, django_capture_on_commit_callbacks
):
    settings.BATCH_WEBHOOK_RETRY_BASE_SECONDS = 30
    register(api, "http://127.0.0.1:9/unreachable")
    [delivery] = notify_job_finished(job=async_job(company, status=JobStatus.COMPLETED))

    with django_capture_on_commit_callbacks(execute=True):
        webhooks.deliver(delivery_pk=delivery.pk)
        webhooks.deliver(delivery_pk=delivery.pk)  # a duplicate message: not due, dropped

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert "Connection refused" in delivery.last_error
    assert enqueued == [(delivery.pk, 30)]
    assert [webhooks.retry_delay(n) for n in (1, 2, 3, 8)] == [30, 60, 120, 1800]


# API ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_registering_shows_the_secret_once_and_subscribes_to_both_events_by_default(api):
    created = register(api, "https://example.com/hooks")

    listed = api.get("/v1/webhooks").json()

    assert created["id"].startswith("whk_")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["batch.job.completed", "batch.job.failed"]
    assert listed == {
        "success": True,
        "data": [{key: value for key, value in created.items() if key != "secret"}],
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://example.com/hooks"}, "url"),
        ({"url": "not a url"}, "url"),
        ({}, "url"),
        ({"url": "https://example.com", "events": ["batch.job.exploded"]}, "events"),
        ({"url": "https://example.com", "events": []}, "events"),
        ({"url": "https://example.com", "events": "batch.job.failed"}, "events"),
    ],
)
def test_a_bad_url_or_event_is_a_validation_error(api, body, field):
    response = api.post("/v1/webhooks", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in error["details"]] == [field]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_deleting_a_webhook_removes_it(api):
    created = register(api, "https://example.com/hooks")

    response = api.delete(f"/v1/webhooks/{created['id']}")

    assert response.status_code == 204
    assert api.get("/v1/webhooks").json()["data"] == []
    assert api.delete(f"/v1/webhooks/{created['id']}").status_code == 404


@pytest.mark.django_db
def test_another_companys_webhooks_are_not_found(api, other_api):
    created = register(api, "https://example.com/hooks")
    url = f"/v1/webhooks/{created['id']}"

    assert other_api.get("/v1/webhooks").json()["data"] == []
    for response in (
        other_api.get(url),
        other_api.delete(url),
        other_api.get(f"{url}/deliveries"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert WebhookEndpoint.objects.filter(public_id=created["id"]).exists()


@pytest.mark.django_db
def test_the_delivery_log_is_paged_newest_first(api, company, enqueued):
    created = register(api, "https://example.com/hooks")
    job_ids = []
    for _ in range(3):
        job = async_job(company, status=JobStatus.COMPLETED)
        notify_job_finished(job=job)
        job_ids.append(job.public_id)

    page = api.get(f"/v1/webhooks/{created['id']}/deliveries?page=2&pageSize=2").json()

    assert page["pagination"]["totalRecords"] == 3
    assert page["pagination"]["totalPages"] == 2
    assert [d["jobId"] for d in page["data"]] == [job_ids[0]]
    assert page["data"][0]["status"] == "pending"
    assert page["data"][0]["payload"]["data"]["jobId"] == job_ids[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ],
)
def test_internal_addresses_are_refused_as_webhook_urls(api, settings, url):
    settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS = False

    response = api.post("/v1/webhooks", {"url": url}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "url"


def test_a_delivery_to_an_address_that_turned_internal_is_not_sent(
    api, company, enqueued, receiver, settings
):
    hook = receiver()
    api.post("/v1/webhooks", {"url": hook.url}, format="json")
    (delivery,) = notify_job_finished(job=async_job(company, JobStatus.COMPLETED))
    settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS = False

    attempt = webhooks.post(delivery)

    assert attempt.status_code is None
    assert "non-public address" in attempt.error
    assert hook.requests == []
