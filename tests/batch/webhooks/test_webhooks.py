"""Webhooks: a company registers URLs; finished async jobs are POSTed to them, signed,
retried with backoff, and every delivery is logged."""

import hashlib
import hmac
import json
import socket
import subprocess
import time

import pytest

from batch.jobs import processing as jobs
from batch.models import (
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
from tests.webhooks import async_job, register
from tests.workers import Worker, stop_shared_worker, wait_for


class FlippingResolver:
    """socket.getaddrinfo for `host` answering each address of `answers` in turn (the last
    one from then on) — a DNS rebinding attacker's resolver. Other hosts resolve as usual."""

    def __init__(self, host: str, answers: list[str]):
        self.host = host
        self.answers = answers
        self.asked = 0
        self.resolve = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        if host != self.host:
            return self.resolve(host, port, *args, **kwargs)
        address = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))
        ]


HOOKS_HOST = "hooks.example.test"
PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate (and its key) for `name`, made with openssl."""

    def make(name: str) -> tuple[str, str]:
        cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            + ["-nodes", "-days", "1", "-subj", f"/CN={name}"]
            + ["-addext", f"subjectAltName=DNS:{name}", "-keyout", key, "-out", cert],
            check=True,
            capture_output=True,
        )
        return str(cert), str(key)

    return make


@pytest.fixture(scope="module")
def webhook_worker(_workers):
    """A worker that retries failed deliveries after 0.2 s, 0.4 s, … instead of 30 s, 60 s."""
    stop_shared_worker(_workers)
    worker = Worker(
        "webhooks", BATCH_WEBHOOK_RETRY_BASE_SECONDS="0.2", BATCH_WEBHOOK_ALLOW_PRIVATE_URLS="1"
    ).start()
    yield worker
    worker.stop()


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


def test_a_host_that_rebinds_to_loopback_after_the_check_is_not_reached(
    api, company, enqueued, receiver, settings, monkeypatch
):
    hook = receiver()
    register(api, f"http://{HOOKS_HOST}:{hook.port}/hooks")
    (delivery,) = notify_job_finished(job=async_job(company, JobStatus.COMPLETED))
    settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS = False
    resolver = FlippingResolver(HOOKS_HOST, [PUBLIC_ADDRESS, "127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 1)  # the public address may not answer

    attempt = webhooks.post(delivery)

    assert hook.requests == []
    assert attempt.status_code is None
    assert resolver.asked == 1  # the name was resolved once, for the check


def test_an_https_delivery_names_the_host_in_tls_and_in_the_host_header(
    api, company, enqueued, receiver, certificate, monkeypatch
):
    cert, key = certificate(HOOKS_HOST)
    hook = receiver(tls=(cert, key))
    register(api, f"https://{HOOKS_HOST}:{hook.port}/hooks")
    (delivery,) = notify_job_finished(job=async_job(company, JobStatus.COMPLETED))
    monkeypatch.setattr(socket, "getaddrinfo", FlippingResolver(HOOKS_HOST, ["127.0.0.1"]))
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # trust the receiver's certificate

    attempt = webhooks.post(delivery)

    assert (attempt.status_code, attempt.error) == (200, "")
    assert hook.server_names == [HOOKS_HOST]
    assert hook.requests[0]["headers"]["Host"] == f"{HOOKS_HOST}:{hook.port}"


def test_an_https_receiver_with_a_certificate_for_another_name_gets_nothing(
    api, company, enqueued, receiver, certificate, monkeypatch
):
    cert, key = certificate("elsewhere.example.test")
    hook = receiver(tls=(cert, key))
    register(api, f"https://{HOOKS_HOST}:{hook.port}/hooks")
    (delivery,) = notify_job_finished(job=async_job(company, JobStatus.COMPLETED))
    monkeypatch.setattr(socket, "getaddrinfo", FlippingResolver(HOOKS_HOST, ["127.0.0.1"]))
    monkeypatch.setenv("SSL_CERT_FILE", cert)

    attempt = webhooks.post(delivery)

    assert attempt.status_code is None
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert hook.requests == []


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(api, company, enqueued, receiver):
    hook = receiver(fail_first=1, failure=302)
    register(api, hook.url)
    (delivery,) = notify_job_finished(job=async_job(company, JobStatus.COMPLETED))

    attempt = webhooks.post(delivery)

    assert (attempt.status_code, attempt.delivered) == (302, False)
    assert attempt.error == "HTTP 302 Found"
    assert [request["path"] for request in hook.requests] == ["/hooks"]
