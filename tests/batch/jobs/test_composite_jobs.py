"""A migration of several entities as one async job (POST /v1/batch with options.async):
chunks in dependency order, references across chunks, validateOnly and rollbackOnError over
the whole job, groups never cut, and exactly once under a killed worker."""

import pytest
import simplejson
from django.db.models import Count

from batch.engine.composite import parse_composite_request, plan_chunks
from batch.models import BatchJob
from bigledger.errors import RequestError
from ledger import selectors
from ledger.models import Account, JournalEntry
from tests.books import assert_books_sound
from tests.helpers import finished, job_status
from tests.workers import Worker, stop_shared_worker, wait_for

TODAY = "2024-01-15"


def post_composite(api, operations, *, status=202, **options) -> dict:
    body = {"operations": operations, "options": {"async": True, **options}}
    response = api.post("/v1/batch", simplejson.dumps(body), content_type="application/json")
    assert response.status_code == status, response.content
    return simplejson.loads(response.content, use_decimal=True)


def accounts(count: int) -> list[dict]:
    return [
        {
            "entity": "accounts",
            "operation": "create",
            "referenceId": f"a{n}",
            "data": {"code": f"7{n:04d}", "name": f"Expense {n}", "type": "expense"},
        }
        for n in range(count)
    ]


def entries(count: int, accounts_made: int, amount="10.00") -> list[dict]:
    return [
        {
            "entity": "journal-entries",
            "operation": "create",
            "referenceId": f"je{n}",
            "data": {
                "date": TODAY,
                "reference": f"MIG-{n:05d}",
                "lines": [
                    {"accountId": f"$ref:a{n % accounts_made}", "debit": amount},
                    {"accountCode": "3000", "credit": amount},
                ],
            },
        }
        for n in range(count)
    ]


def all_results(api, job_id) -> list[dict]:
    response = api.get(f"/v1/batch/jobs/{job_id}/results", {"pageSize": 1000})
    assert response.status_code == 200, response.content
    return response.json()["data"]["results"]


@pytest.mark.django_db(transaction=True)
def test_an_async_migration_resolves_references_across_chunks(
    api, company, celery_worker, settings
):
    settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS = 25  # many chunks
    operations = entries(60, 30) + accounts(30)  # the entries first: order does not matter

    job = post_composite(api, operations)["data"]
    done = finished(api, job["jobId"])

    assert (done["status"], done["entity"]) == ("completed", "batch")
    assert done["progress"]["successfulRecords"] == 90
    results = all_results(api, job["jobId"])
    assert [(r["index"], r["entity"]) for r in results[:2]] == [
        (0, "journal-entries"),
        (1, "journal-entries"),
    ]
    assert [r["index"] for r in results] == list(range(90))
    assert {r["status"] for r in results} == {"created"}
    entry = JournalEntry.objects.get(company=company, reference="MIG-00031")
    assert {line.account.code for line in entry.lines.all()} == {"70001", "3000"}
    assert BatchJob.objects.get(public_id=job["jobId"]).chunks.count() == 4
    assert_books_sound(company)


@pytest.mark.django_db(transaction=True)
def test_an_async_validate_only_migration_sees_its_own_records_and_writes_nothing(
    api, company, celery_worker, settings
):
    settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS = 10
    operations = accounts(10) + entries(20, 10)

    job = post_composite(api, operations, validateOnly=True)["data"]
    done = finished(api, job["jobId"])

    assert done["status"] == "completed"
    assert {r["status"] for r in all_results(api, job["jobId"])} == {"validated"}
    assert not Account.objects.filter(company=company, code__startswith="7").exists()
    assert not JournalEntry.objects.filter(company=company, reference__startswith="MIG").exists()


@pytest.mark.django_db(transaction=True)
def test_an_async_rollback_on_error_migration_undoes_every_chunk(
    api, company, celery_worker, settings
):
    settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS = 10
    bad = entries(1, 1)[0]
    bad["referenceId"], bad["data"]["lines"][1]["credit"] = "bad", "9.00"  # unbalanced
    operations = accounts(10) + entries(20, 10) + [bad]

    job = post_composite(api, operations, rollbackOnError=True)["data"]
    done = finished(api, job["jobId"])

    assert done["status"] == "rolled_back"
    statuses = [r["status"] for r in all_results(api, job["jobId"])]
    assert statuses.count("failed") == 1 and statuses.count("rolled_back") == 30
    assert not Account.objects.filter(company=company, code__startswith="7").exists()


def test_a_group_is_never_cut_and_chunks_come_after_what_they_refer_to(db):
    grouped = [
        {
            "entity": "customers",
            "operation": "create",
            "referenceId": f"c{n}",
            "data": {"name": f"C{n}"},
            "group": f"g{n}",
        }
        for n in range(6)
    ] + [
        {
            "entity": "invoices",
            "operation": "create",
            "referenceId": f"i{n}",
            "group": f"g{n}",
            "data": {
                "customerId": f"$ref:c{n}",
                "invoiceDate": TODAY,
                "items": [{"quantity": 1, "unitPrice": 1, "taxCode": "SST", "description": "x"}],
            },
        }
        for n in range(6)
    ]
    request = parse_composite_request({"operations": grouped})

    chunks = plan_chunks(request.steps, 4)

    assert [len(chunk) for chunk in chunks] == [4, 4, 4]
    for chunk in chunks:
        groups = [step.group for step in chunk]
        assert all(groups.count(group) == 2 for group in groups)
    with pytest.raises(RequestError, match="a group takes at most 1"):
        plan_chunks(request.steps, 1)


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_every_migrated_entry_posted_exactly_once(api, company, _workers):
    stop_shared_worker(_workers)
    total_accounts, total_entries = 300, 6000
    first = Worker("composite-crash-first").start()
    second = None
    try:
        operations = accounts(total_accounts) + entries(total_entries, total_accounts)
        job_id = post_composite(api, operations)["data"]["jobId"]
        wait_for(lambda: job_status(api, job_id)["progress"]["processedRecords"] >= 2000)
        first.kill()
        at_kill = job_status(api, job_id)
        assert at_kill["status"] == "processing"
        assert at_kill["progress"]["processedRecords"] < total_accounts + total_entries

        second = Worker("composite-crash-second").start()
        done = finished(api, job_id, timeout=180)
    finally:
        first.kill()
        if second:
            second.stop()

    assert done["status"] == "completed"
    assert done["progress"]["successfulRecords"] == total_accounts + total_entries
    posted = JournalEntry.objects.for_company(company).filter(reference__startswith="MIG-")
    assert posted.count() == total_entries
    assert posted.values("reference").distinct().count() == total_entries
    assert Account.objects.filter(company=company, code__startswith="7").count() == 300
    migrated = Account.objects.filter(company=company, code__startswith="7")
    lines = migrated.annotate(posted=Count("journal_lines")).values_list("posted", flat=True)
    assert set(lines) == {total_entries // total_accounts}
    debit, credit = selectors.journal_totals(company=company)
    assert debit == credit
    assert BatchJob.objects.get(public_id=job_id).attempts == 2
