"""The extend_schema decorators of the batch views: summaries, headers, request bodies and
answers. The per-entity request bodies are added by hooks.py."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from batch.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from batch.api.idempotency import MAX_KEY_LENGTH, REPLAYED_HEADER
from batch.api.openapi.blocks import OBJECT, object_schema, ref
from batch.engine.codes import Status
from batch.models import JobKind, JobMode, JobStatus

# On every answer of the view; a 401 comes before it, from authentication.
_ANSWERS = [200, 202, 400, 404, 409, 413, 415, 422, 429]
_LIMIT_HEADERS = [
    OpenApiParameter(name, int, OpenApiParameter.HEADER, response=_ANSWERS, description=text)
    for name, text in (
        ("RateLimit-Limit", "Requests allowed in the window of the policy nearest its limit."),
        ("RateLimit-Remaining", "Requests left in that window."),
        ("RateLimit-Reset", "Seconds until that window ends."),
    )
]
_BATCH_POST_HEADERS = [
    OpenApiParameter(
        IDEMPOTENCY_HEADER,
        {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
        OpenApiParameter.HEADER,
        description="Replays the first answer to a retry within 24 h instead of processing "
        "again; the same key with another body is 422, while the first is running 409.",
    ),
    *_LIMIT_HEADERS,
    OpenApiParameter(
        "Retry-After", int, OpenApiParameter.HEADER, response=[429], description="Seconds."
    ),
    OpenApiParameter(
        REPLAYED_HEADER,
        str,
        OpenApiParameter.HEADER,
        response=[200, 202],
        description="true "
        "when the answer is the stored one of an earlier request with the same key.",
    ),
]


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ref("Error")) for code in codes}


batch_post_schema = extend_schema(
    summary="Process a batch of operations",
    tags=["batch"],
    parameters=_BATCH_POST_HEADERS,
    request={"application/json": OBJECT},
    responses={
        200: OpenApiResponse(ref("BatchResult"), description="A processed sync batch."),
        202: OpenApiResponse(ref("JobAccepted"), description="An accepted async job."),
        **_errors(400, 401, 404, 409, 413, 415, 422, 429),
    },
)
composite_post_schema = extend_schema(
    operation_id="batch_composite",
    summary="Process operations of several entities that refer to each other",
    description='Each operation names its `entity`; `"$ref:<referenceId>"` stands for the id '
    "of what another operation of the request creates; operations sharing a `group` succeed "
    "together or not at all (docs/api.md, Migrations in one request).",
    tags=["batch"],
    parameters=_BATCH_POST_HEADERS,
    request={"application/json": ref("CompositeBatchRequest")},
    responses={
        200: OpenApiResponse(ref("CompositeBatchResult"), description="A processed batch."),
        202: OpenApiResponse(ref("JobAccepted"), description="An accepted async job."),
        **_errors(400, 401, 409, 413, 415, 422, 429),
    },
)
job_list_schema = extend_schema(
    operation_id="batch_jobs_list",
    summary="The company's jobs and sync batches",
    tags=["batch jobs"],
    parameters=[
        OpenApiParameter("status", str, enum=JobStatus.values),
        OpenApiParameter("entity", str),
        OpenApiParameter("mode", str, enum=JobMode.values),
        OpenApiParameter(
            "kind",
            str,
            enum=JobKind.values,
            description="Previews are listed only when asked for: ?kind=preview.",
        ),
        OpenApiParameter("page", int),
        OpenApiParameter("pageSize", int),
    ],
    responses={200: ref("JobList"), **_errors(400, 401)},
)
job_detail_schema = extend_schema(
    operation_id="batch_jobs_retrieve",
    summary="A job's progress",
    tags=["batch jobs"],
    responses={200: ref("JobStatus"), **_errors(401, 404)},
)
job_results_schema = extend_schema(
    summary="A job's per-record results (JSON pages, or ?format=csv / xlsx for failed rows)",
    tags=["batch jobs"],
    parameters=[
        OpenApiParameter("status", str, enum=[str(s) for s in Status]),
        OpenApiParameter(
            "format",
            str,
            enum=["json", "csv", "xlsx"],
            description="csv: the failed rows of a batch of one entity; xlsx: of several.",
        ),
        OpenApiParameter("page", int),
        OpenApiParameter("pageSize", int),
    ],
    responses={200: ref("JobResults"), **_errors(400, 401, 404, 410)},
)
job_cancel_schema = extend_schema(
    summary="Ask a job to stop",
    tags=["batch jobs"],
    request=None,
    responses={200: ref("JobStatus"), **_errors(401, 404, 409)},
)
job_retry_schema = extend_schema(
    summary="Run the records that did not go in again, as a new job",
    tags=["batch jobs"],
    parameters=_BATCH_POST_HEADERS,
    request={
        "application/json": object_schema(
            {"corrections": OBJECT, "options": ref("BatchOptions")}, additionalProperties=False
        )
    },
    responses={202: ref("JobAccepted"), **_errors(400, 401, 404, 409, 410, 415, 422, 429)},
)
metrics_schema = extend_schema(
    summary="Batch metrics for the company",
    tags=["batch"],
    parameters=[
        *_LIMIT_HEADERS,
        OpenApiParameter(
            "kind",
            str,
            enum=JobKind.values,
            description="Previews are counted only when asked for: ?kind=preview.",
        ),
    ],
    responses={200: ref("BatchMetrics"), **_errors(401)},
)


# File imports and templates ---------------------------------------------------------------------

_FILE_IMPORT_FORM = object_schema(
    {
        "file": {"type": "string", "format": "binary", "description": "The file (required)."},
        "mapping": {
            "type": "string",
            "description": 'JSON {"apiField": "column"}, dotted for nested and line fields '
            '("address.city", "items.quantity"); "_ignore": [columns] skips columns. Without '
            "it the header row names the fields (the template's headers, snake_case or spaced "
            "names too). An unknown column is a 400 INVALID_MAPPING.",
        },
        "options": {
            "type": "string",
            "description": "JSON of the batch options; async=true makes a job even of a "
            "small file.",
        },
    },
    required=("file",),
)


def _file_import_schema(what: str) -> Any:
    return extend_schema(
        summary=f"Import a {what} of records",
        description="One row per record; entities with lines take one row per line, grouped "
        "by the reference column, and an optional operation column (create, update, upsert, "
        "delete). "
        "A file that fits in one batch of the entity maximum is processed now (200); a "
        "larger one, up to BATCH_FILE_MAX_ROWS rows, or one sent with options.async, becomes "
        "an async job (202). Results give the spreadsheet row (header = row 1) as "
        "context.rowNumber.",
        tags=["batch files"],
        parameters=_BATCH_POST_HEADERS,
        request={"multipart/form-data": _FILE_IMPORT_FORM},
        responses={
            200: OpenApiResponse(ref("BatchResult"), description="A processed sync batch."),
            202: OpenApiResponse(ref("JobAccepted"), description="An accepted async job."),
            **_errors(400, 401, 404, 409, 413, 415, 422, 429),
        },
    )


import_csv_schema = _file_import_schema("CSV file (UTF-8, cp1252; comma, semicolon or tab)")
import_excel_schema = _file_import_schema("Excel workbook (.xlsx; the Data sheet, or the first)")
csv_template_schema = extend_schema(
    operation_id="batch_template_csv_retrieve",
    summary="The CSV template of an entity",
    tags=["batch files"],
    responses={
        (200, "text/csv"): OpenApiResponse(
            {"type": "string"}, description="Header row and an example; uploads back as is."
        ),
        **_errors(401, 404),
    },
)
excel_template_schema = extend_schema(
    summary="The Excel template of an entity",
    tags=["batch files"],
    responses={
        (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): (
            OpenApiResponse(
                {"type": "string", "format": "binary"},
                description="Instructions, a validated data sheet, the company's codes in "
                "dropdowns; uploads back as is.",
            )
        ),
        **_errors(401, 404),
    },
)

_MIGRATION_FORM = object_schema(
    {
        "file": {"type": "string", "format": "binary", "description": "The file (required)."},
        "options": {
            "type": "string",
            "description": "JSON of the batch options (continueOnError, validateOnly, "
            "rollbackOnError, matchOn), for the whole file.",
        },
    },
    required=("file",),
)


def _migration_import_schema(what: str, kind: str) -> Any:
    return extend_schema(
        operation_id=f"batch_migration_import_{kind}",
        summary=f"Import a migration: {what}",
        description="Every sheet named after an entity, read as that entity's own import "
        "reads its file, runs as one request of several entities (POST /v1/batch): entities "
        "in dependency order, so a sheet names what an earlier sheet creates by its number, "
        "code or external id. Results name each operation's entity; an error's context "
        "gives its sheet and its spreadsheet row (docs/api.md, The migration workbook).",
        tags=["batch files"],
        parameters=_BATCH_POST_HEADERS,
        request={"multipart/form-data": _MIGRATION_FORM},
        responses={
            200: OpenApiResponse(ref("CompositeBatchResult"), description="A processed batch."),
            202: OpenApiResponse(
                ref("JobAccepted"), description="A file of more than a sync request: a job."
            ),
            **_errors(400, 401, 409, 413, 415, 422, 429),
        },
    )


migration_import_csv_schema = _migration_import_schema("a zip of <entity>.csv files", "csv")
migration_import_excel_schema = _migration_import_schema(
    "a workbook of one sheet per entity", "excel"
)
migration_template_schema = extend_schema(
    operation_id="batch_template_excel_migration_retrieve",
    summary="The migration workbook",
    tags=["batch files"],
    responses={
        (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): (
            OpenApiResponse(
                {"type": "string", "format": "binary"},
                description="Instructions, one sheet per entity in the order a migration "
                "runs, dropdowns across sheets; uploads back as is.",
            )
        ),
        **_errors(401),
    },
)


# Webhooks ---------------------------------------------------------------------------------------

webhook_list_schema = extend_schema(
    operation_id="webhooks_list",
    summary="The company's webhook endpoints",
    tags=["webhooks"],
    responses={200: ref("WebhookEndpointList"), **_errors(401, 403)},
)
webhook_create_schema = extend_schema(
    operation_id="webhooks_create",
    summary="Register a webhook endpoint",
    description="Job events are POSTed to the URL, signed with the secret shown only in this "
    "answer.",
    tags=["webhooks"],
    request={"application/json": ref("WebhookEndpointInput")},
    responses={201: ref("WebhookEndpointCreated"), **_errors(400, 401, 403, 415)},
)
webhook_detail_schema = extend_schema(
    operation_id="webhooks_retrieve",
    summary="A webhook endpoint",
    tags=["webhooks"],
    responses={200: ref("WebhookEndpoint"), **_errors(401, 403, 404)},
)
webhook_delete_schema = extend_schema(
    operation_id="webhooks_destroy",
    summary="Delete a webhook endpoint and its delivery log",
    tags=["webhooks"],
    responses={204: OpenApiResponse(description="Deleted."), **_errors(401, 403, 404)},
)
webhook_deliveries_schema = extend_schema(
    operation_id="webhooks_deliveries_list",
    summary="A webhook endpoint's deliveries, newest first",
    tags=["webhooks"],
    parameters=[OpenApiParameter("page", int), OpenApiParameter("pageSize", int)],
    responses={200: ref("WebhookDeliveryList"), **_errors(401, 403, 404)},
)
