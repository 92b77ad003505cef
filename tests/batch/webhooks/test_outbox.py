"""The webhook outbox: a job's deliveries commit with its final status, so a process that
dies between that commit and handing them to the broker loses none of them, and a finish
that rolls back leaves neither."""

import json
import os

import pytest
from django.db import connections, transaction

from batch.jobs import processing as jobs
from batch.models import BatchJob, DeliveryStatus, JobStatus, WebhookDelivery
from tests.webhooks import async_job, register
from tests.workers import Worker, stop_shared_worker, wait_for


def finish_and_die_before_enqueuing(job: BatchJob) -> None:
    """Record the job's finish in a child process that dies right after COMMIT, before the
    callbacks that hand its webhook deliveries to the broker run."""
    connections.close_all()  # the child must not share this process's connection
    pid = os.fork()
    if pid == 0:
        try:
            with transaction.atomic():
                transaction.on_commit(lambda: os._exit(0))  # the first callback to run
                jobs._finish(job, JobStatus.COMPLETED)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.django_db(transaction=True)
def test_a_webhook_whose_process_died_after_the_job_finished_is_sent_by_a_worker_without_beat(
    api, company, receiver, _workers
):
    stop_shared_worker(_workers)
    hook = receiver()
    register(api, hook.url)
    job = async_job(company)

    finish_and_die_before_enqueuing(job)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
    worker = Worker(
        "outbox",
        beat=False,
        BATCH_WEBHOOK_OVERDUE_SECONDS="0",
        BATCH_WEBHOOK_ALLOW_PRIVATE_URLS="1",
    ).start()
    try:
        wait_for(lambda: hook.requests, timeout=20)
        delivery = wait_for(
            lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).first()
        )
    finally:
        worker.stop()

    body = json.loads(hook.requests[0]["body"])
    assert (body["event"], body["data"]["jobId"]) == ("batch.job.completed", job.public_id)
    assert body["data"]["status"] == "completed"
    assert (delivery.public_id, delivery.attempts) == (body["id"], 1)


@pytest.mark.django_db
def test_a_finish_that_rolls_back_leaves_neither_its_status_nor_deliveries(
    api, company, django_capture_on_commit_callbacks
):
    register(api, "https://example.com/hooks")
    job = async_job(company)

    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(ConnectionError),
        transaction.atomic(),
    ):
        jobs._finish(job, JobStatus.COMPLETED)
        raise ConnectionError("the database went away before COMMIT")

    job.refresh_from_db()
    assert (job.status, job.completed_at) == (JobStatus.PROCESSING, None)
    assert not WebhookDelivery.objects.exists()
    assert callbacks == []  # nothing to hand to the broker
