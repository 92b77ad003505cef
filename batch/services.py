"""Entry points every caller uses (API views, file imports, admin, Celery tasks)."""

from django.db import transaction

from bigledger.api.errors import RequestError
from bigledger.models import Company, PublicIdGenerator

from .codes import RequestCode
from .envelope import BatchRequest, decimal_free
from .executor import BatchOutcome, run_batch
from .handlers import Handler, get_handler
from .models import BatchJob, JobMode, JobStatus

SYNC_BATCH_ID = PublicIdGenerator("batch")


def handler_for(entity: str) -> type[Handler]:
    handler = get_handler(entity)
    if handler is None:
        raise RequestError(
            RequestCode.NOT_FOUND, f"No batch endpoint for '{entity}'.", status_code=404
        )
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
        options=decimal_free(request.options.as_json()),
        created_by=user,
        total_records=counts["totalRecords"],
        processed_records=counts["processedRecords"],
        successful_records=counts["successfulRecords"],
        failed_records=counts["failedRecords"],
        skipped_records=counts["skippedRecords"],
        created_count=counts["created"],
        updated_count=counts["updated"],
        deleted_count=counts["deleted"],
        warning_count=counts["warnings"],
        execution_time=outcome.execution_time,
        started_at=outcome.started_at,
        completed_at=outcome.completed_at,
    )
    return job, outcome


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def batch_response(job: BatchJob, outcome: BatchOutcome) -> dict:
    """The seed's batch response body."""
    counts = outcome.counts
    return {
        "success": True,
        "data": {
            "batchId": job.public_id,
            "status": str(outcome.status),
            "totalRecords": counts["totalRecords"],
            "processedRecords": counts["processedRecords"],
            "successfulRecords": counts["successfulRecords"],
            "failedRecords": counts["failedRecords"],
            "skippedRecords": counts["skippedRecords"],
            "results": [record.result_json() for record in outcome.records],
            "summary": {
                "created": counts["created"],
                "updated": counts["updated"],
                "deleted": counts["deleted"],
                "validated": counts["validated"],
                "rolledBack": counts["rolledBackRecords"],
                "errors": counts["errors"],
                "warnings": counts["warnings"],
            },
            "options": outcome.options.as_json(),
            "executionTime": outcome.execution_time,
            "startedAt": iso(outcome.started_at),
            "completedAt": iso(outcome.completed_at),
        },
    }
