"""Creating deliveries: when an async job finishes, one WebhookDelivery per active endpoint
subscribed to its event, written in the transaction that records the job's final status (an
outbox: the status and the deliveries commit together or not at all), and handed to a
worker once that commits. Overdue deliveries whose message was lost are sent again."""

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from batch.jobs.status import iso, job_status
from batch.models import (
    BatchJob,
    DeliveryStatus,
    JobMode,
    JobStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from batch.signals import job_finished
from batch.webhooks.delivery import enqueue_delivery

logger = logging.getLogger(__name__)

EVENT_BY_STATUS = {
    JobStatus.COMPLETED: WebhookEvent.JOB_COMPLETED,
    JobStatus.ROLLED_BACK: WebhookEvent.JOB_COMPLETED,
    JobStatus.CANCELLED: WebhookEvent.JOB_COMPLETED,
    JobStatus.FAILED: WebhookEvent.JOB_FAILED,
}


def job_event(job: BatchJob) -> WebhookEvent | None:
    if job.mode != JobMode.ASYNC:
        return None
    return EVENT_BY_STATUS.get(job.status)


@receiver(job_finished, sender=BatchJob, dispatch_uid="batch.webhooks")
def on_job_finished(sender, *, job: BatchJob, **kwargs) -> None:
    """The job_finished receiver, called inside the transaction that records the job's final
    status. It never raises, and its own savepoint keeps a failure here from undoing that
    status: a job must finish even when its webhooks cannot be recorded."""
    try:
        with transaction.atomic():
            notify_job_finished(job=job)
    except Exception:
        logger.exception("could not create webhook deliveries for job %s", job.public_id)


def notify_job_finished(*, job: BatchJob) -> list[WebhookDelivery]:
    """One delivery per active endpoint subscribed to the job's event, each sent by a
    worker once the surrounding transaction commits. A job notified twice creates nothing
    the second time."""
    event = job_event(job)
    if event is None:
        return []
    job = BatchJob.objects.select_related("retry_of").get(pk=job.pk)  # as just recorded
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(company_id=job.company_id, active=True)
        if event in endpoint.events  # in Python: SQLite has no JSON containment
    ]
    notified = set(
        WebhookDelivery.objects.filter(job=job, event=event).values_list("endpoint_id", flat=True)
    )
    data = job_status(job)
    now = timezone.now()
    deliveries = [
        _new_delivery(endpoint=endpoint, event=event, job=job, data=data, now=now)
        for endpoint in endpoints
        if endpoint.pk not in notified
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: enqueue_delivery(pk))
    return deliveries


def _new_delivery(*, endpoint, event, job, data, now) -> WebhookDelivery:
    delivery = WebhookDelivery(endpoint=endpoint, event=event, job=job, next_attempt_at=now)
    delivery.payload = json.dumps(
        {"id": delivery.public_id, "event": event.value, "createdAt": iso(now), "data": data},
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )
    return delivery


def resend_overdue_deliveries() -> int:
    """Enqueue pending deliveries more than BATCH_WEBHOOK_OVERDUE_SECONDS past due: their
    message was lost (the broker was down, or the process died between committing the job's
    final status and enqueuing). A duplicate of a message still on its way is harmless:
    deliver() locks the delivery and drops what is no longer due."""
    overdue_before = timezone.now() - timedelta(seconds=settings.BATCH_WEBHOOK_OVERDUE_SECONDS)
    overdue = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lt=overdue_before
    ).values_list("pk", flat=True)[:1000]
    pks = list(overdue)
    for pk in pks:
        enqueue_delivery(pk)
    return len(pks)
