"""What can go wrong talking to BigLedger, as exceptions a caller can tell apart: a request
the server refused (with its error code), a rate limit still binding after every wait, and
a server that could not be reached. Records that fail inside a batch are not exceptions:
they are results."""

from __future__ import annotations

from typing import Any


class BigLedgerError(Exception):
    """Base of every error this client raises."""


class ApiError(BigLedgerError):
    """The server answered a request with an error as a whole (`"success": false`)."""

    def __init__(
        self, status: int, code: str, message: str, details: list[Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class AuthError(ApiError):
    """401 or 403: the key is missing, unknown, revoked, or lacks a permission."""


class RateLimitedError(ApiError):
    """429 after every retry the client was allowed."""


class NetworkError(BigLedgerError):
    """The server could not be reached, or kept answering 5xx, after every retry."""
