"""One job's chunks run on several worker processes at once, except where order matters:
chunks naming the same record wait for each other; a killed worker loses nothing."""

import threading

import pytest
from django.db import connection, transaction

from batch.engine.envelope import BatchOptions
from batch.jobs.lanes import operation_keys, packed_keys, ready_chunk, unpacked
from batch.jobs.submit import store_job
from batch.models import BatchChunk, BatchJob
from inventory.handlers.adjustments import StockAdjustmentHandler
from ledger import selectors
from ledger.handlers.accounts import AccountHandler
from ledger.handlers.invoices import InvoiceHandler
from ledger.handlers.journals import JournalEntryHandler
from ledger.handlers.parties import CustomerHandler
from ledger.handlers.payments import PaymentHandler
from ledger.models import Account, Customer, JournalEntry
from tests.helpers import (
    api_client_for,
    create,
    depreciation_entries,
    finished,
    job_status,
    make_company,
    numbered_customer,
    submit,
    update,
)
from tests.workers import Worker, stop_shared_worker, wait_for

# Keys ----------------------------------------------------------------------------------------


def keys(handler, data) -> set[str]:
    return set(operation_keys(handler, data))


def test_a_record_is_keyed_by_its_id_external_id_and_match_fields_case_folded():
    assert keys(CustomerHandler, {"name": "A", "email": "Ann@Example.com", "externalId": "X1"}) == {
        "email=ann@example.com",
        "externalId=x1",
    }
    assert keys(CustomerHandler, {"id": "cus_1", "customerNumber": "CUST-0001"}) == {
        "id=cus_1",
        "customerNumber=cust-0001",
    }


def test_references_share_the_key_of_the_record_they_name_at_any_depth():
    parent = keys(AccountHandler, {"code": "1000", "externalId": "gl-1"})
    child = keys(AccountHandler, {"code": "1100", "parentExternalId": "gl-1"})
    assert parent & child == {"externalId=gl-1"}

    payment = {"customerId": "cus_1", "allocations": [{"invoiceNumber": "INV-7"}]}
    assert keys(PaymentHandler, payment) == {"invoiceNumber=inv-7"}
    assert keys(InvoiceHandler, {"customerNumber": "CUST-1"}) == {"customerNumber=cust-1"}
    assert keys(StockAdjustmentHandler, {"itemCode": "W-1", "quantity": "1"}) == {"itemCode=w-1"}


def test_journal_entries_name_no_record_so_their_chunks_never_wait():
    entry = depreciation_entries(1)[0]["data"]
    assert keys(JournalEntryHandler, entry) == set()
    assert unpacked(packed_keys(JournalEntryHandler, [{"data": entry}])) == frozenset()


# Which chunk is ready -----------------------------------------------------------------------


def keyed_job(company, chunks: list[list[dict]]) -> BatchJob:
    return store_job(
        company=company,
        user=None,
        entity="customers",
        chunks=([{"data": data} for data in chunk] for chunk in chunks),
        options=BatchOptions(),
        keys=lambda operations: packed_keys(CustomerHandler, operations),
    )


@pytest.mark.django_db(transaction=True)
def test_a_chunk_naming_a_record_of_a_running_chunk_waits_and_an_independent_one_runs(
    company, _workers
):
    stop_shared_worker(_workers)  # the job is this test's: no worker may take it up
    job = keyed_job(
        company,
        [
            [{"externalId": "a"}, {"externalId": "b"}],
            [{"externalId": "B"}],  # the same customer as chunk 0's "b"
            [{"externalId": "c"}],
        ],
    )
    first_locked, release = threading.Event(), threading.Event()

    def run_first_chunk():
        try:
            with transaction.atomic():
                assert ready_chunk(job).position == 0
                first_locked.set()
                release.wait(30)
        finally:
            connection.close()

    other_worker = threading.Thread(target=run_first_chunk)
    other_worker.start()
    try:
        assert first_locked.wait(30)
        with transaction.atomic():
            assert ready_chunk(job).position == 2
    finally:
        release.set()
        other_worker.join(30)
    with transaction.atomic():  # chunk 0 is free again, and first
        assert ready_chunk(job).position == 0


# On real workers ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_job_runs_on_both_worker_processes_and_numbers_every_customer_once(
    api, company, celery_worker
):
    total = 6000  # 12 chunks of 500
    job_id = submit(api, "customers", [numbered_customer(i) for i in range(total)])["jobId"]

    done = finished(api, job_id, timeout=180)

    assert done["status"] == "completed"
    assert done["progress"]["successfulRecords"] == total
    processes = set(
        BatchChunk.objects.filter(job__public_id=job_id).values_list("processed_by", flat=True)
    )
    assert len(processes) == 2, processes
    customers = Customer.objects.for_company(company)
    assert customers.count() == customers.values("email").distinct().count() == total
    numbers = sorted(customers.values_list("number", flat=True))
    assert numbers == [f"CUST-{n:04d}" for n in range(1, total + 1)]


@pytest.mark.django_db(transaction=True)
def test_operations_naming_a_record_made_by_an_earlier_chunk_wait_for_it(
    api, company, celery_worker
):
    creates = [numbered_customer(i, externalId=f"shop-{i}") for i in range(500)]
    renames = [update({"externalId": f"shop-{i}", "name": f"Renamed {i}"}) for i in range(20)]
    again = [update({"externalId": f"shop-{i}", "name": f"Final {i}"}) for i in range(20)]
    independent = [numbered_customer(i) for i in range(1000, 2000)]
    # chunks of 500: the creates; the renames and new ones; new ones; new ones and the
    # second renames
    operations = creates + renames + independent[:480] + independent[480:] + again
    parents = [
        create({"code": f"91{i:03d}", "name": f"P{i}", "type": "asset", "externalId": f"p{i}"})
        for i in range(200)
    ]
    children = [
        create(
            {"code": f"92{i:03d}", "name": f"C{i}", "type": "asset", "parentExternalId": f"p{i}"}
        )
        for i in range(200)
    ]

    customers_job = submit(api, "customers", operations)["jobId"]
    accounts_job = submit(api, "accounts", parents + children)["jobId"]
    customers_done = finished(api, customers_job, timeout=120)
    accounts_done = finished(api, accounts_job, timeout=120)

    assert customers_done["progress"]["failedRecords"] == 0, customers_done
    assert accounts_done["progress"]["failedRecords"] == 0, accounts_done
    for i in range(20):
        assert Customer.objects.get(company=company, external_id=f"shop-{i}").name == f"Final {i}"
    child = Account.objects.get(company=company, code="92005")
    assert child.parent.external_id == "p5"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_two_process_one_job_loses_nothing_and_posts_each_entry_once(
    api, company, _workers
):
    stop_shared_worker(_workers)
    total = 12_000
    workers = [Worker(f"parallel-{n}", concurrency=1, beat=False).start() for n in (1, 2)]
    try:
        job_id = submit(api, "journal-entries", depreciation_entries(total))["jobId"]
        chunks = BatchChunk.objects.filter(job__public_id=job_id).exclude(processed_by="")
        wait_for(lambda: chunks.values("processed_by").distinct().count() == 2, timeout=60)
        workers[0].kill()
        assert job_status(api, job_id)["status"] == "processing"
        done = finished(api, job_id, timeout=180)
    finally:
        for worker in workers:
            worker.kill()

    assert done["status"] == "completed"
    assert done["progress"]["processedRecords"] == done["progress"]["successfulRecords"] == total
    entries = JournalEntry.objects.for_company(company)
    assert entries.values("reference").distinct().count() == entries.count() == total
    numbers = sorted(entries.values_list("number", flat=True))
    assert numbers == [f"JE-{n:06d}" for n in range(1, total + 1)]
    debit, credit = selectors.journal_totals(company=company)
    assert debit == credit == 10 * total


@pytest.mark.django_db(transaction=True)
def test_another_companys_job_runs_while_a_large_one_fills_every_process(api, company, _workers):
    """A helper gives its process back after BATCH_HELPER_SLICE_SECONDS and queues again
    behind what waits: a small job submitted while a large one holds both processes starts
    within a few slices, not once the large one is done."""
    stop_shared_worker(_workers)
    total = 20_000
    worker = Worker("fair", concurrency=2, beat=False, BATCH_HELPER_SLICE_SECONDS=0.2).start()
    other = api_client_for(make_company("Other Sdn Bhd"))
    try:
        large = submit(api, "journal-entries", depreciation_entries(total))["jobId"]
        chunks = BatchChunk.objects.filter(job__public_id=large).exclude(processed_by="")
        wait_for(lambda: chunks.values("processed_by").distinct().count() == 2, timeout=60)
        small = submit(other, "customers", [numbered_customer(i) for i in range(10)])["jobId"]
        small_done = finished(other, small, timeout=60)
        large_then = job_status(api, large)["progress"]["processedRecords"]
        large_done = finished(api, large, timeout=180)
    finally:
        worker.stop()

    assert small_done["progress"]["successfulRecords"] == 10
    assert large_then < 0.8 * total, large_then  # not waiting for the large job's end
    assert large_done["progress"]["successfulRecords"] == total
