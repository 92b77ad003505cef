"""The sweeper in every worker's main process: one worker sweeps at a time, another takes
over when it dies, and a job waiting for a free worker is not enqueued again every tick."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from batch.jobs.sweep import due_jobs
from batch.models import BatchJob, SweeperHeartbeat
from batch.worker import Sweeper
from tests.helpers import numbered_customer, submit
from tests.workers import (
    claim_and_die,
    flush_broker,
    queued_messages,
    stop_shared_worker,
    sweep_as_a_worker,
)


def leads_on_its_own_connection(results: dict, label: str) -> None:
    def lead():
        try:
            results[label] = Sweeper(interval=1).lead()
        finally:
            connection.close()

    thread = threading.Thread(target=lead)
    thread.start()
    thread.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_one_worker_sweeps_and_another_takes_over_when_its_connection_drops(_workers):
    stop_shared_worker(_workers)  # it would be sweeping
    results = {}
    leading, dies = threading.Event(), threading.Event()

    def first_worker():
        try:
            results["first"] = Sweeper(interval=1).lead()
            leading.set()
            dies.wait(timeout=30)
        finally:
            connection.close()

    first = threading.Thread(target=first_worker)
    first.start()
    leading.wait(timeout=30)
    leads_on_its_own_connection(results, "second, while the first lives")
    dies.set()
    first.join(timeout=30)
    leads_on_its_own_connection(results, "second, once the first died")

    assert results == {
        "first": True,
        "second, while the first lives": False,
        "second, once the first died": True,
    }


@pytest.mark.django_db(transaction=True)
def test_a_job_waiting_for_a_free_worker_is_enqueued_once_until_it_is_claimed(api, _workers):
    stop_shared_worker(_workers)
    job_id = submit(api, "customers", [numbered_customer(1)])["jobId"]
    flush_broker()  # its message was lost
    sweeper = Sweeper(interval=1)

    sweeper.enqueue_new(due_jobs())
    sweeper.enqueue_new(due_jobs())
    waiting_while_queued = queued_messages()
    claim_and_die(BatchJob.objects.get(public_id=job_id).pk)
    sweeper.enqueue_new(due_jobs())
    sweeper.enqueue_new(due_jobs())

    assert (waiting_while_queued, queued_messages()) == (1, 2)
    flush_broker()


@pytest.mark.django_db(transaction=True)
def test_the_sweeping_worker_notes_each_sweep_for_the_health_check(_workers):
    stop_shared_worker(_workers)  # its beat would note sweeps too
    SweeperHeartbeat.objects.all().delete()

    sweep_as_a_worker()

    assert timezone.now() - SweeperHeartbeat.objects.get().swept_at < timedelta(seconds=30)
