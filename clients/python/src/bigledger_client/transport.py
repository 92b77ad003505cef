"""Every HTTP exchange with BigLedger goes through here, so waiting and retrying live in one
place: before a request that counts against the company's rate limits, wait out a window the
last answer said was used up (`RateLimit-Remaining: 0`, `RateLimit-Reset`); on 429, wait
`Retry-After` and send it again; on a network error, a 5xx or `IDEMPOTENCY_IN_PROGRESS`,
back off exponentially (with jitter) and send it again. Batch requests carry an
Idempotency-Key, so sending one again never applies it twice. No fixed sleeps."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from . import _json
from .errors import ApiError, AuthError, NetworkError, RateLimitedError

USER_AGENT = "bigledger-client-python/0.1.0"
RETRIED_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RateLimit:
    """Where the company stood against its closest rate limit when an answer was sent."""

    limit: int
    remaining: int
    reset: float  # seconds until the window ends, as answered
    seen_at: float  # the client's monotonic clock when the answer arrived

    @staticmethod
    def from_headers(headers: Mapping[str, str], now: float) -> RateLimit | None:
        try:
            return RateLimit(
                limit=int(headers["RateLimit-Limit"]),
                remaining=int(headers["RateLimit-Remaining"]),
                reset=float(headers["RateLimit-Reset"]),
                seen_at=now,
            )
        except (KeyError, ValueError):
            return None

    def wait_before_next(self, now: float) -> float:
        """Seconds to wait before another counted request: none while any is left."""
        if self.remaining > 0:
            return 0.0
        return max(0.0, self.reset - (now - self.seen_at))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds (the API sends seconds, never an HTTP date)."""
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass
class Stats:
    """What the client did on the caller's behalf, for logs and tests."""

    requests: int = 0
    rate_limit_waits: int = 0  # waits for a window the headers said was used up
    throttled: int = 0  # 429 answers, each waited out and sent again
    retries: int = 0  # network errors, 5xx and in-progress keys, each backed off
    waited_seconds: float = 0.0
    history: list[str] = field(default_factory=list)


FilesFactory = Callable[[], Mapping[str, Any]]


class Transport:
    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        max_retries: int = 6,
        max_throttled: int = 30,
        timeout: tuple[float, float] = (10.0, 600.0),
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_throttled = max_throttled
        self.timeout = timeout
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.session = session or requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        )
        self.sleep = sleep
        self.clock = clock
        self.stats = Stats()
        self.rate_limit: RateLimit | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        files: FilesFactory | None = None,
        form: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        counted: bool = False,
    ) -> requests.Response:
        """Send until answered for good; raise ApiError for an error answer, NetworkError when
        the server stays unreachable. `counted`: the request counts against the rate limits."""
        headers = {"Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data: Any = form
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = _json.dumps(body).encode()
        failures = throttled = 0
        while True:
            if counted:
                self._wait_for_window()
            self.stats.requests += 1
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    data=data,
                    files=files() if files else None,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                failures += 1
                if failures > self.max_retries:
                    raise NetworkError(f"{method} {path}: {exc}") from exc
                self._back_off(failures, f"network error: {exc.__class__.__name__}")
                continue
            self._note_rate_limit(response)
            if response.status_code == 429:
                throttled += 1
                self.stats.throttled += 1
                if throttled > self.max_throttled:
                    raise _error(response)
                self._pause(self._throttle_wait(response, throttled), "429 Retry-After")
                self.rate_limit = None  # that wait was the window's end
                continue
            if response.status_code in RETRIED_STATUSES or _in_progress(response):
                failures += 1
                if failures > self.max_retries:
                    if response.status_code >= 500:
                        raise NetworkError(f"{method} {path}: HTTP {response.status_code}")
                    raise _error(response)
                self._back_off(failures, f"HTTP {response.status_code}")
                continue
            if response.status_code >= 400:
                raise _error(response)
            return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return _json.loads(self.request(method, path, **kwargs).content)

    def _note_rate_limit(self, response: requests.Response) -> None:
        seen = RateLimit.from_headers(response.headers, self.clock())
        if seen is not None:
            self.rate_limit = seen

    def _wait_for_window(self) -> None:
        if self.rate_limit is None:
            return
        wait = self.rate_limit.wait_before_next(self.clock())
        if wait > 0:
            self.stats.rate_limit_waits += 1
            # A hair past the window's end: windows are aligned to the server's clock.
            self._pause(wait + 0.25, "RateLimit-Remaining: 0")
        self.rate_limit = None

    def _throttle_wait(self, response: requests.Response, attempt: int) -> float:
        seconds = retry_after(response.headers)
        if seconds is None:
            return self._backoff_seconds(attempt)
        return seconds + 0.25

    def _back_off(self, attempt: int, why: str) -> None:
        self.stats.retries += 1
        self._pause(self._backoff_seconds(attempt), why)

    def _backoff_seconds(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff * 2 ** (attempt - 1))
        return ceiling * (0.5 + random.random() / 2)

    def _pause(self, seconds: float, why: str) -> None:
        self.stats.waited_seconds += seconds
        self.stats.history.append(f"waited {seconds:.2f} s: {why}")
        self.sleep(seconds)


def _in_progress(response: requests.Response) -> bool:
    return response.status_code == 409 and _code(response) == "IDEMPOTENCY_IN_PROGRESS"


def _code(response: requests.Response) -> str | None:
    try:
        return _json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def _error(response: requests.Response) -> ApiError:
    try:
        error = _json.loads(response.content)["error"]
        code, message, details = error["code"], error.get("message", ""), error.get("details")
    except (ValueError, KeyError, TypeError):
        code, message, details = f"HTTP_{response.status_code}", response.text[:500], None
    kind = ApiError
    if response.status_code in (401, 403):
        kind = AuthError
    elif response.status_code == 429:
        kind = RateLimitedError
    return kind(response.status_code, code, message, details)
