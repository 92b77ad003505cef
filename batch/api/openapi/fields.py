"""A handler's parsing schemas as JSON Schema, so the documented fields, types, limits and
choices are the ones enforced. Each parser's schema is read from its public attributes
(batch.engine.parsers), never from how it is written inside."""

from decimal import Decimal
from functools import singledispatch
from typing import Any

from batch.api.openapi.blocks import ref
from batch.engine.fields import Field, ListOf, Nested, Schema
from batch.engine.parsers import (
    Boolean,
    Choice,
    Country,
    Date,
    Email,
    ExactNumber,
    Integer,
    Parser,
    Phone,
    Reference,
    Text,
)


@singledispatch
def parser_schema(parser: Parser) -> dict:
    """JSON Schema for one field parser. A parser class without a schema of its own here is
    described in words."""
    return {"description": parser.describe()}


@parser_schema.register
def _text(parser: Text) -> dict:
    schema: dict[str, Any] = {"type": "string"}
    if parser.max_length is not None:
        schema["maxLength"] = parser.max_length
    if not parser.blank:
        schema["minLength"] = 1
    return schema


@parser_schema.register
def _email(parser: Email) -> dict:
    return {"type": "string", "format": "email", "maxLength": parser.max_length}


@parser_schema.register
def _phone(parser: Phone) -> dict:
    return {
        "type": "string",
        "maxLength": parser.max_length,
        "description": "An optional + and 7 to 15 digits; spaces, dashes, dots and brackets "
        "are ignored.",
    }


@parser_schema.register
def _reference(parser: Reference) -> dict:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": parser.max_length,
        "description": "A public id or the natural key (number or code).",
    }


@parser_schema.register
def _country(parser: Country) -> dict:
    return ref("CountryCode")  # one shared enum (components.py) instead of 249 codes per field


@parser_schema.register
def _number(parser: ExactNumber) -> dict:
    schema: dict[str, Any] = {
        "type": "number",
        "description": f"An exact decimal with at most {parser.places} decimal places.",
    }
    if parser.minimum is not None:
        schema["minimum"] = float(parser.minimum)
    if parser.positive:
        schema.update(minimum=0, exclusiveMinimum=True)
    schema.update(_largest(parser))
    if parser.minimum is None and not parser.positive:
        schema["minimum"] = -schema["maximum"]
        if schema.get("exclusiveMaximum"):
            schema["exclusiveMinimum"] = True
    return schema


def _largest(parser: ExactNumber) -> dict:
    """The parser's maximum as JSON Schema: itself when a float spells it exactly
    (999999999999.99), else the next step up, excluded (a quantity is below 1e14)."""
    if Decimal(repr(float(parser.maximum))) == parser.maximum:
        return {"maximum": float(parser.maximum)}
    ceiling = parser.maximum + Decimal(1).scaleb(-parser.places)
    return {"maximum": float(ceiling), "exclusiveMaximum": True}


@parser_schema.register
def _integer(parser: Integer) -> dict:
    return {"type": "integer", "minimum": parser.minimum, "maximum": parser.maximum}


@parser_schema.register
def _date(parser: Date) -> dict:
    return {
        "type": "string",
        "format": "date",
        "description": f"From {parser.minimum.isoformat()} to {parser.maximum.isoformat()}.",
    }


@parser_schema.register
def _choice(parser: Choice) -> dict:
    return {"type": "string", "enum": list(parser.choices)}


@parser_schema.register
def _boolean(parser: Boolean) -> dict:
    return {"type": "boolean"}


def field_schema(spec: Field | Nested | ListOf, *, partial: bool) -> dict:
    if isinstance(spec, Nested):
        return data_schema(spec.schema, partial=partial)
    if isinstance(spec, ListOf):
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


def data_schema(schema: Schema, *, partial: bool) -> dict:
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
