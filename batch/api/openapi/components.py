"""The schema's components: per entity, its data (create, update, delete), operations and
batch request, read from its handler; shared, the batch options, envelopes, results and
error codes (batch.engine.codes)."""

import re

from django.conf import settings

from batch.api.idempotency import IN_PROGRESS, KEY_REUSED
from batch.api.openapi.blocks import (
    BOOLEAN,
    DATETIME,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    enum_schema,
    object_schema,
    ref,
)
from batch.api.openapi.fields import data_schema
from batch.api.ratelimit import RATE_LIMITED
from batch.engine.codes import ErrorCode, FieldCode, RequestCode, Status
from batch.engine.composite import ENTITY_ORDER
from batch.engine.countries import COUNTRY_CODES
from batch.engine.envelope import MATCH_ON, MAX_MATCH_ON, OPTION_DEFAULTS
from batch.engine.handlers import Handler
from batch.models import DeliveryStatus, JobKind, JobMode, JobOutcome, JobStatus, WebhookEvent

# Request-level codes answered outside batch.engine.codes: auth, routing, limits, idempotency.
OTHER_REQUEST_CODES = [
    "UNAUTHORIZED",
    "PERMISSION_ERROR",
    "METHOD_NOT_ALLOWED",
    "NOT_ACCEPTABLE",
    "VALIDATION_ERROR",
    RATE_LIMITED,
    KEY_REUSED,
    IN_PROGRESS,
]


# Per entity ------------------------------------------------------------------------------------


def component_name(entity: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", entity))


def entity_components(handler: type[Handler]) -> dict[str, dict]:
    name = component_name(handler.entity)
    components, variants = {}, {}
    for operation in sorted(handler.operations):
        schema = handler.schema_for(operation)
        if schema is None:
            continue
        data_name = f"{name}{operation.capitalize()}Data"
        components[data_name] = data_schema(schema, partial=operation != "create")
        variant = f"{name}{operation.capitalize()}Operation"
        components[variant] = {
            "type": "object",
            "required": ["operation", "data"],
            "properties": {
                "operation": {"type": "string", "enum": [operation]},
                "referenceId": {
                    "type": "string",
                    "nullable": True,
                    "description": "Your own id for this record, unique in the batch.",
                },
                "data": ref(data_name),
            },
        }
        variants[operation] = ref(variant)
    if len(variants) == 1:
        components[f"{name}Operation"] = next(iter(variants.values()))
    else:
        components[f"{name}Operation"] = {
            "oneOf": list(variants.values()),
            "discriminator": {
                "propertyName": "operation",
                "mapping": {op: schema["$ref"] for op, schema in variants.items()},
            },
        }
    components[f"{name}BatchRequest"] = {
        "type": "object",
        "required": ["operations"],
        "properties": {
            "operations": {
                "type": "array",
                "minItems": 1,
                "maxItems": settings.BATCH_ASYNC_MAX_OPERATIONS,
                "items": ref(f"{name}Operation"),
                "description": f"At most {handler.max_records} in a sync batch; up to "
                f"{settings.BATCH_ASYNC_MAX_OPERATIONS} with options.async.",
            },
            "options": ref("BatchOptions"),
        },
        "additionalProperties": False,
    }
    return components


# Several entities (POST /v1/batch) -------------------------------------------------------------


def composite_components() -> dict[str, dict]:
    operation = object_schema(
        {
            "entity": {"type": "string", "enum": list(ENTITY_ORDER)},
            "operation": {"type": "string", "enum": ["create", "update", "upsert", "delete"]},
            "referenceId": {
                "type": "string",
                "nullable": True,
                "description": "Your id for the operation; other operations name what it "
                'creates as "$ref:<referenceId>".',
            },
            "group": {
                "oneOf": [{"type": "string", "minLength": 1}, {"type": "integer"}],
                "description": "Operations sharing a group succeed together or not at all.",
            },
            "data": {
                **OBJECT,
                "description": "The entity's data for the operation (as in "
                "POST /v1/batch/{entity}); any id of another record may be "
                '"$ref:<referenceId>".',
            },
        },
        required=("entity", "operation", "data"),
        additionalProperties=False,
    )
    sync_limit = settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS
    async_limit = settings.BATCH_ASYNC_MAX_OPERATIONS
    return {
        "CompositeOperation": operation,
        "CompositeBatchRequest": object_schema(
            {
                "operations": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": async_limit,
                    "items": ref("CompositeOperation"),
                    "description": f"At most {sync_limit} answered at once; up to "
                    f"{async_limit} with options.async.",
                },
                "options": ref("BatchOptions"),
            },
            required=("operations",),
            additionalProperties=False,
        ),
        "CompositeRecordResult": {
            "allOf": [
                ref("RecordResult"),
                object_schema(
                    {
                        "entity": STRING,
                        "group": {
                            "type": "string",
                            "description": "The operation's group, as text; absent if none.",
                        },
                    },
                    required=("entity",),
                ),
            ]
        },
    }


# Shared ----------------------------------------------------------------------------------------


def _batch_result(record: str, summary: dict) -> dict:
    return _envelope(
        object_schema(
            {
                "batchId": STRING,
                "status": ref("RecordStatus"),
                **{
                    f"{kind}Records": INTEGER
                    for kind in ("total", "processed", "successful", "failed", "skipped")
                },
                "results": {"type": "array", "items": ref(record)},
                "summary": object_schema({**summary, "validated": INTEGER}),
                "options": ref("BatchOptions"),
                "executionTime": NUMBER,
                "startedAt": DATETIME,
                "completedAt": DATETIME,
            }
        )
    )


def _envelope(data: dict, **extra) -> dict:
    return object_schema({"success": {"type": "boolean", "enum": [True]}, "data": data, **extra})


PAGINATION = object_schema(
    {"page": INTEGER, "pageSize": INTEGER, "totalRecords": INTEGER, "totalPages": INTEGER}
)


def shared_components() -> dict[str, dict]:
    summary = dict.fromkeys(
        ("created", "updated", "deleted", "unchanged", "rolledBack", "errors"), INTEGER
    )
    summary |= {"warnings": INTEGER}
    return {
        "BatchOptions": object_schema(
            {
                **{
                    name: {"type": "boolean", "default": value}
                    for name, value in OPTION_DEFAULTS.items()
                },
                MATCH_ON: {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                    "maxItems": MAX_MATCH_ON,
                    "description": (
                        "The fields an upsert is matched on instead of externalId and the "
                        'natural key (after id), e.g. ["email"] for customers.'
                    ),
                },
            },
            additionalProperties=False,
        ),
        "CountryCode": {
            **enum_schema(sorted(COUNTRY_CODES), "ISO 3166-1 alpha-2; MY when left out."),
            "example": "MY",
        },
        "RequestErrorCode": enum_schema(
            [*RequestCode, *OTHER_REQUEST_CODES], "Why a request as a whole was refused."
        ),
        "RecordErrorCode": enum_schema(ErrorCode, "Why one record failed."),
        "FieldErrorCode": enum_schema(FieldCode, "Why one field of a record is wrong."),
        "RecordStatus": enum_schema(Status, "A record's outcome, or a batch's state."),
        "FieldProblem": object_schema(
            {"field": STRING, "message": STRING, "code": ref("FieldErrorCode")},
            required=("field", "message", "code"),
        ),
        "RecordError": object_schema(
            {
                "code": ref("RecordErrorCode"),
                "message": STRING,
                "field": STRING,
                "details": {"type": "array", "items": ref("FieldProblem")},
                "context": object_schema({"rowNumber": INTEGER, "originalData": OBJECT}),
            },
            required=("code", "message"),
        ),
        "RecordResult": object_schema(
            {
                "index": INTEGER,
                "referenceId": {"type": "string", "nullable": True},
                "operation": {"type": "string", "nullable": True},
                "success": BOOLEAN,
                "status": ref("RecordStatus"),
                "data": {**OBJECT, "description": "The record's id and number at least."},
                "error": ref("RecordError"),
                "warnings": {
                    "type": "array",
                    "items": object_schema({"code": STRING, "message": STRING, "field": STRING}),
                },
            },
            required=("index", "referenceId", "operation", "success", "status"),
        ),
        "BatchResult": _batch_result("RecordResult", summary),
        "CompositeBatchResult": _batch_result("CompositeRecordResult", summary),
        **composite_components(),
        "JobAccepted": _envelope(
            object_schema(
                {
                    "jobId": STRING,
                    "status": enum_schema(JobStatus.values, "The job's state."),
                    "totalRecords": INTEGER,
                    "estimatedCompletion": DATETIME,
                    "progressUrl": STRING,
                    "downloadUrl": {"type": "string", "nullable": True},
                }
            )
        ),
        "JobStatusData": object_schema(
            {
                "jobId": STRING,
                "entity": STRING,
                "mode": enum_schema(JobMode.values, "sync (batch_…) or async (job_…)."),
                "source": STRING,
                "kind": enum_schema(
                    JobKind.values,
                    "What the job was for: api (a JSON batch), import (a file), preview (a "
                    "file run with validateOnly; expires) or retry.",
                ),
                "fileName": {"type": "string", "nullable": True},
                "status": enum_schema(JobStatus.values, "The job's state."),
                "outcome": {
                    "type": "string",
                    "enum": [*JobOutcome.values, None],
                    "nullable": True,
                    "description": "How a finished job ended; null until it has finished.",
                },
                "progress": object_schema(
                    {
                        **{
                            f"{kind}Records": INTEGER
                            for kind in ("total", "processed", "successful", "failed", "skipped")
                        },
                        "percentComplete": NUMBER,
                    }
                ),
                "summary": object_schema(summary),
                "options": ref("BatchOptions"),
                "createdAt": DATETIME,
                "startedAt": DATETIME,
                "estimatedCompletion": DATETIME,
                "completedAt": DATETIME,
                "expiresAt": DATETIME,
                "executionTime": {"type": "number", "nullable": True},
                "cancelRequested": BOOLEAN,
                "retryOf": {"type": "string", "nullable": True},
                "error": {"type": "string", "nullable": True},
                "results": object_schema(
                    {
                        "available": BOOLEAN,
                        "downloadUrl": {"type": "string", "nullable": True},
                        "failedRowsCsvUrl": {"type": "string", "nullable": True},
                        "deletedAt": DATETIME,
                    }
                ),
            }
        ),
        "JobStatus": _envelope(ref("JobStatusData")),
        "JobList": _envelope(
            {"type": "array", "items": ref("JobStatusData")}, pagination=PAGINATION
        ),
        "JobResults": _envelope(
            object_schema(
                {
                    "jobId": STRING,
                    "status": STRING,
                    "complete": BOOLEAN,
                    "results": {"type": "array", "items": ref("RecordResult")},
                }
            ),
            pagination=PAGINATION,
        ),
        "EntityMetrics": object_schema(
            {
                "batches": INTEGER,
                "records": INTEGER,
                "successfulRecords": INTEGER,
                "failedRecords": INTEGER,
                "recordsPerSecond": {"type": "number", "nullable": True},
            }
        ),
        "BatchMetrics": _envelope(
            object_schema(
                {
                    "currentMonth": object_schema(
                        {
                            "totalBatches": INTEGER,
                            "totalRecords": INTEGER,
                            "averageProcessingTime": {"type": "number", "nullable": True},
                            "successRate": {
                                "type": "number",
                                "nullable": True,
                                "description": "Successful / processed records × 100.",
                            },
                        }
                    ),
                    "activeBatches": INTEGER,
                    "queuedBatches": INTEGER,
                    "rateLimits": object_schema({"remaining": INTEGER, "resetTime": DATETIME}),
                    "entities": {"type": "object", "additionalProperties": ref("EntityMetrics")},
                }
            )
        ),
        "Error": object_schema(
            {
                "success": {"type": "boolean", "enum": [False]},
                "error": object_schema(
                    {
                        "code": ref("RequestErrorCode"),
                        "message": STRING,
                        "details": {"type": "array", "items": OBJECT},
                    },
                    required=("code", "message", "details"),
                ),
            },
            required=("success", "error"),
        ),
    }


# Webhooks --------------------------------------------------------------------------------------


def webhook_components() -> dict[str, dict]:
    events = enum_schema(WebhookEvent.values, "A job event a webhook endpoint can receive.")
    endpoint = object_schema(
        {
            "id": STRING,
            "url": STRING,
            "events": {"type": "array", "items": ref("WebhookEvent")},
            "active": BOOLEAN,
            "createdAt": DATETIME,
        }
    )
    delivery = object_schema(
        {
            "id": STRING,
            "event": ref("WebhookEvent"),
            "jobId": {"type": "string", "nullable": True},
            "status": enum_schema(DeliveryStatus.values, "Where the delivery stands."),
            "attempts": INTEGER,
            "lastStatusCode": {"type": "integer", "nullable": True},
            "lastError": {"type": "string", "nullable": True},
            "nextAttemptAt": DATETIME,
            "deliveredAt": DATETIME,
            "createdAt": DATETIME,
            "payload": {**OBJECT, "description": "The JSON body sent, and signed, each attempt."},
        }
    )
    return {
        "WebhookEvent": events,
        "WebhookEndpointInput": object_schema(
            {
                "url": {
                    "type": "string",
                    "maxLength": 2000,
                    "description": "An http or https URL that resolves to a public address.",
                },
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "items": ref("WebhookEvent"),
                    "description": "Every event when left out.",
                },
            },
            required=("url",),
        ),
        "WebhookEndpointData": endpoint,
        "WebhookEndpoint": _envelope(ref("WebhookEndpointData")),
        "WebhookEndpointCreated": _envelope(
            {
                "allOf": [
                    ref("WebhookEndpointData"),
                    object_schema({"secret": {**STRING, "description": "Shown only here."}}),
                ]
            }
        ),
        "WebhookEndpointList": _envelope({"type": "array", "items": ref("WebhookEndpointData")}),
        "WebhookDelivery": delivery,
        "WebhookDeliveryList": _envelope(
            {"type": "array", "items": ref("WebhookDelivery")},
            pagination=object_schema(
                {
                    **PAGINATION["properties"],
                    "next": {"type": "string", "nullable": True},
                    "previous": {"type": "string", "nullable": True},
                }
            ),
        ),
    }
