"""Sync batches: an entity's handler found, the batch run now, and its record kept."""

from django.conf import settings
from django.db import transaction

from batch.engine.codes import RequestCode
from batch.engine.composite import COMPOSITE, CompositeRequest
from batch.engine.envelope import BatchRequest
from batch.engine.executor import BatchOutcome, run_batch
from batch.engine.handlers import Handler, get_handler
from batch.engine.stages import CompositeOutcome, run_composite
from batch.jobs.codec import dumps
from batch.jobs.submit import preview_expiry
from batch.models import BatchChunk, BatchJob, ChunkStatus, JobKind, JobMode, JobStatus
from bigledger.errors import NotFound, RequestError
from bigledger.models import Company, PublicIdGenerator

SYNC_BATCH_ID = PublicIdGenerator("batch")


def handler_for(entity: str) -> type[Handler]:
    handler = get_handler(entity)
    if handler is None:
        raise NotFound(RequestCode.NOT_FOUND, f"No batch endpoint for '{entity}'.")
    return handler


def check_sync_size(handler: type[Handler], request: BatchRequest) -> None:
    size = len(request.operations)
    if size > handler.max_records:
        raise RequestError(
            RequestCode.BATCH_TOO_LARGE,
            f"A {handler.entity} batch takes at most {handler.max_records} operations; "
            f"this one has {size}. Split it, or send it with options.async=true.",
            details=[{"field": "operations", "max": handler.max_records, "received": size}],
        )


def run_sync_batch(
    *,
    company: Company,
    user,
    entity: str,
    request: BatchRequest,
    source: str = "api",
    kind: str = JobKind.API,
    file_name: str = "",
) -> tuple[BatchJob, BatchOutcome]:
    """Process a batch now and keep its record (a batch_ id) for lists and metrics; `kind`
    and `file_name` say what it was for and which upload it came from."""
    handler = handler_for(entity)
    check_sync_size(handler, request)
    handler.check_options(request.options)
    with transaction.atomic():  # the records and the batch's own record commit together
        outcome = run_batch(
            handler_class=handler,
            company=company,
            user=user,
            operations=request.operations,
            options=request.options,
        )
        job = record_sync_batch(
            company, user, entity, outcome, source, kind=kind, file_name=file_name
        )
        return job, outcome


def run_sync_composite(
    *,
    company: Company,
    user,
    request: CompositeRequest,
    source: str = "api",
    kind: str = JobKind.API,
    file_name: str = "",
) -> tuple[BatchJob, CompositeOutcome]:
    """Process a migration of several entities now (POST /v1/batch) and keep its record."""
    size, limit = len(request.steps), settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS
    if size > limit:
        raise RequestError(
            RequestCode.BATCH_TOO_LARGE,
            f"A batch of several entities takes at most {limit} operations; this one has "
            f"{size}. Send it with options.async=true.",
            details=[{"field": "operations", "max": limit, "received": size}],
        )
    with transaction.atomic():
        outcome = run_composite(company=company, user=user, request=request)
        job = record_sync_batch(
            company, user, COMPOSITE, outcome, source, kind=kind, file_name=file_name
        )
        return job, outcome


def record_sync_batch(
    company, user, entity: str, outcome, source: str, *, kind: str, file_name: str
) -> BatchJob:
    """The batch's own record (a batch_ id), with its results, for lists, metrics and
    GET /v1/batch/jobs/{batchId}/results."""
    counts = outcome.counts
    job = BatchJob.objects.create(
        company=company,
        public_id=SYNC_BATCH_ID(),
        entity=entity,
        mode=JobMode.SYNC,
        source=source,
        kind=kind,
        file_name=file_name,
        expires_at=preview_expiry(kind),
        status=JobStatus.ROLLED_BACK if outcome.rolled_back else JobStatus.COMPLETED,
        options=outcome.options.as_json(),
        created_by=user,
        total_records=counts["totalRecords"],
        processed_records=counts["processedRecords"],
        successful_records=counts["successfulRecords"],
        failed_records=counts["failedRecords"],
        skipped_records=counts["skippedRecords"],
        created_count=counts["created"],
        updated_count=counts["updated"],
        deleted_count=counts["deleted"],
        unchanged_count=counts["unchanged"],
        warning_count=counts["warnings"],
        rolled_back_records=counts["rolledBackRecords"],
        execution_time=outcome.execution_time,
        started_at=outcome.started_at,
        completed_at=outcome.completed_at,
    )
    BatchChunk.objects.create(  # its results, so the batch can be read back and retried
        job=job,
        position=0,
        first_index=0,
        size=len(outcome.records),
        status=ChunkStatus.DONE,
        results=dumps(outcome.results),
        failed_records=counts["failedRecords"],
        completed_at=outcome.completed_at,
    )
    return job
