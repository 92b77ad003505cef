"""Reading data back: a resource's rows page after page, one record, and the change feed
(and deletions) followed by cursor, with the cursor to resume from tomorrow kept on the
feed once it is read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .transport import Transport

RESOURCES = frozenset(
    {
        "customers",
        "suppliers",
        "accounts",
        "tax-codes",
        "journal-entries",
        "invoices",
        "bills",
        "payments",
        "items",
        "locations",
        "stock-adjustments",
    }
)
Row = dict[str, Any]


class Resource:
    def __init__(self, transport: Transport, name: str) -> None:
        if name not in RESOURCES:
            raise ValueError(f"No resource {name!r}; one of {', '.join(sorted(RESOURCES))}.")
        self._transport = transport
        self.name = name

    def list(self, *, page_size: int = 500, **filters: Any) -> Iterator[Row]:
        """Every row matching the filters (`email=`, `externalId=` …), page after page."""
        page = 1
        while True:
            params = {**filters, "page": page, "pageSize": page_size}
            answer = self._transport.json("GET", f"/v1/{self.name}", params=params)
            yield from answer["data"]
            if page >= answer["pagination"]["totalPages"]:
                return
            page += 1

    def get(self, record_id: str) -> Row:
        return self._transport.json("GET", f"/v1/{self.name}/{record_id}")["data"]

    def changes(
        self,
        *,
        updated_since: str | None = None,
        cursor: str | None = None,
        page_size: int = 500,
        **filters: Any,
    ) -> Feed:
        """The rows changed at or after `updated_since` (ISO 8601 with its offset), or after
        `cursor` (a `resume_cursor` kept from an earlier walk), oldest change first."""
        params = {**filters, "pageSize": page_size}
        if cursor:
            params["cursor"] = cursor
        elif updated_since:
            params["updatedSince"] = updated_since
        else:
            raise ValueError("The change feed starts from updated_since or a cursor.")
        return Feed(self._transport, f"/v1/{self.name}", params)

    def deleted(
        self, *, since: str | None = None, cursor: str | None = None, page_size: int = 500
    ) -> Feed:
        """The resource's deletions (`{id, externalId, deletedAt}`) at or after `since`."""
        params: dict[str, Any] = {"pageSize": page_size}
        if cursor:
            params["cursor"] = cursor
        elif since:
            params["since"] = since
        return Feed(self._transport, f"/v1/{self.name}/deleted", params)


class Feed:
    """Iterate it for the rows; afterwards `resume_cursor` is where to pick up next time."""

    def __init__(self, transport: Transport, path: str, params: dict[str, Any]) -> None:
        self._transport = transport
        self._path = path
        self._params = params
        self.resume_cursor: str | None = params.get("cursor")

    def __iter__(self) -> Iterator[Row]:
        params = dict(self._params)
        while True:
            answer = self._transport.json("GET", self._path, params=params)
            yield from answer["data"]
            pagination = answer["pagination"]
            self.resume_cursor = pagination.get("resumeCursor") or self.resume_cursor
            if not pagination.get("nextCursor"):
                return
            params = {"cursor": pagination["nextCursor"], "pageSize": params["pageSize"]}
