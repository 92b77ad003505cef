"""Webhooks: when an async job finishes, `batch.job.completed` (completed, rolled back or
cancelled) or `batch.job.failed` is POSTed as JSON to every active endpoint of the company
that subscribed to it. Each (endpoint, event) is one WebhookDelivery row: the log of its
attempts. A failed attempt (not 2xx, a redirect, a timeout) is retried with exponential
backoff, up to BATCH_WEBHOOK_MAX_ATTEMPTS attempts.

Delivery is at least once: a worker that dies after the POST but before recording it will
send again, with the same `BigLedger-Delivery` id — receivers should ignore ids they have
already seen.

Every request carries
    BigLedger-Event: batch.job.completed
    BigLedger-Delivery: whd_…                 (also the body's "id")
    BigLedger-Timestamp: 1732430000           (unix seconds of this attempt)
    BigLedger-Signature: t=1732430000,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>

To verify, on the raw body bytes as received (never re-serialised JSON):
    parts = dict(item.split("=", 1) for item in signature_header.split(","))
    signed = parts["t"].encode() + b"." + raw_body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    valid = hmac.compare_digest(expected, parts["v1"])
and reject timestamps more than a few minutes old, so a captured request cannot be replayed.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from http.client import HTTPException

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from batch.api.responses import iso, job_status_response
from batch.engine.codes import RequestCode
from batch.models import (
    BatchJob,
    DeliveryStatus,
    JobMode,
    JobStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from bigledger.api.errors import RequestError
from bigledger.models import Company

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
TIMEOUT_SECONDS = 10
# Below Redis's one-hour visibility timeout: a longer countdown would be redelivered early.
MAX_RETRY_DELAY_SECONDS = 1800
# A message may run this much before the recorded next_attempt_at (clock skew between hosts)
# and still count as due; earlier, it is a stale duplicate and is dropped.
EARLY_TOLERANCE = timedelta(seconds=2)
# A pending delivery this far past due lost its message (broker down at enqueue time).
OVERDUE_AFTER = timedelta(minutes=5)
USER_AGENT = "BigLedger-Webhooks/1"

EVENT_BY_STATUS = {
    JobStatus.COMPLETED: WebhookEvent.JOB_COMPLETED,
    JobStatus.ROLLED_BACK: WebhookEvent.JOB_COMPLETED,
    JobStatus.CANCELLED: WebhookEvent.JOB_COMPLETED,
    JobStatus.FAILED: WebhookEvent.JOB_FAILED,
}


def max_attempts() -> int:
    return settings.BATCH_WEBHOOK_MAX_ATTEMPTS


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base, 2×base, 4×base, …"""
    base = settings.BATCH_WEBHOOK_RETRY_BASE_SECONDS
    return min(base * 2 ** (attempts - 1), MAX_RETRY_DELAY_SECONDS)


# Endpoints ----------------------------------------------------------------------------------


def create_endpoint(*, company: Company, url: str, events: list[str]) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        company=company,
        url=url,
        events=events,
        secret=SECRET_PREFIX + secrets.token_urlsafe(32),
    )


def get_endpoint(*, company: Company, endpoint_id: str) -> WebhookEndpoint:
    """The company's endpoint; another company's is as absent as a missing one."""
    endpoint = WebhookEndpoint.objects.for_company(company).filter(public_id=endpoint_id).first()
    if endpoint is None:
        raise RequestError(RequestCode.NOT_FOUND, f"No webhook '{endpoint_id}'.", status_code=404)
    return endpoint


def delete_endpoint(*, endpoint: WebhookEndpoint) -> None:
    """Deletes its delivery log too; a pending delivery then finds nothing to send."""
    endpoint.delete()


# Creating deliveries ------------------------------------------------------------------------


def job_event(job: BatchJob) -> WebhookEvent | None:
    if job.mode != JobMode.ASYNC:
        return None
    return EVENT_BY_STATUS.get(job.status)


def on_job_finished(sender, *, job: BatchJob, **kwargs) -> None:
    """The job_finished receiver. It never raises: batch.jobs sends the signal from inside
    its processing try-block, where an exception would mark the finished job failed."""
    try:
        notify_job_finished(job=job)
    except Exception:
        logger.exception("could not create webhook deliveries for job %s", job.public_id)


def notify_job_finished(*, job: BatchJob) -> list[WebhookDelivery]:
    """One delivery per active endpoint subscribed to the job's event, each sent by a
    worker once this commits. A job notified twice creates nothing the second time."""
    event = job_event(job)
    if event is None:
        return []
    job = BatchJob.objects.select_related("retry_of").get(pk=job.pk)  # as committed
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(company_id=job.company_id, active=True)
        if event in endpoint.events  # in Python: SQLite has no JSON containment
    ]
    notified = set(
        WebhookDelivery.objects.filter(job=job, event=event).values_list("endpoint_id", flat=True)
    )
    data = job_status_response(job)["data"]
    now = timezone.now()
    deliveries = [
        _new_delivery(endpoint=endpoint, event=event, job=job, data=data, now=now)
        for endpoint in endpoints
        if endpoint.pk not in notified
    ]
    with transaction.atomic():
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


def enqueue_delivery(delivery_pk: int, *, countdown: float | None = None) -> None:
    from batch.jobs.tasks import deliver_webhook

    deliver_webhook.apply_async(args=[delivery_pk], countdown=countdown)


def resend_overdue_deliveries() -> int:
    """Enqueue pending deliveries long past due, whose message was lost. A duplicate of a
    message still on its way is harmless: deliver() drops what is not due."""
    overdue = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lt=timezone.now() - OVERDUE_AFTER
    ).values_list("pk", flat=True)[:1000]
    pks = list(overdue)
    for pk in pks:
        enqueue_delivery(pk)
    return len(pks)


# Delivering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver(*, delivery_pk: int) -> None:
    """One attempt. The delivery row stays locked while posting (at most the timeout), so
    two messages for it never post at once; a message not due yet is a stale duplicate."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_pk)
            .first()
        )
        if delivery is None or not _is_due(delivery):
            return
        if delivery.endpoint.active:
            attempt = post(delivery)
        else:
            attempt = Attempt(None, "The endpoint was deactivated.")
        _record(delivery, attempt, give_up=not delivery.endpoint.active)


def _is_due(delivery: WebhookDelivery) -> bool:
    if delivery.status != DeliveryStatus.PENDING:
        return False
    due = delivery.next_attempt_at
    return due is None or due <= timezone.now() + EARLY_TOLERANCE


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is not a delivery: following it would turn the POST into a GET, and could
    lead anywhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def private_address_problem(url: str) -> str | None:
    """Why `url` may not be called, or None. Tenants must not make this server reach
    loopback, private, link-local or reserved addresses (server-side request forgery);
    BATCH_WEBHOOK_ALLOW_PRIVATE_URLS lifts that for development and tests."""
    if settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS:
        return None
    host = urllib.parse.urlsplit(url).hostname
    if not host:
        return "The URL has no host."
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return f"The host {host} cannot be resolved."
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return f"The host {host} resolves to a non-public address ({ip})."
    return None


def post(delivery: WebhookDelivery) -> Attempt:
    if problem := private_address_problem(delivery.endpoint.url):
        return Attempt(None, problem)  # checked again here: DNS may have changed
    body = delivery.payload.encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "BigLedger-Event": delivery.event,
            "BigLedger-Delivery": delivery.public_id,
            "BigLedger-Timestamp": str(timestamp),
            "BigLedger-Signature": signature(
                secret=delivery.endpoint.secret, timestamp=timestamp, body=body
            ),
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return Attempt(response.status, "")
    except urllib.error.HTTPError as error:
        return Attempt(error.code, f"HTTP {error.code} {error.reason}"[:500])
    except (OSError, HTTPException, ValueError) as error:  # URLError, timeouts, bad URLs
        return Attempt(None, f"{type(error).__name__}: {error}"[:500])


def _record(delivery: WebhookDelivery, attempt: Attempt, *, give_up: bool = False) -> None:
    """Log the attempt on the delivery; schedule the next one once this commits."""
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code = attempt.status_code
    delivery.last_error = attempt.error
    delivery.next_attempt_at = None
    if attempt.delivered:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
    elif give_up or delivery.attempts >= max_attempts():
        delivery.status = DeliveryStatus.FAILED
    else:
        delay = retry_delay(delivery.attempts)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        transaction.on_commit(lambda: enqueue_delivery(delivery.pk, countdown=delay))
    delivery.save(
        update_fields=[
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "status",
            "delivered_at",
        ]
    )
    logger.info(
        "webhook %s attempt %s to %s: %s",
        delivery.public_id,
        delivery.attempts,
        delivery.endpoint.url,
        attempt.status_code or attempt.error,
    )
