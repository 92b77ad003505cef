"""Per-company rate limits for batch POSTs, shared by every process through the cache.

Two policies, both settings read from the environment: BATCH_RATE_LIMIT ("10/min") for
every batch request, and BATCH_LARGE_RATE_LIMIT ("5/min") in addition for batches of more
than BATCH_LARGE_BATCH_RECORDS (100) operations.

Fixed windows aligned to the clock. A window's counter is bumped with cache.incr and created
with cache.add, both atomic on Redis (INCR, SET NX EX) and on local memory (under a lock), so
threads and servers sharing Redis together let at most `limit` requests through a window.
Counters are keyed by the company's public id: one company never throttles another.

Every response carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds)
of the policy closest to refusing; a refused request (429) also carries Retry-After and is
not processed."""

import functools
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from batch.engine.codes import RequestCode
from bigledger.errors import RateLimited

RATE_LIMITED = RequestCode.RATE_LIMITED

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_RATE = re.compile(r"(\d+)\s*/\s*(\d*)\s*([a-z]+)")


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @staticmethod
    @lru_cache(maxsize=32)
    def parse(text: str) -> "Rate":
        """Reads the settings' form: "10/min", "5/minute", "100/hour", "1000/day", "20/10s"."""
        match = _RATE.fullmatch(text.strip().lower())
        if not match or match[3] not in _UNITS:
            raise ImproperlyConfigured(f"Rate limit {text!r} is not like '10/min'.")
        return Rate(limit=int(match[1]), period=int(match[2] or 1) * _UNITS[match[3]])


@dataclass(frozen=True)
class Policy:
    name: str
    rate: Rate


def standard_policy() -> Policy:
    return Policy("batch", Rate.parse(settings.BATCH_RATE_LIMIT))


def large_batch_policy() -> Policy:
    return Policy("large-batch", Rate.parse(settings.BATCH_LARGE_RATE_LIMIT))


@dataclass(frozen=True)
class Decision:
    """Where one policy stands for one company after (or without) counting a request."""

    policy: Policy
    count: int
    reset_at: float  # epoch seconds: the end of the window

    @property
    def limit(self) -> int:
        return self.policy.rate.limit

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit

    @property
    def remaining(self) -> int:
        return max(self.limit - self.count, 0)

    def reset_after(self, now: float | None = None) -> int:
        """Whole seconds until the window ends, at least 1."""
        return max(1, math.ceil(self.reset_at - (clock() if now is None else now)))

    def reset_time(self) -> datetime:
        return datetime.fromtimestamp(self.reset_at, tz=UTC)


def clock() -> float:
    return time.time()


def _window(company, policy: Policy, now: float) -> tuple[str, float]:
    period = policy.rate.period
    window = int(now // period)
    key = f"batch-rate:{company.public_id}:{policy.name}:{period}:{window}"
    return key, (window + 1) * period


def hit(*, company, policy: Policy) -> Decision:
    """Count one request against the company's current window, atomically."""
    now = clock()
    key, reset_at = _window(company, policy, now)
    # The counter outlives its window, so it cannot expire between add and incr.
    timeout = policy.rate.period * 2
    try:
        count = cache.incr(key)
    except ValueError:  # the window's first request
        count = 1 if cache.add(key, 1, timeout=timeout) else cache.incr(key)
    return Decision(policy=policy, count=count, reset_at=reset_at)


def peek(*, company, policy: Policy) -> Decision:
    """The company's standing in the current window, without counting a request."""
    key, reset_at = _window(company, policy, clock())
    return Decision(policy=policy, count=cache.get(key, 0), reset_at=reset_at)


def binding(*decisions: Decision) -> Decision:
    """The decision to report: a refusal if any, else the one with the fewest left."""
    return min(decisions, key=lambda d: (d.allowed, d.remaining, -d.reset_at))


def set_headers(response, decision: Decision) -> None:
    reset_after = decision.reset_after()
    response["RateLimit-Limit"] = str(decision.limit)
    response["RateLimit-Remaining"] = str(decision.remaining)
    response["RateLimit-Reset"] = str(reset_after)
    if not decision.allowed:
        response["Retry-After"] = str(reset_after)


def set_current_headers(response, request) -> None:
    """RateLimit headers for a batch response that was answered without counting (an
    idempotent replay's conflict, say): where the company stands now."""
    company = _company(request)
    if company is not None:
        set_headers(response, peek(company=company, policy=standard_policy()))


def refusal(decision: Decision) -> RateLimited:
    seconds = decision.reset_after()
    return RateLimited(
        RATE_LIMITED,
        f"Rate limit of {decision.limit} {decision.policy.name} requests per "
        f"{decision.policy.rate.period} s reached; retry in {seconds} s.",
        details=[
            {
                "policy": decision.policy.name,
                "limit": decision.limit,
                "windowSeconds": decision.policy.rate.period,
                "retryAfter": seconds,
            }
        ],
    )


def _company(request):
    return getattr(request.auth, "company", None)


def is_large(request, count_operations: Callable | None) -> bool:
    """Whether the large-batch limit applies too. Counting may parse the body: the counting
    function keeps what it parsed on the request, so the view does not parse it again."""
    if count_operations is None:
        return False
    return count_operations(request) > settings.BATCH_LARGE_BATCH_RECORDS


def rate_limited(count_operations: Callable | None = None):
    """Decorate a batch view's post(request, ...): count it against the company's limits,
    answer 429 without processing when over, and put the RateLimit headers on whatever
    the view answers, errors included. `count_operations(request)` returns how many records
    the request carries (for the large-batch limit); without it only the standard limit
    applies. Apply inside `idempotent`, so replays are neither counted nor refused."""

    def decorate(post):
        @functools.wraps(post)
        def wrapper(view, request, *args, **kwargs):
            company = _company(request)
            if company is None:
                return post(view, request, *args, **kwargs)
            decision = hit(company=company, policy=standard_policy())
            try:
                if decision.allowed and is_large(request, count_operations):
                    decision = binding(decision, hit(company=company, policy=large_batch_policy()))
                if not decision.allowed:
                    raise refusal(decision)
                response = post(view, request, *args, **kwargs)
            except Exception as exc:  # answered as DRF would, so it carries the headers too
                response = view.handle_exception(exc)
            set_headers(response, decision)
            return response

        return wrapper

    return decorate
