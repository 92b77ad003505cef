"""Per-company batch rate limits: 10 a minute, 5 a minute for batches over 100 records,
counted in Redis so threads and separate servers share them."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import simplejson
from django.db import connection

from batch.api.ratelimit import Rate
from batch.jobs.processing import process_job
from batch.models import BatchJob
from tests.helpers import api_client_for, make_company
from tests.workers import database_url

ROOT = Path(__file__).resolve().parents[3]
# The middle of a window, so no test straddles its end.
WINDOW_START = 1_900_000_020.0


@pytest.fixture
def frozen_clock(monkeypatch):
    now = {"t": WINDOW_START + 5}
    monkeypatch.setattr("batch.api.ratelimit.clock", lambda: now["t"])
    return now


def customers(count: int) -> list[dict]:
    return [
        {"operation": "create", "data": {"name": f"Customer {n}", "email": f"c{n}@example.com"}}
        for n in range(count)
    ]


def post(api, operations, **options):
    body = {"operations": operations, "options": {"validateOnly": True, **options}}
    return api.post("/v1/batch/customers", simplejson.dumps(body), content_type="application/json")


def headers_of(response) -> tuple[int, int, int]:
    return (
        int(response["RateLimit-Limit"]),
        int(response["RateLimit-Remaining"]),
        int(response["RateLimit-Reset"]),
    )


@pytest.mark.parametrize(
    ("text", "rate"),
    [("10/min", Rate(10, 60)), ("5/minute", Rate(5, 60)), ("100/hour", Rate(100, 3600)),
     ("20/10s", Rate(20, 10)), ("1000/day", Rate(1000, 86400)), ("3/minutes", Rate(3, 60))],
)  # fmt: skip
def test_rates_read_like_the_settings(text, rate):
    assert Rate.parse(text) == rate


def test_eleventh_batch_in_a_minute_is_refused_with_headers(api, company, frozen_clock):
    for sent in range(1, 11):
        response = post(api, customers(1))
        assert response.status_code == 200, response.content
        assert headers_of(response) == (10, 10 - sent, 55)

    refused = post(api, customers(1))

    assert refused.status_code == 429
    assert headers_of(refused) == (10, 0, 55)
    assert refused["Retry-After"] == "55"
    body = refused.json()
    assert body["success"] is False
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["message"]
    assert body["error"]["details"][0]["retryAfter"] == 55
    assert BatchJob.objects.for_company(company).count() == 10  # the 11th processed nothing


def test_a_new_window_lets_batches_through_again(api, frozen_clock):
    for _ in range(10):
        post(api, customers(1))
    assert post(api, customers(1)).status_code == 429

    frozen_clock["t"] += 60

    response = post(api, customers(1))
    assert response.status_code == 200
    assert headers_of(response)[:2] == (10, 9)


def test_request_errors_carry_the_headers_too(api, frozen_clock):
    response = api.post("/v1/batch/customers", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert headers_of(response) == (10, 9, 55)


def test_batches_over_100_records_are_limited_at_five(api, company, frozen_clock):
    for sent in range(1, 6):
        response = post(api, customers(101))
        assert response.status_code == 200, response.content
        assert headers_of(response)[:2] == (5, 5 - sent)

    refused = post(api, customers(101))

    assert refused.status_code == 429
    assert headers_of(refused)[:2] == (5, 0)
    assert refused.json()["error"]["details"][0]["policy"] == "large-batch"
    assert BatchJob.objects.for_company(company).count() == 5
    small = post(api, customers(100))  # 100 is not over 100: only the standard limit
    assert small.status_code == 200
    assert headers_of(small)[:2] == (10, 3)


def rolled_back_job(api, size: int) -> str:
    """An async job of `size` customers rolled back whole (rollbackOnError) because its last
    has no valid email, processed here: a retry without rollbackOnError can help."""
    operations = [
        {"operation": "create", "data": {"name": f"Customer {n}", "email": f"c{n}@example.com"}}
        for n in range(size - 1)
    ]
    operations.append({"operation": "create", "data": {"name": "Bad", "email": "not-an-email"}})
    response = post(api, operations, validateOnly=False, rollbackOnError=True, **{"async": True})
    assert response.status_code == 202, response.content
    job_id = response.json()["data"]["jobId"]
    process_job(BatchJob.objects.get(public_id=job_id).pk)
    return job_id


def test_a_retry_counts_as_the_records_it_resubmits(api, settings, frozen_clock):
    jobs = [rolled_back_job(api, 150), rolled_back_job(api, 150), rolled_back_job(api, 2)]
    frozen_clock["t"] += 60  # the retries in a window of their own
    settings.BATCH_LARGE_RATE_LIMIT = "1/min"
    retry = {"options": {"rollbackOnError": False}}

    answers = [api.post(f"/v1/batch/jobs/{job}/retry", retry, format="json") for job in jobs]

    assert [answer.status_code for answer in answers] == [202, 429, 202]
    assert answers[1].json()["error"]["details"][0]["policy"] == "large-batch"
    assert answers[0].json()["data"]["totalRecords"] == 150


def test_one_company_never_throttles_another(api, other_api, frozen_clock):
    for _ in range(10):
        post(api, customers(1))
    assert post(api, customers(1)).status_code == 429

    response = post(other_api, customers(1))

    assert response.status_code == 200
    assert headers_of(response)[:2] == (10, 9)


def test_limits_follow_the_settings(api, settings, frozen_clock):
    settings.BATCH_RATE_LIMIT = "2/hour"

    statuses = [post(api, customers(1)).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def _post_in_threads(credentials, count: int) -> list[int]:
    barrier, statuses = threading.Barrier(count), []

    def send():
        try:
            client = api_client_for(credentials)
            barrier.wait()
            statuses.append(post(client, customers(1)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_let_more_than_the_limit_through(frozen_clock):
    credentials = make_company()

    statuses = _post_in_threads(credentials, 16)

    assert sorted(statuses) == [200] * 10 + [429] * 6
    assert BatchJob.objects.for_company(credentials.company).count() == 10


# Two servers sharing Redis ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"server on {port} did not start")


def start_server(port: int, **env) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "BIGLEDGER_VAR_DIR": str(ROOT / "test-artifacts" / f"var-server-{port}"),
        **env,
    }
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def http_post(port: int, api_key: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/batch/customers",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def away_from_window_end(period: int, margin: float = 30) -> None:
    """The real clock runs here: start well inside a window, so it cannot end mid-test."""
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 1)


@pytest.mark.skipif("REDIS_URL" not in os.environ, reason="needs Redis shared by processes")
@pytest.mark.django_db(transaction=True)
def test_two_server_processes_share_the_counters():
    credentials = make_company()
    ports = [free_port(), free_port()]
    servers = [start_server(port, BATCH_RATE_LIMIT="6/hour") for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_until_listening(port, server)
        away_from_window_end(3600)
        body = {"operations": customers(1), "options": {"validateOnly": True}}

        answers = [http_post(ports[n % 2], credentials.api_key, body) for n in range(8)]

        assert [status for status, _ in answers] == [200] * 6 + [429] * 2
        remaining = [int(headers["RateLimit-Remaining"]) for _, headers in answers]
        assert remaining == [5, 4, 3, 2, 1, 0, 0, 0]
        assert all(int(headers["Retry-After"]) > 0 for _, headers in answers[6:])
        assert BatchJob.objects.for_company(credentials.company).count() == 6
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
