"""`Idempotency-Key` for batch POSTs: a client that retries after a timeout gets the first
answer again instead of a second batch.

Per company and key, kept in the cache (Redis in production) for
BATCH_IDEMPOTENCY_TTL_SECONDS (24 h):
- the same key and the same request (method, path, body) replays the stored status, body and
  RateLimit headers with `Idempotent-Replayed: true`, processing nothing;
- the same key with another request is 422 IDEMPOTENCY_KEY_REUSED;
- while the first request is still being processed, 409 IDEMPOTENCY_IN_PROGRESS.

The in-flight marker is taken with cache.add (SET NX on Redis), so of any number of
concurrent requests with one key exactly one is processed. Responses with a status of 500 or
more are not stored (the client may retry them), nor 429s, which processed nothing — but a
request that stored a job is answered with that job from the moment the job exists
(batch.signals.job_stored): should the request then fail, its retry gets `202` with the job,
which is processed, instead of storing and applying the same records again."""

import functools
import hashlib
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpResponse, StreamingHttpResponse
from rest_framework.response import Response

from batch.api.body import request_body
from batch.api.ratelimit import set_current_headers
from batch.api.responses import job_accepted_response
from batch.engine.codes import RequestCode
from batch.models import BatchJob
from batch.signals import job_stored
from bigledger.errors import Conflict, Mismatch, RequestError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_REUSED = RequestCode.IDEMPOTENCY_KEY_REUSED
IN_PROGRESS = RequestCode.IDEMPOTENCY_IN_PROGRESS
MAX_KEY_LENGTH = 255
# Headers a replay repeats; the rest (Content-Type, Vary…) are made again when it renders.
KEPT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Location")


def clean_key(raw: str) -> str:
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not raw.isascii() or not raw.isprintable():
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            details=[{"field": HEADER, "message": "Invalid idempotency key."}],
        )
    return raw


def request_fingerprint(request) -> str:
    """A hash of what makes two requests the same: method, path and query, and the body.
    The body is hashed chunk by chunk from the file it is read into once (batch.api.body),
    never held whole; a multipart body by its parsed fields and files, a large upload from
    its temporary file (and its boundary does not matter)."""
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    if request.content_type.startswith("multipart/"):
        _hash_multipart(digest, request)
    else:
        for chunk in request_body(request).chunks():
            digest.update(chunk)
    return digest.hexdigest()


def _hash_multipart(digest, request) -> None:
    for name, values in sorted(request.POST.lists()):
        for value in values:
            digest.update(f"field {name}={value}\n".encode())
    for name, files in sorted(request.FILES.lists()):
        for upload in files:
            digest.update(f"file {name} {upload.name} {upload.size}\n".encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)


def _cache_keys(request, key: str) -> tuple[str, str]:
    hashed = hashlib.sha256(key.encode()).hexdigest()
    scope = f"batch-idem:{request.auth.company.public_id}:{hashed}"
    return f"{scope}:response", f"{scope}:lock"


def stored_form(response, fingerprint: str) -> dict[str, Any] | None:
    """What the cache keeps of a response; None for one that must not be replayed."""
    if response.status_code >= 500 or response.status_code == 429:
        return None
    if isinstance(response, StreamingHttpResponse):
        return None
    record: dict[str, Any] = {
        "fingerprint": fingerprint,
        "status": response.status_code,
        "headers": {name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
    }
    if isinstance(response, Response):
        record["data"] = response.data
    else:
        record["content"] = bytes(response.content)
        record["contentType"] = response["Content-Type"]
    return record


def replay(record: dict[str, Any]):
    if "data" in record:
        response = Response(record["data"], status=record["status"])
    else:
        response = HttpResponse(
            record["content"], status=record["status"], content_type=record["contentType"]
        )
    for name, value in record["headers"].items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def answer_from_store(record: dict[str, Any] | None, fingerprint: str):
    """The replay for a finished request with this key, or None if there is none."""
    if record is None:
        return None
    if record["fingerprint"] != fingerprint:
        raise Mismatch(
            KEY_REUSED, f"This {HEADER} was already used for a different request; use a new key."
        )
    return replay(record)


def conflict(lock_fingerprint: str | None, fingerprint: str) -> RequestError:
    if lock_fingerprint is not None and lock_fingerprint != fingerprint:
        return Mismatch(
            KEY_REUSED, f"This {HEADER} is in use by a different request; use a new key."
        )
    return Conflict(
        IN_PROGRESS, f"A request with this {HEADER} is still being processed; retry shortly."
    )


def idempotent(post):
    """Decorate a batch view's post(request, ...) to honour Idempotency-Key. Outermost of
    the batch decorators: a replay is answered before rate limits count it."""

    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        raw_key = request.headers.get(HEADER)
        if raw_key is None or getattr(request.auth, "company", None) is None:
            return post(view, request, *args, **kwargs)
        try:
            return _run_once(view, request, clean_key(raw_key), post, args, kwargs)
        except RequestError as exc:  # the key's own problems: answered with the headers
            response = view.handle_exception(exc)
            set_current_headers(response, request)
            return response

    return wrapper


def _run_once(view, request, key: str, post, args, kwargs):
    fingerprint = request_fingerprint(request)
    response_key, lock_key = _cache_keys(request, key)
    if replayed := answer_from_store(cache.get(response_key), fingerprint):
        return replayed
    marker = f"{fingerprint}:{secrets.token_hex(8)}"  # ours alone, so we free only ours
    if not cache.add(lock_key, marker, timeout=settings.BATCH_IDEMPOTENCY_LOCK_SECONDS):
        # Another request holds the key, or finished between our two looks.
        if replayed := answer_from_store(cache.get(response_key), fingerprint):
            return replayed
        holder = cache.get(lock_key)
        raise conflict(holder.rpartition(":")[0] if holder else None, fingerprint)

    def keep(response) -> None:
        if (record := stored_form(response, fingerprint)) is not None:
            cache.set(response_key, record, timeout=settings.BATCH_IDEMPOTENCY_TTL_SECONDS)

    accepting = _keep_accepted_job.set(lambda job: keep(accepted(job)))
    try:
        # The holder may have stored its answer and let go just before we took the marker.
        if replayed := answer_from_store(cache.get(response_key), fingerprint):
            return replayed
        try:
            response = post(view, request, *args, **kwargs)
        except Exception as exc:  # a request error is an answer like any other: keep it
            response = view.handle_exception(exc)
        keep(response)  # the whole answer, over the job's early one
        return response
    finally:
        _keep_accepted_job.reset(accepting)
        if cache.get(lock_key) == marker:  # a marker that expired may now be another's
            cache.delete(lock_key)


# While a request with a key runs: keeps the answer for a job it has stored.
_keep_accepted_job: ContextVar[Callable[[BatchJob], None] | None] = ContextVar(
    "keep_accepted_job", default=None
)


def accepted(job: BatchJob) -> Response:
    """The answer a request that stored `job` gives (without its rate-limit headers)."""
    return Response(job_accepted_response(job), status=202)


@receiver(job_stored, dispatch_uid="batch.api.idempotency.keep_accepted_job")
def keep_accepted_job(sender, job: BatchJob, **kwargs) -> None:
    if (keep := _keep_accepted_job.get()) is not None:
        keep(job)
