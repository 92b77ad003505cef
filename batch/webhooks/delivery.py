"""Webhooks: when an async job finishes, `batch.job.completed` (completed, rolled back or
cancelled) or `batch.job.failed` is POSTed as JSON to every active endpoint of the company
that subscribed to it. Each (endpoint, event) is one WebhookDelivery row: the log of its
attempts. A failed attempt (not 2xx, a redirect, a timeout) is retried with exponential
backoff, up to BATCH_WEBHOOK_MAX_ATTEMPTS attempts.

Each attempt resolves the URL's host once, refuses it if any address is not public, and
connects to exactly the addresses it checked: a resolver that answers differently the second
time (DNS rebinding) cannot point the request at this server's own network.

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
import http.client
import ipaddress
import logging
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from datetime import timedelta

import celery
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from batch.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

DELIVER_TASK = "batch.deliver_webhook"  # batch.webhooks.tasks.deliver_webhook
TIMEOUT_SECONDS = 10
# Below Redis's one-hour visibility timeout: a longer countdown would be redelivered early.
MAX_RETRY_DELAY_SECONDS = 1800
# A message may run this much before the recorded next_attempt_at (clock skew between hosts)
# and still count as due; earlier, it is a stale duplicate and is dropped.
EARLY_TOLERANCE = timedelta(seconds=2)
USER_AGENT = "BigLedger-Webhooks/1"
DEFAULT_PORTS = {"http": 80, "https": 443}


def max_attempts() -> int:
    return settings.BATCH_WEBHOOK_MAX_ATTEMPTS


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base, 2×base, 4×base, …"""
    base = settings.BATCH_WEBHOOK_RETRY_BASE_SECONDS
    return min(base * 2 ** (attempts - 1), MAX_RETRY_DELAY_SECONDS)


def enqueue_delivery(delivery_pk: int, *, countdown: float | None = None) -> None:
    """Hand one attempt to a worker, by task name (the tasks import this module)."""
    celery.signature(DELIVER_TASK, args=[delivery_pk]).apply_async(countdown=countdown)


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


class RefusedURL(Exception):
    """A URL this server will not call; the message says why."""


@dataclass(frozen=True)
class Destination:
    """Where a delivery goes: the URL's parts, and its host's addresses resolved once — the
    addresses that were checked are the ones connected to."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[tuple[int, tuple], ...]  # (socket family, socket address)

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return PinnedHTTPSConnection(self, timeout, ssl.create_default_context())
        return PinnedHTTPConnection(self, timeout)


def resolve(url: str, *, public_only: bool) -> Destination:
    """Resolve `url`'s host once. With `public_only`, refuse a host with any loopback,
    private, link-local or reserved address (server-side request forgery)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise RefusedURL("Only http and https URLs are called.")
    host = parts.hostname
    if not host:
        raise RefusedURL("The URL has no host.")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except ValueError as error:  # a port out of range
        raise RefusedURL(f"The URL is invalid: {error}.") from error
    except (OSError, UnicodeError) as error:
        raise RefusedURL(f"The host {host} cannot be resolved.") from error
    addresses = tuple(dict.fromkeys((family, address) for family, _, _, _, address in found))
    if public_only:
        for _, address in addresses:
            ip = ipaddress.ip_address(address[0].split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise RefusedURL(f"The host {host} resolves to a non-public address ({ip}).")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, host, port, path, addresses)


def private_address_problem(url: str) -> str | None:
    """Why `url` may not be called, or None. Tenants must not make this server reach
    loopback, private, link-local or reserved addresses (server-side request forgery);
    BATCH_WEBHOOK_ALLOW_PRIVATE_URLS lifts that for development and tests."""
    if settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS:
        return None
    try:
        resolve(url, public_only=True)
    except RefusedURL as refused:
        return str(refused)
    return None


def _open_socket(destination: Destination, timeout: float) -> socket.socket:
    """A TCP connection to the first of the destination's addresses that answers. Never
    resolves the name again: a second answer could point somewhere the check never saw."""
    error: OSError | None = None
    for family, address in destination.addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as refused:
            sock.close()
            error = refused
    raise error or OSError(f"The host {destination.host} has no address.")


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked addresses; the request's Host header still names the host."""

    def __init__(self, destination: Destination, timeout: float):
        super().__init__(destination.host, destination.port, timeout=timeout)
        self.destination = destination

    def connect(self) -> None:
        self.sock = _open_socket(self.destination, self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked addresses, with the host's name in TLS (SNI) and the
    certificate verified for that name."""

    def __init__(self, destination: Destination, timeout: float, tls: ssl.SSLContext):
        super().__init__(destination.host, destination.port, timeout=timeout, context=tls)
        self.destination = destination
        self.tls = tls

    def connect(self) -> None:
        sock = _open_socket(self.destination, self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def post(delivery: WebhookDelivery) -> Attempt:
    """POST the delivery once. http.client follows no redirect: a redirect is not a delivery
    (following it would turn the POST into a GET, and could lead anywhere)."""
    public_only = not settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS
    try:  # checked at every attempt: DNS may have changed since registration
        destination = resolve(delivery.endpoint.url, public_only=public_only)
    except RefusedURL as refused:
        return Attempt(None, str(refused))
    body = delivery.payload.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Connection": "close",
        "BigLedger-Event": delivery.event,
        "BigLedger-Delivery": delivery.public_id,
        "BigLedger-Timestamp": str(timestamp),
        "BigLedger-Signature": signature(
            secret=delivery.endpoint.secret, timestamp=timestamp, body=body
        ),
    }
    connection = destination.connection(TIMEOUT_SECONDS)
    try:
        connection.request("POST", destination.path, body=body, headers=headers)
        response = connection.getresponse()
    except (OSError, http.client.HTTPException, ValueError) as error:  # refused, timeout, TLS
        return Attempt(None, f"{type(error).__name__}: {error}"[:500])
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Attempt(response.status, "")
    return Attempt(response.status, f"HTTP {response.status} {response.reason}"[:500])


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
