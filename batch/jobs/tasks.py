"""Celery tasks: thin wrappers over batch.jobs. Messages are acknowledged only after the
task ran (acks_late) and rejected back to the queue when the worker process dies."""

from celery import shared_task

from batch.jobs import processing as jobs


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_pk: int) -> None:
    jobs.process_job(job_pk)


@shared_task(ignore_result=True)
def sweep_jobs() -> dict:
    return jobs.sweep()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(delivery_pk: int) -> None:
    """One attempt; a failed one schedules the next itself with apply_async(countdown=…)."""
    from batch.webhooks import delivery as webhooks

    webhooks.deliver(delivery_pk=delivery_pk)


@shared_task(ignore_result=True)
def resend_overdue_webhooks() -> int:
    from batch.webhooks import delivery as webhooks

    return webhooks.resend_overdue_deliveries()
