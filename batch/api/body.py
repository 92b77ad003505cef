"""Reading a request's body: its declared length checked before it is read, and a JSON body
parsed once per request (the rate limiter counts its operations before the view reads it)."""

from django.conf import settings

from batch.engine.codes import RequestCode
from batch.engine.envelope import parse_json
from bigledger.errors import RequestError, TooLarge, UnsupportedFormat


def declared_length(request) -> int:
    """The body's length as the client declares it; a declaration that is not a whole
    number is refused rather than guessed at."""
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except ValueError:
        length = -1
    if length < 0:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            "Content-Length must be a whole number of bytes.",
            details=[{"field": "Content-Length", "message": "Not a whole number."}],
        )
    return length


def check_body_length(request, limit: int | None = None) -> None:
    """Refuse, before the body is read, a body declared longer than `limit` bytes
    (BATCH_MAX_BODY_BYTES by default)."""
    limit = settings.BATCH_MAX_BODY_BYTES if limit is None else limit
    length = declared_length(request)
    if length > limit:
        raise TooLarge(
            RequestCode.PAYLOAD_TOO_LARGE,
            f"The body is {length} bytes; the limit is {limit}.",
            details=[{"size": length, "limit": limit}],
        )


def read_json_body(request) -> object:
    """The JSON body, parsed once per request; a refused body raises the same error each
    time it is asked for."""
    if not hasattr(request, "_batch_json"):
        try:
            request._batch_json = (_parse_json_body(request), None)
        except RequestError as error:
            request._batch_json = (None, error)
    payload, error = request._batch_json
    if error is not None:
        raise error
    return payload


def operation_count(request) -> int:
    """How many operations a JSON batch carries, for the large-batch rate limit. A body the
    view will refuse counts as none: the view answers it."""
    try:
        payload = read_json_body(request)
    except RequestError:
        return 0
    operations = payload.get("operations") if isinstance(payload, dict) else None
    return len(operations) if isinstance(operations, list) else 0


def _parse_json_body(request) -> object:
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedFormat(
            RequestCode.UNSUPPORTED_MEDIA_TYPE, "Send the batch as application/json."
        )
    check_body_length(request)
    return parse_json(request.body)
