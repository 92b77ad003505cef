"""Celery tasks of webhooks: one delivery attempt, and re-sending overdue deliveries."""

from celery import shared_task

from batch.webhooks.delivery import DELIVER_TASK, deliver
from batch.webhooks.notify import resend_overdue_deliveries


@shared_task(name=DELIVER_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(delivery_pk: int) -> None:
    """One attempt; a failed one schedules the next itself with a countdown."""
    deliver(delivery_pk=delivery_pk)


@shared_task(name="batch.resend_overdue_webhooks", ignore_result=True)
def resend_overdue_webhooks() -> int:
    return resend_overdue_deliveries()
