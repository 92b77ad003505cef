"""Request-level errors, free of any web framework.

A RequestError says a request as a whole cannot be done, so nothing in it is processed: a
code (batch.engine.codes.RequestCode and a few others), a message for a person, and
details. Its subclasses say what kind of refusal it is. Services, jobs, file readers and the
engine raise them; the API's exception handler alone turns them into an HTTP status and the
error envelope (bigledger.api.errors), and the admin into form text."""

from typing import Any


class RequestError(Exception):
    """The request is malformed or asks for something that cannot be done as sent."""

    def __init__(self, code: str, message: str, *, details: list[Any] | None = None):
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.details = details or []


class NotFound(RequestError):
    """What the request names does not exist, or not for the caller's company."""


class Conflict(RequestError):
    """The request clashes with the current state of what it names: a job that is still
    running, nothing left to retry, a key another request is using."""


class Mismatch(RequestError):
    """The request contradicts an earlier one it claims to repeat (an idempotency key sent
    again with another body)."""


class Gone(RequestError):
    """What the request names was kept for a while and is no longer: a job's results, past
    their retention."""


class TooLarge(RequestError):
    """The request's body is over a size limit; it was not read."""


class UnsupportedFormat(RequestError):
    """The request's body is not in a format the endpoint takes."""


class RateLimited(RequestError):
    """The company has used its allowance for the current window."""
