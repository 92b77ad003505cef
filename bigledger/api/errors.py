"""The API's error envelope, and the one place a request error becomes an HTTP status.

{"success": false, "error": {"code": ..., "message": ..., "details": [...]}}

Services, jobs, files and the engine raise bigledger.errors.RequestError (or a subclass);
DRF's own exceptions (authentication, parsing, routing) are answered in the same envelope, and
so is what Django or the database refuse of a malformed request only once a view uses it."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from bigledger.errors import (
    Conflict,
    Gone,
    Mismatch,
    NotFound,
    RateLimited,
    RequestError,
    TooLarge,
    UnsupportedFormat,
)

STATUS_BY_ERROR: dict[type[RequestError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    Gone: status.HTTP_410_GONE,
    TooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    UnsupportedFormat: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    Mismatch: status.HTTP_422_UNPROCESSABLE_ENTITY,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
}

_CODES_BY_EXCEPTION = [
    (exceptions.NotAuthenticated, "UNAUTHORIZED"),
    (exceptions.AuthenticationFailed, "UNAUTHORIZED"),
    (exceptions.PermissionDenied, "PERMISSION_ERROR"),
    (exceptions.NotFound, "NOT_FOUND"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE"),
    (exceptions.Throttled, "RATE_LIMITED"),
    (exceptions.ParseError, "INVALID_JSON"),
    (exceptions.ValidationError, "VALIDATION_ERROR"),
]


def error_body(code: str, message: str, details=None) -> dict:
    return {"success": False, "error": {"code": code, "message": message, "details": details or []}}


def status_for(error: RequestError) -> int:
    """The HTTP status of a request error: its kind's, else 400."""
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return status.HTTP_400_BAD_REQUEST


def request_error_response(error: RequestError) -> Response:
    return Response(error_body(error.code, error.message, error.details), status_for(error))


def envelope_exception_handler(exc, context):
    exc = _malformed_request_error(exc, context.get("request")) or exc
    if isinstance(exc, RequestError):
        return request_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "Permission denied.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _CODES_BY_EXCEPTION if isinstance(exc, cls)), "ERROR")
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(code, "Invalid request.", _flatten(exc.detail))
    else:
        response.data = error_body(code, str(exc.detail))
    return response


def _malformed_request_error(exc: Exception, request) -> RequestError | None:
    """The request's own fault behind an error raised deep in a view: PostgreSQL text cannot
    hold a NUL character, so the driver refuses a path or query value carrying one wherever a
    view queries with it; Django cannot read a body whose Content-Length is not a number."""
    if request is None:
        return None
    if isinstance(exc, DataError) and _names_a_nul(request):
        return RequestError(
            "INVALID_REQUEST", "The path or query string contains a NUL character (%00)."
        )
    if isinstance(exc, ValueError) and not _is_whole_number(request.META.get("CONTENT_LENGTH")):
        return RequestError(
            "INVALID_REQUEST",
            "Content-Length must be a whole number of bytes.",
            details=[{"field": "Content-Length", "message": "Not a whole number."}],
        )
    return None


def _names_a_nul(request) -> bool:
    query = request.query_params.lists()
    return "\x00" in request.path or any("\x00" in "".join([k, *v]) for k, v in query)


def _is_whole_number(header: str | None) -> bool:
    try:
        return int(header or 0) >= 0
    except ValueError:
        return False


def _flatten(detail, field: str = "") -> list[dict]:
    if isinstance(detail, dict):
        return [item for key, value in detail.items() for item in _flatten(value, str(key))]
    if isinstance(detail, list):
        return [item for value in detail for item in _flatten(value, field)]
    return [{"field": field or None, "message": str(detail), "code": getattr(detail, "code", "")}]
