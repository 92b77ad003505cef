"""The change feed and the deletions feed: a list read in (timestamp, id) order from a point in
time, paged by an opaque cursor that carries the position (docs/api.md, "Change feed and
deletions").

A position is the last (timestamp, id) a client has seen; a page holds the rows strictly
after it. Pages stop short of the horizon, so a row whose transaction commits late — with a
timestamp earlier than rows the client has already read — is never passed over."""

import base64
import binascii
import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from bigledger.api.pagination import EnvelopePagination

CURSOR_PARAM = "cursor"
_CURSOR_VERSION = "1"
_MAX_ID = 2**63 - 1  # a bigint: a larger id would be the database's error, not the caller's

# The start of the oldest transaction another session of this database has open: it may still
# commit rows stamped from then on. Server processes (autovacuum, replication) write no rows.
_OLDEST_OPEN_TRANSACTION = """
    SELECT coalesce(min(xact_start), statement_timestamp())
    FROM pg_stat_activity
    WHERE datname = current_database()
      AND xact_start IS NOT NULL
      AND pid <> pg_backend_pid()
      AND backend_type = 'client backend'
"""


@dataclass(frozen=True)
class Position:
    """A place in one feed: after the row stamped `at` whose primary key is `id`."""

    feed: str
    at: datetime
    id: int

    def cursor(self) -> str:
        text = "|".join([_CURSOR_VERSION, self.feed, self.at.isoformat(), str(self.id)])
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def from_cursor(cls, feed: str, cursor: str) -> "Position":
        """The position a cursor of this feed carries; 400 for anything else."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            version, named, at, id_ = base64.urlsafe_b64decode(padded).decode().split("|")
            position = cls(feed=named, at=_in_utc(datetime.fromisoformat(at)), id=int(id_))
        except (binascii.Error, UnicodeError, TypeError, ValueError, OverflowError):
            raise _invalid(CURSOR_PARAM, "Not a cursor this API gave.") from None
        if version != _CURSOR_VERSION or not 0 <= position.id <= _MAX_ID:
            raise _invalid(CURSOR_PARAM, "Not a cursor this API gave.")
        if position.feed != feed:
            raise _invalid(CURSOR_PARAM, "This cursor belongs to another list.")
        return position

    @classmethod
    def since(cls, feed: str, param: str, value: str) -> "Position":
        """The position just before everything stamped at or after `value` (ISO 8601)."""
        return cls(feed=feed, at=parse_instant(param, value), id=0)


def parse_instant(param: str, value: str) -> datetime:
    """An ISO 8601 date and time with its UTC offset, in UTC; 400 otherwise. Without an
    offset the instant would depend on a time zone the caller never named."""
    try:
        return _in_utc(parse_datetime(value))
    except (TypeError, ValueError, OverflowError):
        raise _invalid(
            param,
            "Must be an ISO 8601 date and time with its UTC offset, such as "
            "2025-01-31T00:00:00Z or 2025-01-31T08:00:00%2B08:00 (a + encoded as %2B).",
        ) from None


def _in_utc(instant: datetime | None) -> datetime:
    """`instant` in UTC; TypeError when it is missing or has no offset."""
    if instant is None or instant.tzinfo is None:
        raise TypeError("not an instant")
    return instant.astimezone(UTC)


def horizon() -> datetime:
    """The instant before which every row that will ever be stamped has been committed.

    PostgreSQL: the start of the oldest transaction still open in another session (its rows
    are stamped at or after it), else now. The statistics snapshot is cleared first: within a
    transaction PostgreSQL keeps reporting the sessions as they were at its first look.
    Elsewhere (SQLite, one writer at a time) it is now.

    Less CHANGE_FEED_MARGIN_SECONDS: rows are stamped by the application server's clock,
    which may run a little ahead of the database's, and a save outside a transaction is
    stamped a moment before its statement's own transaction begins."""
    margin = timedelta(seconds=settings.CHANGE_FEED_MARGIN_SECONDS)
    if connection.vendor != "postgresql":
        return timezone.now() - margin
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(_OLDEST_OPEN_TRANSACTION)
        return cursor.fetchone()[0] - margin


def _invalid(param: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({param: [message]})


class FeedPagination(EnvelopePagination):
    """Pages a feed: the rows after the request's position (`cursor`, else `since_param`) and
    before the horizon, in (`stamp_field`, id) order, `pageSize` at a time.

    `pagination.nextCursor` continues while rows before the horizon remain (null at the end);
    `pagination.resumeCursor` is where this page ended — a client keeps it to read what
    changes later."""

    stamp_field = "updated_at"
    since_param = "updatedSince"
    feed_kind = "changes"
    since_description = "Only rows changed at or after this instant (ISO 8601 with its offset)."

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list:
        self.request = request
        position = self.requested_position(request, view)
        size = self.get_page_size(request)
        rows = list(self.rows_after(queryset, position, horizon())[: size + 1])
        page, more = rows[:size], len(rows) > size
        self.resume_position = self.position_after(page[-1], view) if page else position
        self.next_position = self.resume_position if more else None
        return page

    def requested_position(self, request, view) -> Position:
        feed = self.feed_name(view)
        if CURSOR_PARAM in request.query_params:
            return Position.from_cursor(feed, request.query_params[CURSOR_PARAM])
        if self.since_param in request.query_params:
            return Position.since(feed, self.since_param, request.query_params[self.since_param])
        return Position(feed=feed, at=datetime.min.replace(tzinfo=UTC), id=0)

    def rows_after(self, queryset: QuerySet, position: Position, before: datetime) -> QuerySet:
        stamp = self.stamp_field
        later = Q(**{f"{stamp}__gt": position.at}) | Q(
            **{stamp: position.at, "pk__gt": position.id}
        )
        return (
            queryset.filter(**{f"{stamp}__gte": position.at, f"{stamp}__lt": before})
            .filter(later)
            .order_by(stamp, "pk")
        )

    def position_after(self, row, view) -> Position:
        return Position(feed=self.feed_name(view), at=getattr(row, self.stamp_field), id=row.pk)

    def feed_name(self, view) -> str:
        return f"{view.model._meta.label_lower}.{self.feed_kind}"

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "success": True,
                "data": data,
                "pagination": {
                    "pageSize": self.get_page_size(self.request),
                    "nextCursor": self.next_position and self.next_position.cursor(),
                    "resumeCursor": self.resume_position.cursor(),
                },
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return self.envelope_schema(schema, copy.deepcopy(FEED_PAGINATION_SCHEMA))

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            self.query_parameter(self.since_param, self.since_description, format="date-time"),
            self.query_parameter(
                CURSOR_PARAM,
                "Continue from a page's nextCursor or resumeCursor; it carries the position.",
            ),
            self.query_parameter(
                self.page_size_query_param, "Rows per page (at most 500).", type="integer"
            ),
        ]

    @staticmethod
    def query_parameter(name: str, description: str, **schema) -> dict:
        return {
            "name": name,
            "required": False,
            "in": "query",
            "description": description,
            "schema": {"type": "string", **schema},
        }


class ChangeFeedPagination(FeedPagination):
    """A synced entity's list: pages by number as always, or — given `updatedSince` or a
    `cursor` — as the change feed."""

    def is_feed(self, request) -> bool:
        params = request.query_params
        return self.since_param in params or CURSOR_PARAM in params

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.feed_mode = self.is_feed(request)
        if self.feed_mode:
            return super().paginate_queryset(queryset, request, view)
        return EnvelopePagination.paginate_queryset(self, queryset, request, view)

    def get_paginated_response(self, data) -> Response:
        if self.feed_mode:
            return super().get_paginated_response(data)
        return EnvelopePagination.get_paginated_response(self, data)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        pages = EnvelopePagination.get_paginated_response_schema(self, schema)
        pages["properties"]["pagination"]["properties"].update(
            copy.deepcopy(FEED_PAGINATION_SCHEMA["properties"])
        )
        return pages

    def get_schema_operation_parameters(self, view) -> list[dict]:
        numbered = EnvelopePagination.get_schema_operation_parameters(self, view)
        feed = super().get_schema_operation_parameters(view)
        named = {parameter["name"] for parameter in numbered}
        return [*numbered, *(p for p in feed if p["name"] not in named)]


class DeletionFeedPagination(FeedPagination):
    """GET /v1/{entity}/deleted: the entity's tombstones after `since` or a cursor."""

    stamp_field = "deleted_at"
    since_param = "since"
    feed_kind = "deleted"
    since_description = "Only records deleted at or after this instant (ISO 8601 with offset)."


_CURSOR_SCHEMA = {"type": "string", "nullable": True}
FEED_PAGINATION_SCHEMA = {
    "type": "object",
    "properties": {
        "pageSize": {"type": "integer"},
        "nextCursor": _CURSOR_SCHEMA,
        "resumeCursor": _CURSOR_SCHEMA,
    },
}


class SyncedSerializer(serializers.ModelSerializer):
    """A record other systems keep in step with (a SyncedModel): its public id, their id for
    it (null when none) and its last change, the change feed's order."""

    id = serializers.CharField(source="public_id", read_only=True)
    externalId = serializers.CharField(source="external_id", read_only=True, allow_null=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class TombstoneSerializer(serializers.Serializer):
    """A deleted record, as the deletions feed lists it."""

    id = serializers.CharField(source="public_id", read_only=True)
    externalId = serializers.CharField(source="external_id", read_only=True, allow_null=True)
    deletedAt = serializers.DateTimeField(source="deleted_at", read_only=True)
