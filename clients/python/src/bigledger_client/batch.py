"""Batches as a caller wants them: any number of operations, split into chunks of the
entity's maximum (or sent as async jobs and waited for), and one answer back in input order;
upserts by a key; file imports; a folder of files migrated in dependency order. The chunks
go through runs.py, so each carries its Idempotency-Key and can be resumed from a state
file."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _json
from .runs import (
    ASYNC_MAXIMUM,
    COMPOSITE_MAXIMUM,
    ENTITIES,
    ENTITY_MAXIMA,
    Answer,
    Chunk,
    Progress,
    StateFile,
    fingerprint,
    run_chunks,
    send_chunks,
    split,
)

if TYPE_CHECKING:
    from .client import BigLedger

# The key an entity's upsert matches by without `matchOn`.
NATURAL_KEYS = {
    "customers": "customerNumber",
    "suppliers": "supplierNumber",
    "items": "itemCode",
    "accounts": "code",
    "invoices": "invoiceNumber",
    "bills": "billNumber",
}
FILE_SUFFIXES = (".csv", ".xlsx")
StatePath = str | os.PathLike[str] | None


class _Sender:
    """What process() shares between one entity's endpoint and the composite one."""

    path: str
    sync_maximum: int

    def __init__(self, client: BigLedger) -> None:
        self._client = client

    def process(
        self,
        operations: Iterable[Mapping[str, Any]],
        options: Mapping[str, Any] | None = None,
        *,
        chunk_size: int | None = None,
        state_file: StatePath = None,
        run_id: str | None = None,
        on_progress: Progress | None = None,
    ) -> Answer:
        """Send every operation and answer one merged result (`results` in input order,
        `summary.successful` / `summary.failed` …). Past the sync maximum, or past the
        client's `async_threshold`, or with `options.async`, the operations go as async jobs
        that are waited for. `state_file` makes the run resumable: its chunks' Idempotency-Keys
        derive from the input (and `run_id`, to tell two runs of one input apart), so a run
        started again sends the same keys. Without a state file each call is a run of its own,
        with keys of its own: sending the same operations again processes them again."""
        operations = list(operations)
        if not operations:
            raise ValueError("Nothing to send: operations is empty.")
        options = dict(options or {})
        as_job = self._as_job(len(operations), options, chunk_size)
        size = min(chunk_size or ASYNC_MAXIMUM, ASYNC_MAXIMUM) if as_job else self._size(chunk_size)
        if as_job:
            options["async"] = True
        send = self._send_job if as_job else self._send_sync
        run = fingerprint(self.path, operations, options, size, _run_id(run_id, state_file))
        chunks = [
            Chunk(
                index=number,
                offset=offset,
                count=len(part),
                send=_bind(send, part, options),
                operations=part,
            )
            for number, (offset, part) in enumerate(split(operations, size))
        ]
        return run_chunks(
            chunks,
            run,
            state=StateFile(state_file) if state_file else None,
            on_progress=on_progress,
            stop_after_failure=options.get("continueOnError") is False and not as_job,
        )

    def _size(self, chunk_size: int | None) -> int:
        return min(chunk_size or self.sync_maximum, self.sync_maximum)

    def _as_job(self, count: int, options: Mapping[str, Any], chunk_size: int | None) -> bool:
        if options.get("async"):
            return True
        threshold = self._client.async_threshold
        if threshold is not None and count > threshold:
            return True
        # All or nothing cannot be kept across sync chunks; one job is one transaction.
        return bool(options.get("rollbackOnError")) and count > self._size(chunk_size)

    def _send_sync(self, operations: Sequence[Any], options: Mapping[str, Any], key: str) -> Answer:
        body = {"operations": list(operations), "options": dict(options)}
        answer = self._client.transport.json(
            "POST", self.path, body=body, idempotency_key=key, counted=True
        )
        return answer["data"]

    def _send_job(self, operations: Sequence[Any], options: Mapping[str, Any], key: str) -> Answer:
        job = self._send_sync(operations, options, key)
        jobs = self._client.jobs
        return jobs.outcome(job["jobId"], jobs.wait(job["jobId"]))


def _run_id(run_id: str | None, state_file: StatePath) -> str | None:
    """A resumable run is known by its input; any other is a run of its own."""
    if run_id is not None or state_file:
        return run_id
    return uuid.uuid4().hex


def _bind(
    send: Callable[[Sequence[Any], Mapping[str, Any], str], Answer],
    operations: Sequence[Any],
    options: Mapping[str, Any],
) -> Callable[[str], Answer]:
    return lambda key: send(operations, options, key)


class EntityBatch(_Sender):
    """`client.batch.customers`, `client.batch.journal_entries` …"""

    def __init__(self, client: BigLedger, entity: str) -> None:
        if entity not in ENTITY_MAXIMA:
            raise ValueError(f"No batch entity {entity!r}; one of {', '.join(ENTITIES)}.")
        super().__init__(client)
        self.entity = entity
        self.path = f"/v1/batch/{entity}"
        self.sync_maximum = ENTITY_MAXIMA[entity]

    def upsert(
        self,
        records: Iterable[Mapping[str, Any]],
        key: str = "externalId",
        options: Mapping[str, Any] | None = None,
        **run: Any,
    ) -> Answer:
        """Create what is new and update what is not, matched by `key`: `externalId` (the
        default), `id`, the entity's natural key, or another field it can match on (`email`
        for customers and suppliers)."""
        options = dict(options or {})
        if key not in ("id", "externalId", NATURAL_KEYS.get(self.entity)):
            options["matchOn"] = [key]
        operations = [{"operation": "upsert", "data": dict(record)} for record in records]
        return self.process(operations, options, **run)

    def import_file(
        self,
        path: str | os.PathLike[str],
        *,
        mapping_profile: str | None = None,
        mapping: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        wait: bool = True,
        on_job: Callable[[dict[str, Any]], None] | None = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        """Upload a CSV or .xlsx. A file of one batch answers at once; a larger one becomes a
        job, waited for (`on_job` sees each poll) unless `wait=False`, which answers the job."""
        file = Path(path)
        kind = "excel" if file.suffix.lower() == ".xlsx" else "csv"
        form: dict[str, str] = {}
        if mapping_profile:
            form["mappingProfile"] = mapping_profile
        if mapping:
            form["mapping"] = _json.dumps(mapping)
        if options:
            form["options"] = _json.dumps(options)
        key = (
            idempotency_key
            or "blc-file-" + fingerprint(self.entity, kind, file.name, _digest(file), form)[:48]
        )
        response = self._client.transport.request(
            "POST",
            f"{self.path}/import-{kind}",
            form=form,
            files=lambda: {"file": (file.name, file.open("rb"))},
            idempotency_key=key,
            counted=True,
        )
        answer = _json.loads(response.content)["data"]
        if response.status_code != 202 or not wait:
            return answer
        jobs = self._client.jobs
        return jobs.outcome(answer["jobId"], jobs.wait(answer["jobId"], on_progress=on_job))

    def template(self, *, excel: bool = False) -> bytes:
        """The entity's import template: CSV (header and an example) or the .xlsx workbook."""
        path = (
            f"/v1/batch/templates/excel/{self.entity}"
            if excel
            else f"/v1/batch/{self.entity}/template.csv"
        )
        return self._client.transport.request("GET", path).content


class Batch(_Sender):
    """`client.batch`: the entities as attributes, and `process()` of several entities in
    one request (`POST /v1/batch`, with `$ref`s and groups; never split by the client, since
    its operations refer to each other: past 1,000 operations it goes as one async job)."""

    path = "/v1/batch"
    sync_maximum = COMPOSITE_MAXIMUM

    def __init__(self, client: BigLedger) -> None:
        super().__init__(client)
        self._entities: dict[str, EntityBatch] = {}

    def __getattr__(self, name: str) -> EntityBatch:
        entity = name.replace("_", "-")
        if entity not in ENTITY_MAXIMA:
            raise AttributeError(name)
        return self.entity(entity)

    def entity(self, entity: str) -> EntityBatch:
        if entity not in self._entities:
            self._entities[entity] = EntityBatch(self._client, entity)
        return self._entities[entity]

    def _size(self, chunk_size: int | None) -> int:
        return COMPOSITE_MAXIMUM

    def _as_job(self, count: int, options: Mapping[str, Any], chunk_size: int | None) -> bool:
        return bool(options.get("async")) or count > COMPOSITE_MAXIMUM

    def import_file(self, path: str | os.PathLike[str], entity: str, **kwargs: Any) -> Answer:
        return self.entity(entity).import_file(path, **kwargs)

    def migrate(
        self,
        directory: str | os.PathLike[str],
        *,
        state_file: StatePath = None,
        options: Mapping[str, Any] | None = None,
        on_file: Callable[[str, Path], None] | None = None,
        on_job: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Answer]:
        """Import a folder of files named after their entities (`customers.csv`,
        `invoices.xlsx` …) in dependency order, each answered by entity. With `state_file`,
        a migration started again skips the files that already went in."""
        files = migration_files(directory)
        if not files:
            raise ValueError(f"No entity files ({', '.join(ENTITIES)} .csv/.xlsx) in {directory}.")
        contents = [(entity, _digest(file)) for entity, file in files]
        run = fingerprint("migrate", contents, options, _run_id(None, state_file))

        def importer(entity: str, file: Path) -> Callable[[str], Answer]:
            def send(key: str) -> Answer:
                if on_file:
                    on_file(entity, file)
                return self.import_file(
                    file, entity, options=options, on_job=on_job, idempotency_key=key
                )

            return send

        chunks = [
            Chunk(index=number, offset=number, count=1, send=importer(entity, file))
            for number, (entity, file) in enumerate(files)
        ]
        answers, _ = send_chunks(chunks, run, state=StateFile(state_file) if state_file else None)
        return {entity: answer for (entity, _), answer in zip(files, answers, strict=True)}


def migration_files(directory: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    folder = Path(directory)
    found = []
    for entity in ENTITIES:
        for suffix in FILE_SUFFIXES:
            for name in dict.fromkeys((entity, entity.replace("-", "_"))):
                if (folder / f"{name}{suffix}").is_file():
                    found.append((entity, folder / f"{name}{suffix}"))
    return found


def _digest(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
