"""The client: one object holding the key, the server and the transport, with the batch
endpoints (`client.batch.customers.process(...)`), async jobs (`client.jobs`) and the read API
(`client.customers.list()`, `client.invoices.changes(...)`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .batch import Batch
from .config import resolve
from .errors import BigLedgerError
from .jobs import Jobs
from .reading import RESOURCES, Resource
from .transport import Stats, Transport


class BigLedger:
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        async_threshold: int | None = None,
        max_retries: int = 6,
        timeout: tuple[float, float] = (10.0, 600.0),
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """`api_key` and `base_url` default to BIGLEDGER_API_KEY / BIGLEDGER_BASE_URL or the
        config file. `async_threshold`: send more operations than this as async jobs rather
        than sync chunks (None: only when asked, or when all or nothing needs it)."""
        api_key, base_url = resolve(api_key, base_url)
        if not api_key:
            raise BigLedgerError(
                "No API key: pass api_key, set BIGLEDGER_API_KEY, or put api_key in the "
                "config file."
            )
        extra = {"sleep": sleep} if sleep else {}
        self.transport = Transport(
            api_key, base_url, max_retries=max_retries, timeout=timeout, **extra
        )
        self.async_threshold = async_threshold
        self.batch = Batch(self)
        self.jobs = Jobs(self.transport)

    @property
    def stats(self) -> Stats:
        """Requests sent, rate-limit waits, 429s waited out, retries."""
        return self.transport.stats

    def resource(self, name: str) -> Resource:
        return Resource(self.transport, name)

    def __getattr__(self, name: str) -> Resource:
        resource = name.replace("_", "-")
        if resource not in RESOURCES:
            raise AttributeError(name)
        return Resource(self.transport, resource)

    def import_file(self, path: Any, entity: str, **kwargs: Any) -> dict[str, Any]:
        return self.batch.import_file(path, entity, **kwargs)

    def metrics(self) -> dict[str, Any]:
        return self.transport.json("GET", "/v1/batch/metrics")["data"]
