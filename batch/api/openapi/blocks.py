"""JSON Schema building blocks the components and the view annotations share."""

from typing import Any

INTEGER, NUMBER, BOOLEAN = {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
STRING, OBJECT = {"type": "string"}, {"type": "object", "additionalProperties": True}
DATETIME = {"type": "string", "format": "date-time", "nullable": True}


def ref(name: str) -> dict:
    """A reference to one of the schema's components."""
    return {"$ref": f"#/components/schemas/{name}"}


def object_schema(properties: dict, required=(), **extra: Any) -> dict:
    body = {"type": "object", "properties": properties, **extra}
    if required:
        body["required"] = list(required)
    return body


def enum_schema(values, description: str) -> dict:
    return {"type": "string", "enum": [str(value) for value in values], "description": description}
