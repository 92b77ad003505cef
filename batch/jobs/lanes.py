"""Which chunks of a job may run at once, on several worker processes.

Operations must apply in request order where order can matter: when two of them name the
same record — the customer an update changes and a later delete removes, the account a
later one takes as its parent, the invoice two payments pay. Each operation's keys are the
values that name records (its own `id`, `externalId` and match fields; the fields its
handler lists in `key_references`, at any depth of its data), stored with its chunk as
8-byte hashes when the job is submitted. A chunk is ready when no earlier chunk still
pending shares one of its keys; ready chunks run in parallel, the others wait their turn.
A hash collision only makes two chunks wait for each other, never the reverse.

What this cannot see: one record named by different keys in two chunks (its id in one,
its number in the other) — those two may apply in either order."""

import hashlib
from array import array
from collections.abc import Iterable
from functools import cache

from django.conf import settings

from batch.engine.composite import COMPOSITE
from batch.engine.envelope import BatchOptions
from batch.engine.handlers import EXTERNAL_ID, Handler
from batch.jobs.liveness import is_postgres
from batch.models import BatchChunk, BatchJob, ChunkStatus

# Pending chunks read, in order, when looking for a ready one: later chunks wait even when
# ready, which bounds the reading and keeps the work close to request order.
WINDOW = 32


def runs_in_parallel(entity: str, options: BatchOptions) -> bool:
    """Whether a job's chunks may run on several processes: not when a failure must stop
    or undo the chunks after it, nor for a composite job (its stages are its order)."""
    return (
        is_postgres()
        and settings.BATCH_JOB_HELPERS > 0
        and entity != COMPOSITE
        and options.continue_on_error
        and not options.rollback_on_error
    )


def operation_keys(handler: type[Handler], data) -> list[str]:
    """The keys an operation's data names, as "kind=value" (values case-folded, so two
    spellings of one email are one key)."""
    if not isinstance(data, dict):
        return []
    keys: list[str] = []
    for field in _own_key_fields(handler):
        value = data.get(field)
        if value is not None:
            _add_key(keys, field, value)
    if handler.key_references:  # most handlers name none: their data is not walked
        _add_references(keys, handler.key_references, data)
    return keys


@cache  # read for every operation of every job
def _own_key_fields(handler: type[Handler]) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(("id", EXTERNAL_ID, *handler.match_fields, *handler.extra_match_fields))
    )


def _add_references(keys: list[str], fields: dict[str, str], data) -> None:
    if isinstance(data, list):
        for value in data:
            _add_references(keys, fields, value)
    elif isinstance(data, dict):
        for field, value in data.items():
            if field in fields:
                _add_key(keys, fields[field], value)
            elif isinstance(value, dict | list):
                _add_references(keys, fields, value)


def _add_key(keys: list[str], kind: str, value) -> None:
    kind_of = type(value)
    if kind_of is str or (kind_of is not bool and isinstance(value, str | int)):
        text = str(value).strip()
        if text:
            keys.append(f"{kind}={text.casefold()}")


def packed_keys(handler: type[Handler], operations: Iterable[dict]) -> bytes:
    """The distinct keys of a chunk's stored operations, as packed signed 8-byte hashes."""
    distinct = {key for body in operations for key in operation_keys(handler, body.get("data"))}
    return array("q", sorted(map(_hash, distinct))).tobytes()


def _hash(key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def unpacked(keys: bytes) -> frozenset[int]:
    values = array("q")
    values.frombytes(bytes(keys))
    return frozenset(values)


def ready_chunk(job: BatchJob) -> BatchChunk | None:
    """Lock and return a pending chunk of the job that may run now, or None when every one
    is running elsewhere or waits for one that is. Call inside the chunk's transaction."""
    pending = job.chunks.filter(status=ChunkStatus.PENDING).order_by("position")
    earlier: set[int] = set()
    for pk, keys in pending.values_list("pk", "keys")[:WINDOW]:
        own = unpacked(keys)
        if earlier.isdisjoint(own):
            chunk = (
                BatchChunk.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=ChunkStatus.PENDING)
                .first()
            )
            if chunk is not None:
                return chunk
        earlier |= own
    return None


def first_pending_chunk(job: BatchJob) -> BatchChunk | None:
    """Lock and return the job's first pending chunk — always ready, nothing before it is
    pending — waiting for the worker running it, if one is, to commit (then it is done and
    this returns the next). None when the job has no pending chunk."""
    while True:
        pk = (
            job.chunks.filter(status=ChunkStatus.PENDING)
            .order_by("position")
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            return None
        chunk = (
            BatchChunk.objects.select_for_update().filter(pk=pk, status=ChunkStatus.PENDING).first()
        )
        if chunk is not None:
            return chunk
