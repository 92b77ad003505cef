"""Composite requests (POST /v1/batch) as async jobs: up to BATCH_ASYNC_MAX_OPERATIONS
operations of several entities, in chunks that each run as one composite request.

The request is cut by batch.engine.composite.plan_chunks: groups whole, every chunk after the
chunks it refers to. A chunk runs through batch.engine.stages.run_composite; what it refers to
in earlier chunks arrives as `known` records, read from BatchReference rows that those chunks
wrote in their own transactions — so a job resumed after a killed worker resolves every
"$ref:" exactly as the first attempt would have, and each chunk is still applied once."""

from dataclasses import replace

from django.conf import settings

from batch.engine.codes import Status
from batch.engine.composite import (
    COMPOSITE,
    CompositeRequest,
    plan_chunks,
    stage_steps,
    step_from_json,
    step_json,
)
from batch.engine.envelope import Operation
from batch.engine.records import SUCCESS, Record
from batch.engine.stages import run_composite
from batch.jobs.codec import operation_from_json, operation_json
from batch.jobs.submit import check_async_size, store_job
from batch.models import BatchJob, BatchReference, JobKind
from bigledger.models import Company

KEEP = "keep"  # a stored operation a later chunk refers to


def submit_composite_job(
    *,
    company: Company,
    user,
    request: CompositeRequest,
    source: str = "api",
    kind: str = JobKind.API,
    file_name: str = "",
    retry_of: BatchJob | None = None,
) -> BatchJob:
    check_async_size(len(request.steps))
    chunks = plan_chunks(request.steps, settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS)
    chunk_of = {step.index: position for position, chunk in enumerate(chunks) for step in chunk}
    kept = {
        target
        for chunk in chunks
        for step in chunk
        for target in step.depends_on
        if chunk_of[target] != chunk_of[step.index]
    }
    return store_job(
        company=company,
        user=user,
        entity=COMPOSITE,
        chunks=([_stored(step, kept) for step in chunk] for chunk in chunks),
        options=replace(request.options, run_async=True),
        source=source,
        kind=kind,
        file_name=file_name,
        retry_of=retry_of,
    )


def _stored(step, kept: set[int]) -> dict:
    body = {**operation_json(step.op), **step_json(step)}
    if step.index in kept:
        body[KEEP] = True
    return body


class CompositeChunks:
    """Runs a composite job's chunks (batch.jobs.processing asks it for each chunk)."""

    def __init__(self, job: BatchJob, options):
        self.job = job
        # Stages write for real: a later stage or chunk must see what an earlier one made.
        # validateOnly and rollbackOnError undo the whole job at its end instead.
        self.options = replace(options, validate_only=False, rollback_on_error=False)

    def refresh_statistics(self, done: int) -> None:
        """Tables grow under several entities at once; autovacuum's ANALYZE keeps up."""

    def run(self, raw: list[dict], *, failed_so_far: bool = False) -> tuple[list[dict], bool]:
        """The chunk's results, and whether any record did not go in."""
        steps = [step_from_json(operation_from_json(body), body) for body in raw]
        stage_steps(steps)
        outcome = run_composite(
            company=self.job.company,
            user=self.job.created_by,
            request=CompositeRequest(steps=steps, options=self.options),
            known=self._known(steps),
        )
        self._keep(raw, outcome.records)
        failed = any(record.status not in SUCCESS for record in outcome.records)
        return outcome.results, failed

    def _known(self, steps) -> dict[int, Record]:
        """What this chunk's steps refer to in earlier chunks, as records: one query."""
        inside = {step.index for step in steps}
        wanted = {t for step in steps for t in step.depends_on if t not in inside}
        if not wanted:
            return {}
        known = {}
        for reference in BatchReference.objects.filter(job=self.job, index__in=wanted):
            record = Record(Operation(reference.index, "", None, None, reference.index + 1))
            record.status = Status(reference.status)
            record.data = {"id": reference.public_id} if reference.public_id else None
            known[reference.index] = record
        return known

    def _keep(self, raw: list[dict], records: list[Record]) -> None:
        BatchReference.objects.bulk_create(
            BatchReference(
                job=self.job,
                index=body["index"],
                status=str(record.status),
                public_id=(record.data or {}).get("id", ""),
            )
            for body, record in zip(raw, records, strict=True)
            if body.get(KEEP)
        )
