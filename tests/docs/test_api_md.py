"""docs/api.md stays true to the handlers: each entity's field table there is the one its
schemas make (`entity_section`), so a field added to a schema and not to the page fails here.
To rewrite the tables after changing a schema:
`DJANGO_SETTINGS_MODULE=bigledger.settings python -c "import django; django.setup();
from tests.docs.test_api_md import rewrite; rewrite()"`."""

import re
from pathlib import Path

import pytest

from batch.engine.fields import Field, ListOf, Nested, Schema
from batch.engine.handlers import Handler, registered_handlers

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
COLUMNS = ("create", "update", "delete")


def field_rows(schema: Schema, *, partial: bool, prefix: str = ""):
    """(name, what it takes, required?) for each field, nested and list fields flattened; an
    update's top-level and nested fields may be left out, a list entry is always complete."""
    for name, spec in schema.fields.items():
        required = spec.required and not partial
        if isinstance(spec, Field):
            yield prefix + name, spec.parse.describe(), required
        elif isinstance(spec, Nested):
            yield prefix + name, "object", required
            yield from field_rows(spec.schema, partial=partial, prefix=f"{prefix}{name}.")
        elif isinstance(spec, ListOf):
            yield prefix + name, f"list of {spec.min_items} to {spec.max_items}", required
            yield from field_rows(spec.schema, partial=False, prefix=f"{prefix}{name}[].")


def entity_section(handler: type[Handler]) -> str:
    operations = [op for op in COLUMNS if op in handler.operations]
    takes: dict[str, dict[str, str]] = {}
    need: dict[str, dict[str, str]] = {}
    for operation in operations:
        schema = handler.schema_for(operation)
        for name, description, required in field_rows(schema, partial=operation != "create"):
            takes.setdefault(name, {})[operation] = description
            need.setdefault(name, {})[operation] = "required" if required else "optional"
    named = ", ".join(
        op for op in ("create", "update", "upsert", "delete") if op in handler.operations
    )
    if "upsert" in handler.operations:
        named += " (an upsert takes a create's fields and an update's)"
    lines = [
        f"### {handler.entity}",
        "",
        f"At most {handler.max_records} operations; {named}.",
        "",
        "| field | takes | " + " | ".join(operations) + " |",
        "| --- | --- | " + " | ".join("---" for _ in operations) + " |",
    ]
    for name, by_operation in takes.items():
        lines.append(
            f"| `{name}` | {describe(by_operation)} | "
            + " | ".join(need[name].get(op, "") for op in operations)
            + " |"
        )
    return "\n".join(lines)


def describe(by_operation: dict[str, str]) -> str:
    """One description, or each operation's when they differ ("create: …; update: …")."""
    grouped: dict[str, list[str]] = {}
    for operation, description in by_operation.items():
        grouped.setdefault(description, []).append(operation)
    if len(grouped) == 1:
        return next(iter(grouped))
    return "; ".join(f"{', '.join(ops)}: {text}" for text, ops in grouped.items())


def section_pattern(entity: str) -> re.Pattern:
    return re.compile(rf"^### {re.escape(entity)}\n\n[^\n]*\n\n(?:\|[^\n]*\|\n?)+", re.M)


def documented_section(text: str, entity: str) -> str:
    match = section_pattern(entity).search(text)
    return match.group(0).rstrip("\n") if match else ""


@pytest.mark.parametrize("entity", sorted(registered_handlers()))
def test_the_api_page_lists_every_field_the_entity_takes(entity):
    handler = registered_handlers()[entity]

    assert documented_section(API_MD.read_text(), entity) == entity_section(handler)


def rewrite() -> None:
    text = API_MD.read_text()
    for entity, handler in sorted(registered_handlers().items()):
        pattern = section_pattern(entity)
        assert pattern.search(text), entity
        text = pattern.sub(lambda _, h=handler: entity_section(h) + "\n", text, count=1)
    API_MD.write_text(text)
