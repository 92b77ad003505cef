"""Jobs survive killed workers, never apply a chunk twice, resume within seconds without
beat, and respect the per-company limit on jobs processing at once."""

import re
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
from batch.jobs import processing as jobs
from batch.jobs.submit import submit_job
from batch.models import BatchJob, JobStatus
from ledger import selectors
from ledger.handlers.parties import CustomerHandler
from ledger.models import JournalEntry
from tests.helpers import (
    api_client_for,
    create,
    depreciation_entries,
    finished,
    job_status,
    make_company,
    numbered_customer,
    submit,
)
from tests.workers import Worker, claim_and_die, flush_broker, stop_shared_worker, wait_for


@pytest.mark.django_db(transaction=True)
def test_a_sigkilled_worker_loses_nothing_and_posts_every_entry_exactly_once(
    api, company, _workers
):
    stop_shared_worker(_workers)
    total = 12_000
    first = Worker("crash-first").start()
    second = None
    try:
        job_id = submit(api, "journal-entries", depreciation_entries(total))["jobId"]
        wait_for(lambda: job_status(api, job_id)["progress"]["processedRecords"] >= 1500)
        first.kill()
        at_kill = job_status(api, job_id)
        assert at_kill["status"] == "processing"
        assert at_kill["progress"]["processedRecords"] < total

        second = Worker("crash-second").start()
        done = finished(api, job_id, timeout=120)
    finally:
        first.kill()
        if second:
            second.stop()

    assert done["status"] == "completed"
    assert done["progress"]["processedRecords"] == total
    assert done["progress"]["successfulRecords"] == total
    entries = JournalEntry.objects.for_company(company)
    assert entries.count() == total
    assert entries.values("reference").distinct().count() == total
    numbers = sorted(entries.values_list("number", flat=True))
    assert numbers == [f"JE-{n:06d}" for n in range(1, total + 1)]
    debit, credit = selectors.journal_totals(company=company)
    assert debit == credit == 10 * total
    assert BatchJob.objects.get(public_id=job_id).attempts == 2


def is_processing_a_job(worker: Worker) -> bool:
    """Whether the worker runs a job's processor now: a run_job task received and not yet
    ended (a duplicate message ends at once, its job claimed elsewhere)."""
    log = worker.log_path.read_text(errors="replace")
    received = re.findall(r"Task batch\.run_job\[([0-9a-f-]+)\] received", log)
    return any(f"batch.run_job[{task}] succeeded" not in log for task in received)


@pytest.mark.django_db(transaction=True)
def test_a_job_resumes_within_five_seconds_of_its_worker_being_killed_without_beat(
    api, company, _workers
):
    stop_shared_worker(_workers)
    total = 6000
    workers = [Worker(f"resume-{n}", concurrency=1, beat=False).start() for n in (1, 2)]
    try:
        job_id = submit(api, "journal-entries", depreciation_entries(total))["jobId"]
        wait_for(lambda: job_status(api, job_id)["progress"]["processedRecords"] >= 500)
        [processor] = [worker for worker in workers if is_processing_a_job(worker)]
        processor.kill()
        killed_at = time.monotonic()
        wait_for(lambda: BatchJob.objects.get(public_id=job_id).attempts == 2, timeout=30)
        resumed_after = time.monotonic() - killed_at
        done = finished(api, job_id, timeout=120)
    finally:
        for worker in workers:
            worker.kill()

    assert resumed_after < 5
    assert done["status"] == "completed"
    assert done["progress"]["successfulRecords"] == total
    entries = JournalEntry.objects.for_company(company)
    assert entries.values("reference").distinct().count() == entries.count() == total


@pytest.mark.django_db(transaction=True)
def test_a_worker_started_after_the_last_one_died_picks_up_its_jobs_without_beat(api, _workers):
    stop_shared_worker(_workers)
    orphaned = submit(api, "customers", [numbered_customer(1)])["jobId"]
    queued = submit(api, "customers", [numbered_customer(2)])["jobId"]
    claim_and_die(BatchJob.objects.get(public_id=orphaned).pk)
    flush_broker()  # their messages went down with the workers
    assert [job_status(api, job_id)["status"] for job_id in (orphaned, queued)] == [
        "processing",
        "queued",
    ]

    worker = Worker("late", beat=False).start()
    try:
        done = [finished(api, job_id, timeout=20) for job_id in (orphaned, queued)]
    finally:
        worker.stop()

    assert [job["status"] for job in done] == ["completed", "completed"]
    assert [job["progress"]["successfulRecords"] for job in done] == [1, 1]


@pytest.mark.django_db(transaction=True)
def test_ten_racing_claims_start_only_the_company_limit(_workers):
    stop_shared_worker(_workers)
    company = make_company().company
    options = BatchOptions(run_async=True)
    queued = [
        submit_job(
            company=company,
            user=None,
            handler=CustomerHandler,
            request=BatchRequest(parse_operations([create({"name": f"C{n}"})]), options),
        )
        for n in range(10)
    ]
    barrier = threading.Barrier(10)
    claimed = []

    def claim(job_pk):
        try:
            barrier.wait(timeout=10)
            if jobs.claim(job_pk) is not None:
                claimed.append(job_pk)
        finally:
            connection.close()  # also frees the advisory lock it took

    threads = [threading.Thread(target=claim, args=(job.pk,)) for job in queued]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(claimed) == settings.BATCH_MAX_CONCURRENT_JOBS == 3
    assert BatchJob.objects.filter(company=company, status=JobStatus.PROCESSING).count() == 3
    assert BatchJob.objects.filter(company=company, status=JobStatus.QUEUED).count() == 7


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_jobs_run_at_most_three_at_a_time_and_all_finish(_workers, settings):
    settings.BATCH_LARGE_RATE_LIMIT = "10/min"  # ten large batches at once
    stop_shared_worker(_workers)
    credentials, neighbour = make_company(), make_company()
    client = api_client_for(credentials)
    wide = Worker("wide", concurrency=5).start()
    try:
        accepted = []

        def post(n):
            try:
                ops = [create({"name": f"C{n}-{i}"}) for i in range(1500)]
                accepted.append(submit(client, "customers", ops)["jobId"])
            finally:
                connection.close()

        threads = [threading.Thread(target=post, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        their_job = submit(api_client_for(neighbour), "customers", [create({"name": "N"})])
        assert finished(api_client_for(neighbour), their_job["jobId"])["status"] == "completed"
        for job_id in accepted:
            assert finished(client, job_id, timeout=180)["status"] == "completed"
    finally:
        wide.stop()

    spans = BatchJob.objects.filter(public_id__in=accepted).values_list(
        "started_at", "completed_at"
    )
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert len(accepted) == 10
    assert 1 <= peak <= 3
