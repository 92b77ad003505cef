"""A job received as it is stored: workers run its first chunks while the web process is
still storing the rest; what would refuse the request is found before anything is stored;
a sender that fails or dies midway leaves a failed job that says how much arrived."""

import io
import threading
from collections.abc import Callable

import pytest
import simplejson
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from batch.engine.envelope import BatchOptions, parse_operations
from batch.files.readers import open_csv
from batch.jobs.liveness import (
    RECEIVING_NAMESPACE,
    release_receiving_lock,
    take_receiving_lock,
)
from batch.jobs.processing import process_job, request_cancel
from batch.jobs.submit import CHUNKS_PER_RECEIPT, in_chunks, submit_job_from_chunks
from batch.jobs.sweep import sweep
from batch.models import BatchChunk, BatchJob, ChunkStatus
from bigledger.errors import RequestError
from ledger.handlers.parties import CustomerHandler
from ledger.models import Customer
from tests.helpers import finished, numbered_customer, post_batch
from tests.workers import (
    flush_broker,
    queued_messages,
    stop_shared_worker,
    sweep_as_a_worker,
    wait_for,
)

CHUNK = CustomerHandler.max_records
RECEIPT = CHUNK * CHUNKS_PER_RECEIPT  # operations one commit of a received job stores


class Paced:
    """`total` customer creates, read lazily as a file's are, that run `pause(job)` when the
    reading reaches operation `at` — after the job's first commits, while it is receiving."""

    def __init__(self, total: int, at: int, pause: Callable[[BatchJob], None]):
        self.total, self.at, self.pause = total, at, pause

    def __iter__(self):
        for start in range(0, self.total, CHUNK):
            if start == self.at:
                self.pause(BatchJob.objects.get(receiving=True))
            count = min(CHUNK, self.total - start)
            yield from parse_operations(
                [numbered_customer(i) for i in range(start, start + count)], start=start
            )


def received(credentials, operations) -> BatchJob:
    """Submit as a file import whose reading was checked whole."""
    user = get_user_model().objects.get(username=credentials.username)
    return submit_job_from_chunks(
        company=credentials.company,
        user=user,
        handler=CustomerHandler,
        chunks=in_chunks(operations, CHUNK),
        options=BatchOptions(),
        checked=True,
    )


def done_chunks(job: BatchJob) -> int:
    return BatchChunk.objects.filter(job=job, status=ChunkStatus.DONE).count()


@pytest.mark.django_db(transaction=True)
def test_workers_run_the_chunks_that_arrived_while_the_rest_is_still_arriving(
    api, credentials, company, celery_worker
):
    seen = {}

    def pause(job):  # two commits in: wait until a worker has done some of them
        seen["done while receiving"] = wait_for(lambda: done_chunks(job), timeout=60)
        job.refresh_from_db()
        seen["receiving"], seen["total"] = job.receiving, job.total_records

    total = 3 * RECEIPT + 100
    job = received(credentials, Paced(total, at=2 * RECEIPT, pause=pause))

    assert seen["receiving"] and seen["done while receiving"] >= 1
    assert seen["total"] == 2 * RECEIPT  # the total so far, as the job's progress shows
    assert job.total_records == total and not job.receiving
    done = finished(api, job.public_id, timeout=120)
    assert done["status"] == "completed", done
    assert done["progress"]["totalRecords"] == done["progress"]["successfulRecords"] == total
    customers = Customer.objects.for_company(company)
    assert sorted(customers.values_list("number", flat=True)) == [
        f"CUST-{n:04d}" for n in range(1, total + 1)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_failure_while_receiving_is_the_jobs_which_fails_with_what_arrived(
    api, credentials, company, celery_worker
):
    def pause(job):
        raise OSError("the disk is full")

    job = received(credentials, Paced(3 * RECEIPT, at=RECEIPT, pause=pause))

    assert not job.receiving and job.total_records == RECEIPT
    done = finished(api, job.public_id, timeout=120)
    assert done["status"] == "failed"
    assert done["progress"]["totalRecords"] == done["progress"]["successfulRecords"] == RECEIPT
    assert f"stopped after {RECEIPT:,} of its records" in done["error"]
    assert "OSError: the disk is full" in done["error"]
    assert Customer.objects.for_company(company).count() == RECEIPT


def beat_sweep() -> None:
    """The sweep beat sends as a task."""
    sweep()


@pytest.mark.parametrize("sweeper", [beat_sweep, sweep_as_a_worker], ids=["beat", "worker"])
@pytest.mark.django_db(transaction=True)
def test_a_sender_that_dies_midway_is_found_by_the_sweeper(sweeper, credentials, company, _workers):
    stop_shared_worker(_workers)  # this test sweeps itself
    with Sender(credentials) as sender:
        sweeper()
        job = BatchJob.objects.get(company=company)
        assert job.receiving  # alive: its lock is held
        with connection.cursor() as cursor:  # the web process dies: its connection drops
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND classid = %s AND objid = %s",
                [RECEIVING_NAMESPACE, job.pk],
            )

        def ended() -> bool:
            sweeper()
            return not BatchJob.objects.filter(pk=job.pk, receiving=True).exists()

        wait_for(ended, timeout=30)

    job.refresh_from_db()
    assert not job.receiving and job.total_records == RECEIPT
    assert "the process storing them ended" in job.error
    assert BatchChunk.objects.filter(job=job).count() == CHUNKS_PER_RECEIPT
    # Had it lived on, as the thread here does, it answers with the job the sweeper ended.
    assert [answer.pk for answer in sender.answers] == [job.pk]
    assert not sender.answers[0].receiving


@pytest.mark.django_db(transaction=True)
def test_a_sender_whose_connection_drops_ends_the_job_itself_and_answers_with_it(
    api, credentials, company, celery_worker
):
    """The server restarted, or a proxy dropped the connection: the rest of the job cannot be
    stored, but a new connection records that, so the request still answers with the job
    (and an Idempotency-Key replays it), not an error after part of it was applied."""
    with Sender(credentials) as sender:
        job = BatchJob.objects.get(company=company)
        # The sweeper (the worker's) must not find the lock free between the drop and the
        # sender's own ending of the job (that case is the test above): a waiter takes it.
        with LockWaiter(job.pk):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [sender.backend])
            wait_for(lambda: not backend_alive(sender.backend), timeout=30)
            assert sweep()["receiptsInterrupted"] == 0
            sender.resume()

    [job] = sender.answers
    assert not job.receiving and job.total_records == RECEIPT
    assert f"stopped after {RECEIPT:,} of its records" in job.error
    assert "the process storing them ended" not in job.error  # the sender's, not the sweeper's
    done = finished(api, job.public_id, timeout=120)
    assert done["status"] == "failed"
    assert done["progress"]["successfulRecords"] == RECEIPT
    assert Customer.objects.for_company(company).count() == RECEIPT


class Sender:
    """A web process storing a received job, on its own connection (a thread): it stops once
    the job's first receipt has arrived (`backend` is then its connection's pid) and goes on
    when the `with` block ends; `answers` holds the job its storing returned."""

    def __init__(self, credentials):
        self.arrived, self.resumed = threading.Event(), threading.Event()
        self.backend: int | None = None
        self.answers: list[BatchJob] = []
        self.thread = threading.Thread(target=self._send, args=[credentials])

    def __enter__(self) -> "Sender":
        self.thread.start()
        assert self.arrived.wait(60)
        return self

    def __exit__(self, *raised) -> None:
        self.resume()

    def resume(self) -> None:
        """Let it go on storing the job, and wait for its answer."""
        self.resumed.set()
        self.thread.join(60)

    def _send(self, credentials) -> None:
        try:
            operations = Paced(3 * RECEIPT, at=RECEIPT, pause=self._pause)
            self.answers.append(received(credentials, operations))
        finally:
            connection.close()

    def _pause(self, job: BatchJob) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend = cursor.fetchone()[0]
        self.arrived.set()
        self.resumed.wait(60)


class LockWaiter:
    """Another session waiting for a job's receiving lock, so that it is granted the lock
    the moment the holder's connection drops: no sweep can find the lock free."""

    def __init__(self, job_pk: int):
        self.job_pk = job_pk
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._wait)

    def __enter__(self) -> "LockWaiter":
        self.thread.start()
        wait_for(self._waiting, timeout=30)
        return self

    def __exit__(self, *raised) -> None:
        self.release.set()
        self.thread.join(60)

    def _waiting(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid = %s AND objid = %s",
                [RECEIVING_NAMESPACE, self.job_pk],
            )
            return cursor.fetchone() is not None

    def _wait(self) -> None:
        try:
            take_receiving_lock(self.job_pk)
            self.release.wait(60)
            release_receiving_lock(self.job_pk)
        finally:
            connection.close()


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
def test_a_job_cancelled_while_arriving_is_cancelled_once_all_of_it_has(
    api, credentials, celery_worker
):
    def pause(job):
        request_cancel(job)

    total = 3 * RECEIPT
    job = received(credentials, Paced(total, at=2 * RECEIPT, pause=pause))

    done = finished(api, job.public_id, timeout=120)
    assert done["status"] == "cancelled"
    progress = done["progress"]
    assert progress["totalRecords"] == total
    assert progress["successfulRecords"] + progress["skippedRecords"] == total
    assert progress["skippedRecords"] >= RECEIPT  # at least the last part never ran
    assert not BatchChunk.objects.filter(job=job, status=ChunkStatus.PENDING).exists()


@pytest.mark.django_db(transaction=True)
def test_a_queued_job_cancelled_while_arriving_is_handed_over_to_be_cancelled(
    credentials, company, _workers, settings
):
    """With every slot of its company taken, a job stays queued; cancelled while arriving,
    it is enqueued again once all has arrived, and claiming it cancels the rest."""
    stop_shared_worker(_workers)  # this test claims the job itself
    flush_broker()
    for n in range(settings.BATCH_MAX_CONCURRENT_JOBS):
        BatchJob.objects.create(
            company=company,
            public_id=f"job_busy{n}",
            entity="customers",
            mode="async",
            status="processing",
        )
    job = received(credentials, Paced(2 * RECEIPT, at=RECEIPT, pause=request_cancel))

    assert queued_messages() == 2  # on its first commit, and again once it had all arrived
    process_job(job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert not BatchChunk.objects.filter(job=job, status=ChunkStatus.PENDING).exists()
    assert not Customer.objects.for_company(company).exists()


# What would refuse the request is found before anything is stored ---------------------------


def csv_file(rows: int, last: str = "") -> bytes:
    lines = ["name,email"] + [f"Customer {i},c{i}@example.com" for i in range(rows)]
    return ("\n".join(lines) + "\n" + last).encode()


@pytest.mark.parametrize(
    ("last", "message"),
    [
        ('"Never closed,x@example.com\n', "opens a quote that is never closed"),
        ("Extra,e@example.com\n", "more than 2,000 rows"),
    ],
)
def test_the_csv_check_finds_late_problems_and_leaves_the_reading_where_it_was(last, message):
    rows = open_csv(io.BytesIO(csv_file(2000, last)), max_rows=2000)
    reading = iter(rows)
    assert next(reading) == (2, {"name": "Customer 0", "email": "c0@example.com"})
    with pytest.raises(RequestError, match=message):
        rows.check_whole()
    assert next(reading)[0] == 3


def test_a_good_csv_is_checked_whole_and_then_read_whole():
    rows = open_csv(io.BytesIO(csv_file(1500)))
    assert rows.count_rows(10) == 10
    assert rows.check_whole()
    assert [number for number, _ in rows] == list(range(2, 1502))


def test_a_csv_stream_that_cannot_be_read_twice_is_not_checked():
    class OneWay(io.BytesIO):
        def seekable(self):
            return False

    assert not open_csv(OneWay(csv_file(10))).check_whole()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("with_reference_ids", "last", "message"),
    [
        (False, '"Never closed,x@example.com\n', "opens a quote that is never closed"),
        (True, "Again,a@example.com,r0\n", "more than once"),
    ],
)
def test_a_late_refusal_leaves_nothing_with_a_worker_ready(
    api, company, celery_worker, with_reference_ids, last, message
):
    """Read ahead (the quote), or not received at all (a referenceId column: only reading
    every row finds one repeated), a file refused by its last row leaves nothing."""
    if with_reference_ids:
        lines = ["name,email,referenceId"]
        lines += [f"Customer {i},c{i}@example.com,r{i}" for i in range(3 * RECEIPT)]
        body = ("\n".join(lines) + "\n" + last).encode()
    else:
        body = csv_file(3 * RECEIPT, last)
    response = api.post(
        "/v1/batch/customers/import-csv",
        {"file": SimpleUploadedFile("customers.csv", body), "options": '{"async": true}'},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert message in response.json()["error"]["message"]
    assert not BatchJob.objects.filter(company=company).exists()
    assert not Customer.objects.for_company(company).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("padding", [0, 200], ids=["parsed whole", "skimmed"])
def test_a_json_batch_refused_by_its_last_operation_leaves_nothing(
    api, company, celery_worker, padding
):
    """A repeated referenceId, found whichever way the envelope is read (a body over 1 MB
    is skimmed), before the job exists: nothing is received."""
    operations = [numbered_customer(i, notes="x" * padding) for i in range(3 * RECEIPT)] + [
        numbered_customer(3 * RECEIPT)
    ]
    operations[-1]["referenceId"] = operations[0]["referenceId"]
    assert (len(simplejson.dumps(operations)) > 1024 * 1024) is (padding > 0)
    answer = post_batch(api, "customers", operations, status=400, **{"async": True})
    assert answer["error"]["code"] == "DUPLICATE_REFERENCE_ID"
    assert not BatchJob.objects.filter(company=company).exists()
    assert not Customer.objects.for_company(company).exists()
