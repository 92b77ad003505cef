"""The JavaScript client (clients/js) under node: its unit tests, the API page's
migrateCustomers example run unchanged against a live server, the client alone sending
3,000 customers under the default rate limits — killed half-way and restarted, every customer
ends in the books exactly once and no 429 ever comes back — and reading back what it sent."""

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from ledger.models import Customer

SCRIPTS = Path(__file__).resolve().parent / "js"


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node (18 or later) is missing: the JavaScript client is tested under node.")
    return path


def script_env(server_url, api_key, **values) -> dict:
    env = {**os.environ, "BIGLEDGER_BASE_URL": server_url, "BIGLEDGER_API_KEY": api_key}
    env.update({name: str(value) for name, value in values.items()})
    return env


def run_script(name, env) -> list[str]:
    finished = subprocess.run(
        [node(), str(SCRIPTS / name)], env=env, capture_output=True, text=True, timeout=240
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout.splitlines()


def test_unit_tests_pass_under_node():
    finished = subprocess.run(
        [node(), "--test", str(SCRIPTS / "client.test.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "# fail 0" in finished.stdout


@pytest.mark.slow
def test_the_pages_migrate_customers_example_runs_unchanged(server_url, api_key, company):
    lines = run_script("migrate_customers.mjs", script_env(server_url, api_key, CUSTOMERS=700))

    assert lines == [
        "Processing batch 1/2",
        "Batch 1 completed: 500 successful, 0 failed",
        "Processing batch 2/2",
        "Batch 2 completed: 199 successful, 1 failed",
    ]
    stored = Customer.objects.filter(company=company)
    assert stored.count() == 699
    assert not stored.filter(external_id="legacy-699").exists()  # its email was refused


@pytest.mark.slow
def test_a_killed_run_restarted_puts_every_customer_in_once_without_a_429(
    server_url, api_key, company, settings
):
    # A window of 10 s instead of the default minute, so the waits it forces stay short (the
    # Python SDK's test meets the defaults); the live server reads the setting per request.
    settings.BATCH_LARGE_RATE_LIMIT = "2/10s"
    env = script_env(server_url, api_key, CUSTOMERS=3000, RUN_ID="migration-1")
    killed = subprocess.Popen(
        [node(), str(SCRIPTS / "send_customers.mjs")], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in killed.stdout:
            if line.strip() == "chunk 2/6":
                break
    finally:
        killed.kill()
        killed.communicate()
    assert Customer.objects.filter(company=company).count() >= 1000

    *progress, report = run_script("send_customers.mjs", env)
    outcome = json.loads(report)

    assert progress == [f"chunk {n}/6" for n in range(1, 7)]
    statuses = Counter(answer["status"] for answer in outcome["statuses"])
    # The chunk in flight at the kill may still be going in: 409 IDEMPOTENCY_IN_PROGRESS,
    # waited out and replayed. A replay's rate-limit headers are stale, so the client may
    # meet one 429 after replays: it waits as Retry-After says; none reaches the caller.
    assert statuses[200] == 6 and set(statuses) <= {200, 409, 429}, statuses
    waits_for_429 = [wait for wait in outcome["waits"] if wait["status"] == 429]
    assert all(wait["reason"] == "retry-after" for wait in waits_for_429)
    assert sum(answer["replayed"] for answer in outcome["statuses"]) >= 2
    assert outcome["totalRecords"] == 3000
    assert outcome["summary"]["successful"] == 3000
    assert outcome["summary"]["failed"] == 0
    assert outcome["inOrder"]
    # Six large batches in all against 2 per 10 s: the client waited for windows to end.
    assert any(wait["reason"] == "rate-limit" for wait in outcome["waits"])
    external_ids = Customer.objects.filter(company=company).values_list("external_id", flat=True)
    assert Counter(external_ids) == Counter(f"legacy-{n}" for n in range(3000))


def test_what_was_sent_is_read_back_and_the_feeds_resume_from_their_cursors(
    server_url, api_key, settings
):
    settings.CHANGE_FEED_MARGIN_SECONDS = 0  # no clocks to trust less than the database's
    [line] = run_script("read_back.mjs", script_env(server_url, api_key))
    seen = json.loads(line)

    every = sorted(f"crm-{n}" for n in range(120))
    assert sorted(seen["listed"]) == every  # three pages of 50
    assert sorted(seen["changed"]) == every
    assert seen["deletedBefore"] == []
    assert seen["changedSince"] == ["crm-7"]  # crm-8 was sent again unchanged
    assert seen["deletedSince"] == ["crm-9"]
    assert seen["seven"] == "Customer Seven"
