"""The schema of the mapping-profile endpoints: their components (a profile, its columns, the
transformations a column takes, the proposals for a file) and the views' extend_schema
decorators. The transformations are described from batch.files.transforms' own lists."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from batch.api.openapi.blocks import BOOLEAN, DATETIME, INTEGER, NUMBER, STRING, object_schema, ref
from batch.files.proposals import EXACT, NORMALIZED, SIMILAR, SYNONYM, UNMAPPED
from batch.files.transforms import BUILT_IN_MAPS, CASES, LOOKUP_ENTITIES, LOOKUP_FIELDS, TYPES
from batch.services.profiles import MAX_NAME

_TAGS = ["batch files"]
_TEXTS = {"type": "array", "items": STRING}


def _envelope(data: dict) -> dict:
    return object_schema({"success": {"type": "boolean", "enum": [True]}, "data": data})


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ref("Error")) for code in codes}


def profile_components() -> dict[str, dict]:
    transformation = object_schema(
        {
            "type": {"type": "string", "enum": list(TYPES)},
            "to": {"type": "string", "enum": list(CASES), "description": "case: the case."},
            "format": {
                **STRING,
                "description": "date: the cells' format, of DD, D, MM, M, MMM, MMMM, YYYY, YY "
                'and separators ("DD/MM/YYYY", "D MMM YYYY").',
            },
            "decimalComma": {**BOOLEAN, "description": "number: 1.234,56 (default false)."},
            "thousands": {
                **STRING,
                "description": 'number: the thousands separator ("," or "." with '
                "decimalComma; empty for none).",
            },
            "values": {
                "type": "object",
                "additionalProperties": STRING,
                "description": "map: {cell text: value}, whatever the cell's case.",
            },
            "builtIn": {"type": "string", "enum": list(BUILT_IN_MAPS)},
            "value": {
                "oneOf": [STRING, NUMBER, BOOLEAN],
                "description": "default: the value of an empty cell.",
            },
            "separator": {**STRING, "description": "split: where to cut; join: the glue."},
            "into": {**_TEXTS, "minItems": 2, "description": "split: the fields, in order."},
            "columns": {**_TEXTS, "minItems": 1, "description": "join: the columns to add."},
            "entity": {"type": "string", "enum": list(LOOKUP_ENTITIES)},
            "by": {"type": "string", "enum": list(LOOKUP_FIELDS), "description": "lookup."},
        },
        required=("type",),
        description="One transformation of a column's cells; the arguments it takes depend on "
        "its type (docs/api.md, Mapping profiles and transformations).",
    )
    column = object_schema(
        {
            "header": {**STRING, "description": "The file's header."},
            "field": {**STRING, "description": "The field it feeds; blank: ignored."},
            "transforms": {"type": "array", "items": ref("Transformation")},
        },
        required=("header",),
    )
    profile = object_schema(
        {
            "id": INTEGER,
            "entity": STRING,
            "name": STRING,
            "columns": {"type": "array", "items": ref("MappingColumn")},
            "headersKey": {**STRING, "description": "The same for files with the same headers."},
            "createdAt": DATETIME,
            "updatedAt": DATETIME,
        }
    )
    name = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
    columns = {"type": "array", "minItems": 1, "items": ref("MappingColumn")}
    proposal = object_schema(
        {
            "header": STRING,
            "field": {"type": "string", "nullable": True},
            "how": {"type": "string", "enum": [EXACT, NORMALIZED, SYNONYM, SIMILAR, UNMAPPED]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "samples": _TEXTS,
        }
    )
    return {
        "Transformation": transformation,
        "MappingColumn": column,
        "MappingProfileInput": object_schema(
            {"entity": STRING, "name": name, "columns": columns},
            required=("entity", "name", "columns"),
        ),
        "MappingProfileUpdate": object_schema(
            {"name": name, "columns": columns}, required=("columns",)
        ),
        "MappingProfileData": profile,
        "MappingProfile": _envelope(ref("MappingProfileData")),
        "MappingProfileList": _envelope({"type": "array", "items": ref("MappingProfileData")}),
        "MappingProposals": _envelope(
            object_schema(
                {
                    "entity": STRING,
                    "headers": _TEXTS,
                    "proposals": {"type": "array", "items": proposal},
                    "matchingProfile": {
                        "allOf": [ref("MappingProfileData")],
                        "nullable": True,
                        "description": "The saved profile for files with these headers.",
                    },
                }
            )
        ),
    }


_ENTITY = OpenApiParameter("entity", str, description="Only this entity's profiles.")

profile_list_schema = extend_schema(
    operation_id="batch_mapping_profiles_list",
    summary="The company's mapping profiles",
    tags=_TAGS,
    parameters=[_ENTITY],
    responses={200: ref("MappingProfileList"), **_errors(401)},
)
profile_create_schema = extend_schema(
    operation_id="batch_mapping_profiles_create",
    summary="Save a mapping profile",
    description="A named mapping of a file's headers to an entity's fields, with each "
    "column's transformations; an import names it by `mappingProfile`.",
    tags=_TAGS,
    request={"application/json": ref("MappingProfileInput")},
    responses={201: ref("MappingProfile"), **_errors(400, 401, 404, 409, 415)},
)
_KEY = OpenApiParameter(
    "key", str, OpenApiParameter.PATH, description="The profile's id, or its name."
)
_BY_NAME = OpenApiParameter(
    "entity", str, description="The entity, when profiles of two entities share the name."
)
profile_detail_schema = extend_schema(
    operation_id="batch_mapping_profiles_retrieve",
    summary="A mapping profile",
    tags=_TAGS,
    parameters=[_KEY, _BY_NAME],
    responses={200: ref("MappingProfile"), **_errors(401, 404)},
)
profile_update_schema = extend_schema(
    operation_id="batch_mapping_profiles_update",
    summary="Replace a mapping profile's columns (and name)",
    tags=_TAGS,
    parameters=[_KEY, _BY_NAME],
    request={"application/json": ref("MappingProfileUpdate")},
    responses={200: ref("MappingProfile"), **_errors(400, 401, 404, 409, 415)},
)
profile_delete_schema = extend_schema(
    operation_id="batch_mapping_profiles_destroy",
    summary="Delete a mapping profile",
    tags=_TAGS,
    parameters=[_KEY, _BY_NAME],
    responses={204: OpenApiResponse(description="Deleted."), **_errors(401, 404)},
)
profile_propose_schema = extend_schema(
    operation_id="batch_mapping_profiles_propose",
    summary="Propose the fields a file's headers feed",
    description="Per header: the proposed field, how it was found (exact, normalized, synonym, "
    "similar or unmapped), a confidence and sample values; and the company's saved profile "
    "for files with the same headers, if any. Nothing is imported.",
    tags=_TAGS,
    request={
        "multipart/form-data": object_schema(
            {
                "file": {"type": "string", "format": "binary", "description": "CSV or .xlsx."},
                "entity": STRING,
            },
            required=("file", "entity"),
        )
    },
    responses={200: ref("MappingProposals"), **_errors(400, 401, 404, 413, 415)},
)
