"""Sync batches: an entity's handler found, the batch run now, and its record kept."""

from django.db import transaction

from batch.engine.codes import RequestCode
from batch.engine.envelope import BatchRequest
from batch.engine.executor import BatchOutcome, run_batch
from batch.engine.handlers import Handler, get_handler
from batch.jobs.codec import dumps
from batch.models import BatchChunk, BatchJob, ChunkStatus, JobMode, JobStatus
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
    *, company: Company, user, entity: str, request: BatchRequest, source: str = "api"
) -> tuple[BatchJob, BatchOutcome]:
    """Process a batch now and keep its record (a batch_ id) for lists and metrics."""
    handler = handler_for(entity)
    check_sync_size(handler, request)
    handler.check_options(request.options)
    with transaction.atomic():  # the records and the batch's own record commit together
        return _run_and_record(company, user, entity, handler, request, source)


def _run_and_record(company, user, entity, handler, request, source):
    outcome = run_batch(
        handler_class=handler,
        company=company,
        user=user,
        operations=request.operations,
        options=request.options,
    )
    counts = outcome.counts
    job = BatchJob.objects.create(
        company=company,
        public_id=SYNC_BATCH_ID(),
        entity=entity,
        mode=JobMode.SYNC,
        source=source,
        status=JobStatus.ROLLED_BACK if outcome.rolled_back else JobStatus.COMPLETED,
        options=request.options.as_json(),
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
    return job, outcome
