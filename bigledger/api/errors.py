"""Request-level errors: one exception type, one handler, the seed's envelope.

{"success": false, "error": {"code": ..., "message": ..., "details": [...]}}
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class RequestError(exceptions.APIException):
    """A problem with the request as a whole: nothing in it is processed."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "INVALID_REQUEST"

    def __init__(self, code: str, message: str, *, status_code: int = 400, details=None):
        super().__init__(detail=message, code=code)
        self.code = code
        self.message = message
        self.status_code = status_code
        self.details = details or []


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


def envelope_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "Permission denied.")
    if isinstance(exc, RequestError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
        return response
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _CODES_BY_EXCEPTION if isinstance(exc, cls)), "ERROR")
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(code, "Invalid request.", _flatten(exc.detail))
    else:
        response.data = error_body(code, str(exc.detail))
    return response


def _flatten(detail, field: str = "") -> list[dict]:
    if isinstance(detail, dict):
        return [item for key, value in detail.items() for item in _flatten(value, str(key))]
    if isinstance(detail, list):
        return [item for value in detail for item in _flatten(value, field)]
    return [{"field": field or None, "message": str(detail), "code": getattr(detail, "code", "")}]
