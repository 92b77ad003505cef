"""The batch API in OpenAPI 3 (drf-spectacular), generated from the registered handlers.

Each entity's `data` is described from its handler's parsing schemas (create, update,
delete), so the documented fields, types, limits and choices are the ones enforced. The
generic `POST /v1/batch/{entity}` becomes one path per registered entity, each with its own
request body; the envelopes, results and error codes (batch.codes) are shared components."""

import copy
import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from batch.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from batch.api.idempotency import IN_PROGRESS, KEY_REUSED, REPLAYED_HEADER
from batch.api.ratelimit import RATE_LIMITED
from batch.engine import fields as parsing
from batch.engine.codes import ErrorCode, FieldCode, RequestCode, Status
from batch.engine.envelope import OPTION_DEFAULTS
from batch.engine.handlers import Handler, registered_handlers
from batch.models import JobMode, JobStatus

GENERIC_BATCH_PATH = "/v1/batch/{entity}"
# Request-level codes answered outside batch.codes: auth, routing, limits, idempotency.
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


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


# Parsers (batch.schema) as JSON Schema ------------------------------------------------------


def _closure(parse) -> dict[str, Any]:
    """The values a parser factory baked into the parser it returned."""
    cells = parse.__closure__ or ()
    return {
        name: cell.cell_contents
        for name, cell in zip(parse.__code__.co_freevars, cells, strict=True)
    }


def _number(bound: dict, places: int) -> dict:
    schema: dict[str, Any] = {
        "type": "number",
        "description": f"An exact decimal with at most {places} decimal places.",
    }
    if bound.get("minimum", 0) is not None:  # quantities are never negative
        schema["minimum"] = float(bound.get("minimum", 0))
    if bound.get("positive"):
        schema.update(minimum=0, exclusiveMinimum=True)
    return schema


def _text(bound: dict) -> dict:
    schema = {"type": "string", "maxLength": bound["max_length"]}
    if not bound.get("blank", True):
        schema["minLength"] = 1
    return schema


_FACTORIES = {
    "text": _text,
    "money": lambda bound: _number(bound, 2),
    "quantity": lambda bound: _number(bound, bound.get("places", 4)),
    "integer": lambda bound: {
        "type": "integer",
        "minimum": bound["minimum"],
        "maximum": bound["maximum"],
    },
    "choice": lambda bound: {"type": "string", "enum": list(bound["allowed"])},
}

_PARSERS = {
    parsing.email: {"type": "string", "format": "email", "maxLength": 254},
    parsing.phone: {
        "type": "string",
        "maxLength": 30,
        "description": "An optional + and 7 to 15 digits; spaces, dashes, dots and brackets "
        "are ignored.",
    },
    parsing.date: {"type": "string", "format": "date"},
    parsing.boolean: {"type": "boolean"},
    parsing.reference: {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "description": "A public id or the natural key (number or code).",
    },
    parsing.country: ref("CountryCode"),
}


def parser_schema(parse) -> dict:
    """JSON Schema for one field parser: the batch.schema parsers and factories are known;
    anything else is described by its docstring."""
    if parse in _PARSERS:
        return copy.deepcopy(_PARSERS[parse])
    factory = parse.__qualname__.split(".<locals>.")[0]
    if parse.__module__ == parsing.__name__ and factory in _FACTORIES:
        return _FACTORIES[factory](_closure(parse))
    doc = (parse.__doc__ or "").strip().splitlines()
    return {"description": doc[0]} if doc else {}


def field_schema(spec, *, partial: bool) -> dict:
    if isinstance(spec, parsing.Nested):
        return data_schema(spec.schema, partial=partial)
    if isinstance(spec, parsing.ListOf):
        # Items of a list are always whole objects, even in an update.
        schema = {"type": "array", "items": data_schema(spec.schema, partial=False)}
        schema.update(minItems=spec.min_items, maxItems=spec.max_items)
        return schema
    schema = parser_schema(spec.parse)
    if spec.label:
        schema.setdefault("description", spec.label)
    return schema


def nullable(schema: dict) -> dict:
    # OpenAPI 3.0 ignores keywords beside a $ref, so a shared component is wrapped.
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def data_schema(schema: parsing.Schema, *, partial: bool) -> dict:
    """An object of the schema's fields; unknown fields are refused. A field that is not
    required may be null (sent to clear it); in an update nothing is required."""
    properties = {}
    for name, spec in schema.fields.items():
        properties[name] = field_schema(spec, partial=partial)
        if not spec.required:
            properties[name] = nullable(properties[name])
    body: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    required = [name for name, spec in schema.fields.items() if spec.required]
    if required and not partial:
        body["required"] = required
    return body


# Components per entity -----------------------------------------------------------------------


def component_name(entity: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", entity))


def entity_components(handler: type[Handler]) -> dict[str, dict]:
    name = component_name(handler.entity)
    components, variants = {}, {}
    for operation in sorted(handler.operations):
        schema = getattr(handler, f"{operation}_schema", None)
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


# Shared components ----------------------------------------------------------------------------


def _enum(values, description: str) -> dict:
    return {"type": "string", "enum": [str(value) for value in values], "description": description}


def _object(properties: dict, required=(), **extra) -> dict:
    body = {"type": "object", "properties": properties, **extra}
    if required:
        body["required"] = list(required)
    return body


INTEGER, NUMBER, BOOLEAN = {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
STRING, OBJECT = {"type": "string"}, {"type": "object", "additionalProperties": True}
DATETIME = {"type": "string", "format": "date-time", "nullable": True}


def _envelope(data: dict, **extra) -> dict:
    return _object({"success": {"type": "boolean", "enum": [True]}, "data": data, **extra})


PAGINATION = _object(
    {"page": INTEGER, "pageSize": INTEGER, "totalRecords": INTEGER, "totalPages": INTEGER}
)


def shared_components() -> dict[str, dict]:
    summary = dict.fromkeys(("created", "updated", "deleted", "rolledBack", "errors"), INTEGER)
    summary |= {"warnings": INTEGER}
    return {
        "BatchOptions": _object(
            {
                name: {"type": "boolean", "default": value}
                for name, value in OPTION_DEFAULTS.items()
            },
            additionalProperties=False,
        ),
        "CountryCode": {
            **_enum(sorted(parsing.COUNTRY_CODES), "ISO 3166-1 alpha-2; MY when left out."),
            "example": "MY",
        },
        "RequestErrorCode": _enum(
            [*RequestCode, *OTHER_REQUEST_CODES], "Why a request as a whole was refused."
        ),
        "RecordErrorCode": _enum(ErrorCode, "Why one record failed."),
        "FieldErrorCode": _enum(FieldCode, "Why one field of a record is wrong."),
        "RecordStatus": _enum(Status, "A record's outcome, or a batch's state."),
        "FieldProblem": _object(
            {"field": STRING, "message": STRING, "code": ref("FieldErrorCode")},
            required=("field", "message", "code"),
        ),
        "RecordError": _object(
            {
                "code": ref("RecordErrorCode"),
                "message": STRING,
                "field": STRING,
                "details": {"type": "array", "items": ref("FieldProblem")},
                "context": _object({"rowNumber": INTEGER, "originalData": OBJECT}),
            },
            required=("code", "message"),
        ),
        "RecordResult": _object(
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
                    "items": _object({"code": STRING, "message": STRING, "field": STRING}),
                },
            },
            required=("index", "referenceId", "operation", "success", "status"),
        ),
        "BatchResult": _envelope(
            _object(
                {
                    "batchId": STRING,
                    "status": ref("RecordStatus"),
                    **{
                        f"{kind}Records": INTEGER
                        for kind in ("total", "processed", "successful", "failed", "skipped")
                    },
                    "results": {"type": "array", "items": ref("RecordResult")},
                    "summary": _object({**summary, "validated": INTEGER}),
                    "options": ref("BatchOptions"),
                    "executionTime": NUMBER,
                    "startedAt": DATETIME,
                    "completedAt": DATETIME,
                }
            )
        ),
        "JobAccepted": _envelope(
            _object(
                {
                    "jobId": STRING,
                    "status": _enum(JobStatus.values, "The job's state."),
                    "totalRecords": INTEGER,
                    "estimatedCompletion": DATETIME,
                    "progressUrl": STRING,
                    "downloadUrl": {"type": "string", "nullable": True},
                }
            )
        ),
        "JobStatusData": _object(
            {
                "jobId": STRING,
                "entity": STRING,
                "mode": _enum(JobMode.values, "sync (batch_…) or async (job_…)."),
                "source": STRING,
                "status": _enum(JobStatus.values, "The job's state."),
                "progress": _object(
                    {
                        **{
                            f"{kind}Records": INTEGER
                            for kind in ("total", "processed", "successful", "failed", "skipped")
                        },
                        "percentComplete": NUMBER,
                    }
                ),
                "summary": _object(summary),
                "options": ref("BatchOptions"),
                "createdAt": DATETIME,
                "startedAt": DATETIME,
                "estimatedCompletion": DATETIME,
                "completedAt": DATETIME,
                "executionTime": {"type": "number", "nullable": True},
                "cancelRequested": BOOLEAN,
                "retryOf": {"type": "string", "nullable": True},
                "error": {"type": "string", "nullable": True},
                "results": _object(
                    {
                        "available": BOOLEAN,
                        "downloadUrl": {"type": "string", "nullable": True},
                        "failedRowsCsvUrl": {"type": "string", "nullable": True},
                    }
                ),
            }
        ),
        "JobStatus": _envelope(ref("JobStatusData")),
        "JobList": _envelope(
            {"type": "array", "items": ref("JobStatusData")}, pagination=PAGINATION
        ),
        "JobResults": _envelope(
            _object(
                {
                    "jobId": STRING,
                    "status": STRING,
                    "complete": BOOLEAN,
                    "results": {"type": "array", "items": ref("RecordResult")},
                }
            ),
            pagination=PAGINATION,
        ),
        "EntityMetrics": _object(
            {
                "batches": INTEGER,
                "records": INTEGER,
                "successfulRecords": INTEGER,
                "failedRecords": INTEGER,
                "recordsPerSecond": {"type": "number", "nullable": True},
            }
        ),
        "BatchMetrics": _envelope(
            _object(
                {
                    "currentMonth": _object(
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
                    "rateLimits": _object({"remaining": INTEGER, "resetTime": DATETIME}),
                    "entities": {"type": "object", "additionalProperties": ref("EntityMetrics")},
                }
            )
        ),
        "Error": _object(
            {
                "success": {"type": "boolean", "enum": [False]},
                "error": _object(
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


# View annotations ------------------------------------------------------------------------------

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
        str,
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
job_list_schema = extend_schema(
    operation_id="batch_jobs_list",
    summary="The company's jobs and sync batches",
    tags=["batch jobs"],
    parameters=[
        OpenApiParameter("status", str, enum=JobStatus.values),
        OpenApiParameter("entity", str),
        OpenApiParameter("mode", str, enum=JobMode.values),
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
    summary="A job's per-record results (JSON pages, or ?format=csv for the failed rows)",
    tags=["batch jobs"],
    parameters=[
        OpenApiParameter("status", str, enum=[str(s) for s in Status]),
        OpenApiParameter("format", str, enum=["json", "csv"]),
        OpenApiParameter("page", int),
        OpenApiParameter("pageSize", int),
    ],
    responses={200: ref("JobResults"), **_errors(400, 401, 404)},
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
        "application/json": _object(
            {"corrections": OBJECT, "options": ref("BatchOptions")}, additionalProperties=False
        )
    },
    responses={202: ref("JobAccepted"), **_errors(400, 401, 404, 409, 415, 422, 429)},
)
metrics_schema = extend_schema(
    summary="Batch metrics for the company",
    tags=["batch"],
    parameters=_LIMIT_HEADERS,
    responses={200: ref("BatchMetrics"), **_errors(401)},
)


# File imports and templates ---------------------------------------------------------------------

_FILE_IMPORT_FORM = _object(
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
        "by the reference column, and an optional operation column (create, update, delete). "
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

# The hook --------------------------------------------------------------------------------------


def entity_operation(generic: dict, handler: type[Handler]) -> dict:
    operation = copy.deepcopy(generic)
    name = component_name(handler.entity)
    operation["operationId"] = f"batch_{handler.entity.replace('-', '_')}"
    operation["summary"] = f"Batch of {handler.entity}"
    operation["description"] = (
        f"Operations: {', '.join(sorted(handler.operations))}. At most "
        f"{handler.max_records} per sync batch; larger batches go with options.async."
    )
    operation["parameters"] = [
        p for p in operation.get("parameters", []) if (p["in"], p["name"]) != ("path", "entity")
    ]
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": ref(f"{name}BatchRequest")}},
    }
    return operation


def postprocess_batch_schema(result, generator, request, public):
    """drf-spectacular hook: add the batch components and one path per entity."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(copy.deepcopy(shared_components()))
    handlers = sorted(registered_handlers().items())
    for _, handler in handlers:
        schemas.update(copy.deepcopy(entity_components(handler)))
    generic = result.get("paths", {}).pop(GENERIC_BATCH_PATH, None)
    if generic is not None:
        for entity, handler in handlers:
            operation = entity_operation(generic["post"], handler)
            result["paths"][f"/v1/batch/{entity}"] = {"post": operation}
        result["paths"] = dict(sorted(result["paths"].items()))
    return result
