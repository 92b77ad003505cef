"""The Python SDK against a live server with the default rate limits: 5,000 customers in
chunks of 500 (ten large batches, where the limit is five a minute) go in without a 429
reaching the caller, in input order; a migration killed half-way and started again with its
state file ends with every customer exactly once. Splitting, merging and the rate-limit
headers are checked on their own where that is cheap."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import requests
from bigledger_client import BigLedger
from bigledger_client.runs import Chunk, StateFile, chunk_key, fingerprint, merge, split
from bigledger_client.transport import RateLimit, retry_after
from openpyxl import load_workbook

from ledger.models import Customer

pytestmark = pytest.mark.slow


def customers(count: int, prefix: str = "c") -> list[dict]:
    return [
        {
            "operation": "create",
            "referenceId": f"{prefix}-{n}",
            "data": {
                "name": f"Customer {n}",
                "email": f"{prefix}{n}@example.com",
                "creditLimit": Decimal("1000.50"),
            },
        }
        for n in range(count)
    ]


# Pieces on their own.


def test_operations_are_split_to_the_maximum_in_order():
    parts = split(list(range(1201)), 500)
    assert [(offset, len(part)) for offset, part in parts] == [(0, 500), (500, 500), (1000, 201)]
    assert [n for _, part in parts for n in part] == list(range(1201))


def test_each_chunk_of_a_run_has_its_own_stable_key():
    run = fingerprint("/v1/batch/customers", customers(3), {})
    assert run == fingerprint("/v1/batch/customers", customers(3), {})
    assert run != fingerprint("/v1/batch/customers", customers(4), {})
    assert chunk_key(run, 0) != chunk_key(run, 1)
    assert len(chunk_key(run, 199)) <= 255


def test_chunk_answers_merge_into_input_order():
    def answer(indexes, failed=()):
        results = [
            {"index": i, "success": i not in failed, "error": {"context": {"rowNumber": i + 1}}}
            for i in indexes
        ]
        return {
            "totalRecords": len(results),
            "successfulRecords": len(results) - len(failed),
            "failedRecords": len(failed),
            "results": results,
            "summary": {"created": len(results) - len(failed), "errors": len(failed)},
            "batchId": f"batch_{indexes[0]}",
        }

    merged = merge([(0, answer([0, 1])), (2, answer([0, 1], failed=[1]))])
    assert [r["index"] for r in merged["results"]] == [0, 1, 2, 3]
    assert merged["results"][3]["error"]["context"]["rowNumber"] == 4
    assert merged["summary"] == {
        "created": 3,
        "errors": 1,
        "successful": 3,
        "failed": 1,
        "skipped": 0,
    }
    assert merged["batchIds"] == ["batch_0", "batch_0"]


def test_rate_limit_headers_say_when_to_send_again():
    spent = RateLimit.from_headers(
        {"RateLimit-Limit": "5", "RateLimit-Remaining": "0", "RateLimit-Reset": "12"}, now=100.0
    )
    assert spent.wait_before_next(now=104.0) == 8.0
    assert spent.wait_before_next(now=113.0) == 0.0
    left = RateLimit.from_headers(
        {"RateLimit-Limit": "10", "RateLimit-Remaining": "3", "RateLimit-Reset": "40"}, now=0.0
    )
    assert left.wait_before_next(now=0.0) == 0.0
    assert RateLimit.from_headers({}, now=0.0) is None
    assert retry_after({"Retry-After": "60"}) == 60.0


class Scripted(requests.adapters.BaseAdapter):
    """Answers from a script, in order, and keeps what was sent: the server's side of the
    waits, without waiting for a real window to pass."""

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.sent = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        status, headers = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = json.dumps({"success": status < 400, "data": {"ok": True}}).encode()
        response.request = request
        return response

    def close(self):
        pass


def scripted_client(answers):
    waits = []
    client = BigLedger(api_key="blk_test", base_url="http://bigledger.test", sleep=waits.append)
    adapter = Scripted(answers)
    client.transport.session.mount("http://", adapter)
    return client, adapter, waits


def test_429_is_waited_out_as_retry_after_says_and_sent_again_with_its_key():
    spent = {"RateLimit-Limit": "5", "RateLimit-Remaining": "0", "RateLimit-Reset": "7"}
    client, server, waits = scripted_client(
        [(429, {**spent, "Retry-After": "7"}), (503, {}), (200, spent), (200, {})]
    )
    body = {"operations": [{"operation": "create", "data": {"name": "A"}}]}

    client.transport.json(
        "POST", "/v1/batch/customers", body=body, idempotency_key="k-1", counted=True
    )
    client.transport.json(
        "POST", "/v1/batch/customers", body=body, idempotency_key="k-2", counted=True
    )

    assert [r.headers["Idempotency-Key"] for r in server.sent] == ["k-1", "k-1", "k-1", "k-2"]
    assert waits[0] == pytest.approx(7.25)  # Retry-After, then a hair
    assert 0 < waits[1] <= 0.5  # the 503's first backoff
    assert 7 < waits[2] <= 7.25  # the window the last answer said was spent
    assert (client.stats.throttled, client.stats.retries, client.stats.rate_limit_waits) == (
        1,
        1,
        1,
    )


def test_a_state_file_ignores_a_line_torn_by_a_kill(tmp_path):
    state = StateFile(tmp_path / "run.jsonl")
    chunk = Chunk(index=0, offset=0, count=1, send=lambda key: {})
    state.record("run-a", chunk, {"results": [{"index": 0}]})
    with state.path.open("a") as out:
        out.write('{"fingerprint": "run-a", "chunk": 1, "ans')
    assert state.done("run-a") == {0: {"results": [{"index": 0}]}}
    assert state.done("run-b") == {}


# Against the live server.


def test_five_thousand_customers_go_in_under_the_default_rate_limits(
    server_url, api_key, company, settings
):
    assert settings.BATCH_RATE_LIMIT == "10/min"
    assert settings.BATCH_LARGE_RATE_LIMIT == "5/min"
    client = BigLedger(api_key=api_key, base_url=server_url)
    operations = customers(5000)
    operations[1234]["data"]["email"] = "not-an-email"

    result = client.batch.customers.process(operations, {"continueOnError": True})

    assert result["summary"]["successful"] == 4999
    assert result["summary"]["failed"] == 1
    assert len(result["batchIds"]) == 10
    assert [r["index"] for r in result["results"]] == list(range(5000))
    assert [r["referenceId"] for r in result["results"]] == [f"c-{n}" for n in range(5000)]
    failed = result["results"][1234]
    assert failed["error"]["context"]["rowNumber"] == 1235
    # Ten large batches at five a minute: the client waited the window out, as told.
    assert client.stats.rate_limit_waits + client.stats.throttled >= 1
    assert Customer.objects.filter(company=company).count() == 4999
    assert Customer.objects.get(company=company, email="c4999@example.com").credit_limit == (
        Decimal("1000.50")
    )


KILLED_RUN = """
import json, sys, time
from bigledger_client import BigLedger

operations = json.load(open(sys.argv[1]))
client = BigLedger()
client.batch.customers.process(
    operations, {"continueOnError": True}, chunk_size=100, state_file=sys.argv[2],
    on_progress=lambda done, total: time.sleep(1.0),
)
"""


def test_a_migration_killed_half_way_and_started_again_has_every_customer_once(
    server_url, api_key, company, tmp_path
):
    operations = customers(800, prefix="m")
    source = tmp_path / "customers.json"
    source.write_text(json.dumps(operations, default=str))
    state = tmp_path / "run.jsonl"
    env = {**os.environ, "BIGLEDGER_API_KEY": api_key, "BIGLEDGER_BASE_URL": server_url}
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, source, state], env=env)
    try:
        while _lines(state) < 3 and run.poll() is None:
            time.sleep(0.05)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    recorded = _lines(state)
    assert 3 <= recorded < 8, "the run was to be killed half-way"
    assert Customer.objects.filter(company=company).count() < 800

    restarted = BigLedger(api_key=api_key, base_url=server_url).batch.customers.process(
        json.loads(source.read_text()), {"continueOnError": True}, chunk_size=100, state_file=state
    )

    assert restarted["resumedChunks"] == recorded
    assert restarted["summary"]["successful"] == 800
    assert [r["referenceId"] for r in restarted["results"]] == [f"m-{n}" for n in range(800)]
    emails = list(Customer.objects.filter(company=company).values_list("email", flat=True))
    assert sorted(emails) == sorted(f"m{n}@example.com" for n in range(800))


def _lines(path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_the_read_api_and_the_change_feed_page_through_every_row(server_url, api_key, settings):
    settings.CHANGE_FEED_MARGIN_SECONDS = 0  # no clocks to trust less than the database's
    client = BigLedger(api_key=api_key, base_url=server_url)
    client.batch.customers.upsert(
        [{"externalId": f"crm-{n}", "name": f"Customer {n}"} for n in range(120)]
    )
    rows = list(client.customers.list(page_size=50))
    assert sorted(row["externalId"] for row in rows) == sorted(f"crm-{n}" for n in range(120))
    feed = client.customers.changes(updated_since="2000-01-01T00:00:00Z", page_size=50)
    assert len(list(feed)) == 120
    assert feed.resume_cursor

    again = client.batch.customers.upsert(
        [{"externalId": f"crm-{n}", "name": f"Customer {n}"} for n in range(120)]
    )
    assert again["summary"]["unchanged"] == 120
    assert list(client.customers.changes(cursor=feed.resume_cursor)) == []


def test_async_operations_are_waited_for_and_answered_like_a_batch(
    server_url, api_key, company, celery_worker
):
    client = BigLedger(api_key=api_key, base_url=server_url)
    operations = customers(1200, prefix="a")
    operations[700]["data"]["email"] = "a1@example.com"  # taken by operation 1

    result = client.batch.customers.process(operations, {"async": True})

    assert len(result["batchIds"]) == 1 and result["batchIds"][0].startswith("job_")
    assert (result["summary"]["successful"], result["summary"]["failed"]) == (1199, 1)
    assert [r["index"] for r in result["results"]] == list(range(1200))
    assert result["results"][700]["error"]["code"] == "DUPLICATE_ERROR"
    failed = list(client.jobs.results(result["batchIds"][0], status="failed"))
    assert [r["referenceId"] for r in failed] == ["a-700"]
    assert Customer.objects.filter(company=company).count() == 1199


def test_several_entities_go_in_one_composite_request(server_url, api_key, company):
    client = BigLedger(api_key=api_key, base_url=server_url)
    result = client.batch.process(
        [
            {"entity": "suppliers", "operation": "create", "data": {"name": "Paper Mill"}},
            {"entity": "customers", "operation": "create", "data": {"name": "Acme"}},
        ]
    )
    assert [r["entity"] for r in result["results"]] == ["suppliers", "customers"]
    assert result["summary"]["successful"] == 2
    assert Customer.objects.filter(company=company, name="Acme").exists()


def test_a_migrations_failed_rows_come_as_a_workbook(server_url, api_key):
    client = BigLedger(api_key=api_key, base_url=server_url)
    result = client.batch.process(
        [
            {"entity": "customers", "operation": "create", "data": {"name": "Acme"}},
            {"entity": "suppliers", "operation": "create", "data": {"name": "Mill", "email": "x"}},
        ]
    )

    content = client.jobs.failed_rows_workbook(result["batchIds"][0])

    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Instructions", "suppliers"]
    [header, values] = workbook["suppliers"].iter_rows(values_only=True)
    row = dict(zip(header, values, strict=True))
    assert (row["name"], row["errorCode"]) == ("Mill", "VALIDATION_ERROR")
