"""Keys two batches must not decide on at once.

Two batches that upsert the same key (an external id, a code, an email) each look for it,
both find nothing and both would create it: the unique constraint lets one win and the other
fails. An upsert must instead update what the first created. So a batch takes a transaction
advisory lock on each key it upserts before it looks: the second waits for the first to
commit, then finds its row. Locks are taken in one statement, in sorted order, so two
batches cannot deadlock on them; they are released when the transaction ends."""

import hashlib
from collections.abc import Iterable

from django.db import connection


def lock_key(scope: str, key: str) -> int:
    """A signed 64-bit number for `key` within `scope` (PostgreSQL's advisory lock key). Two
    keys sharing a number only make one batch wait for another."""
    digest = hashlib.blake2b(f"{scope}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_keys(scope: str, keys: Iterable[str]) -> None:
    """Hold `keys` of `scope` ("<company pk>:customers") until the transaction ends.
    PostgreSQL only; SQLite serializes writing transactions anyway."""
    numbers = sorted({lock_key(scope, key) for key in keys})
    if not numbers or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", [numbers]
        )
