"""A handler's spreadsheet columns, derived from its schemas.

Nested objects flatten with dots ("address.city"). A handler whose create schema has a list
field (invoice "items", journal "lines", payment "allocations") is a *lines entity*: a file
holds one row per line, the header fields repeat (or are left blank) on the lines of one
document, each line field is a column "<list>.<field>" ("items.quantity"), and rows are
grouped into documents by the `reference` column (or by a "group" column when the entity
has no reference field). Update and delete rows name their record by the identifier fields
that only the update/delete schemas have ("id", "customerNumber" …), and an optional
"operation" column says what to do with a row (create when blank).

What a column takes is its field's parser (batch.engine.parsers): its `kind`, its limits
(`max_length`, `choices`, `minimum` …) and `describe()` are read from the parser itself."""

import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from batch.engine.fields import Field, ListOf, Nested, Schema
from batch.engine.handlers import Handler
from batch.engine.parsers import Choice, Kind, Money, Parser, Text

META, HEADER, LINE = "meta", "header", "line"
OPERATIONS = ("create", "update", "upsert", "delete")
OPERATION_COLUMN = "operation"
REFERENCE_ID_COLUMN = "referenceId"
GROUP_FIELD = "reference"  # the header field that groups the rows of one document
GROUP_COLUMN = "group"  # used instead when a lines entity has no `reference` field

# Parser kinds. Numbers of every kind stay strings on the way in: the parsers accept them.
TEXT, EMAIL, PHONE, COUNTRY, REFERENCE = (
    Kind.TEXT,
    Kind.EMAIL,
    Kind.PHONE,
    Kind.COUNTRY,
    Kind.REFERENCE,
)
DATE, MONEY, NUMBER, INTEGER, CHOICE, BOOLEAN = (
    Kind.DATE,
    Kind.MONEY,
    Kind.NUMBER,
    Kind.INTEGER,
    Kind.CHOICE,
    Kind.BOOLEAN,
)
NUMERIC_KINDS = frozenset({MONEY, NUMBER, INTEGER})

# Calculated columns a template adds for convenience; never read back on upload.
LINE_AMOUNT, RUNNING_DEBIT, RUNNING_CREDIT, BALANCE_CHECK = (
    "line_amount",
    "running_debit",
    "running_credit",
    "balance_check",
)


# What the columns without a field of their own take: the group column and a balance check
# any text, the calculated amounts any amount.
ANY_TEXT = Text(None)
SIGNED_MONEY = Money(minimum=None)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: layouts are cached
class Column:
    """One spreadsheet column. `path` is where its value goes: in the operation's data for
    header columns, in one line's data for line columns (the list name excluded)."""

    name: str
    scope: str
    path: tuple[str, ...] = ()
    parser: Parser = ANY_TEXT  # what the column takes: its kind, limits and description
    required: bool = False  # when creating; for a line column, within its line
    operations: frozenset[str] = frozenset()
    computed: str | None = None  # a calculated column of the Excel template
    hint: str = ""

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def kind(self) -> Kind:
        return self.parser.kind

    @property
    def description(self) -> str:
        """One sentence a person filling the sheet can act on."""
        if self.computed:
            return "Calculated by the template; ignored on upload."
        if self.required:
            need = "Required on every line" if self.scope == LINE else "Required"
            if len(self.operations) > 1:  # an update may leave it out
                need += " when creating"
        else:
            need = "Optional"
        parts = [f"{need}. Takes {self.parser.describe()}."]
        if self.operations and "create" not in self.operations:
            verbs = " and ".join(op for op in OPERATIONS if op in self.operations)
            parts.append(f"Names the record to {verbs}.")
        if self.hint:
            parts.append(self.hint)
        return " ".join(parts)


@dataclass(frozen=True)
class Layout:
    """Every column a handler's files may carry, in template order."""

    entity: str
    operations: frozenset[str]
    max_records: int
    columns: tuple[Column, ...]
    list_name: str | None = None
    max_lines: int | None = None
    group_column: str | None = None

    @property
    def has_lines(self) -> bool:
        return self.list_name is not None

    @cached_property
    def by_name(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns}

    def column(self, name: str) -> Column:
        return self.by_name[name]

    @property
    def input_columns(self) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if not column.computed)

    @property
    def computed_columns(self) -> frozenset[str]:
        """Names of the calculated columns: skipped on upload, whatever they hold."""
        return frozenset(column.name for column in self.columns if column.computed)

    @property
    def template_columns(self) -> tuple[Column, ...]:
        """The columns a template shows: no referenceId, and no operation column when the
        entity can only be created."""
        return tuple(
            column
            for column in self.columns
            if column.name != REFERENCE_ID_COLUMN
            and (column.name != OPERATION_COLUMN or len(self.operations) > 1)
        )

    @cached_property
    def _aliases(self) -> dict[str, Column]:
        aliases = {normalise(column.name): column for column in self.columns}
        leaves: dict[str, list[Column]] = {}
        for column in self.columns:
            if "." in column.name:
                leaves.setdefault(normalise(column.leaf), []).append(column)
        for leaf, columns in leaves.items():
            if len(columns) == 1 and leaf not in aliases:
                aliases[leaf] = columns[0]
        return aliases

    def resolve(self, header: str) -> Column | None:
        """The column a header (or a mapping key) names: exact, case-insensitive, snake_case
        or spaced ("credit_limit", "Credit Limit"), or the bare name of a nested or line field
        when no other column has it ("city", "quantity")."""
        found = self.by_name.get(header)
        return found if found is not None else self._aliases.get(normalise(header))


_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise(name: str) -> str:
    return _SEPARATORS.sub("", str(name)).lower()


@cache
def layout_for(handler: type[Handler]) -> Layout:
    """The columns of a handler's files, from its create/update/delete schemas."""
    schemas = {
        operation: schema
        for operation in OPERATIONS
        if operation in handler.operations and (schema := handler.schema_for(operation)) is not None
    }
    create = schemas.get("create") or next(iter(schemas.values()))
    list_name, list_spec = _list_field(create)
    found: dict[str, Column] = {}  # create first: its `required` is the one that counts
    for operation, schema in schemas.items():
        for column in _flatten(schema, list_name=list_name):
            known = found.get(column.name, column)
            found[column.name] = _with(known, operations=known.operations | {operation})
    header = [column for column in found.values() if column.scope == HEADER]
    lines = [column for column in found.values() if column.scope == LINE]
    group = None
    if list_name:
        group = GROUP_FIELD if GROUP_FIELD in found else GROUP_COLUMN
    columns = [
        *_meta_columns(handler.operations, group),
        *_header_order(header, create, group),
        *_with_hints(lines),
        *_computed_columns(list_name, list_spec),
    ]
    return Layout(
        entity=handler.entity,
        operations=frozenset(handler.operations),
        max_records=handler.max_records,
        columns=tuple(columns),
        list_name=list_name,
        max_lines=list_spec.max_items if list_spec else None,
        group_column=group,
    )


def _with(column: Column, **changes: Any) -> Column:
    return Column(**{**column.__dict__, **changes})


def _list_field(schema: Schema) -> tuple[str | None, ListOf | None]:
    """The first list field of a create schema; a file carries one list (its lines)."""
    for name, spec in schema.fields.items():
        if isinstance(spec, ListOf):
            return name, spec
    return None, None


def _flatten(
    schema: Schema, *, list_name: str | None, name: str = "", path=(), scope: str = HEADER
):
    """Columns for a schema's fields: `name` is the dotted column prefix, `path` where the
    value goes (for line columns, within the line)."""
    for field_name, spec in schema.fields.items():
        if isinstance(spec, Field):
            yield Column(
                name=name + field_name,
                scope=scope,
                path=(*path, field_name),
                parser=spec.parse,
                required=spec.required,
            )
        elif isinstance(spec, Nested):
            nested = _flatten(
                spec.schema,
                list_name=None,
                name=f"{name}{field_name}.",
                path=(*path, field_name),
                scope=scope,
            )
            for column in nested:
                yield _with(column, required=column.required and spec.required)
        elif field_name == list_name and scope == HEADER:
            yield from _flatten(spec.schema, list_name=None, name=f"{field_name}.", scope=LINE)
        # Any other list cannot be spread over one row per line; files leave it out.


def _meta_columns(operations: frozenset[str], group: str | None) -> list[Column]:
    choices = tuple(op for op in OPERATIONS if op in operations)
    columns = [
        Column(
            OPERATION_COLUMN,
            META,
            (OPERATION_COLUMN,),
            Choice(choices),
            operations=frozenset(operations),
            hint="Blank means create.",
        ),
        Column(
            REFERENCE_ID_COLUMN,
            META,
            (REFERENCE_ID_COLUMN,),
            Text(100),
            operations=frozenset(operations),
            hint="Echoed back in this row's result.",
        ),
    ]
    if group == GROUP_COLUMN:
        columns.append(
            Column(
                GROUP_COLUMN,
                META,
                (GROUP_COLUMN,),
                ANY_TEXT,
                operations=frozenset(operations),
                hint="Rows with the same value, one after another, are one document.",
            )
        )
    return columns


def _header_order(header: list[Column], create: Schema, group: str | None) -> list[Column]:
    """The grouping column first, then the identifier columns, then the create fields."""
    created = [column for column in header if "create" in column.operations]
    identifiers = [column for column in header if "create" not in column.operations]
    ordered = identifiers + created
    if group == GROUP_FIELD:
        first = next(column for column in ordered if column.name == GROUP_FIELD)
        hint = (
            "Repeat it on every line: rows with the same reference, one after another, "
            "are one document."
        )
        ordered = [_with(first, hint=hint)] + [c for c in ordered if c is not first]
    return _with_hints(ordered)


_PAIR = re.compile(r"(?P<stem>\w+?)(?:Id|Code|Number)$")


def _with_hints(columns: list[Column]) -> list[Column]:
    """customerId | customerNumber, itemId | itemCode …: say that either one will do."""
    by_stem: dict[tuple[str, str], list[str]] = {}
    for column in columns:
        match = _PAIR.fullmatch(column.leaf)
        if column.kind == REFERENCE and match:
            prefix = column.name[: -len(column.leaf)]
            by_stem.setdefault((prefix, match["stem"]), []).append(column.name)
    hints = {
        name: "Give " + " or ".join(names) + "."
        for names in by_stem.values()
        if len(names) > 1
        for name in names
    }
    return [
        _with(column, hint=" ".join(filter(None, [column.hint, hints[column.name]])))
        if column.name in hints
        else column
        for column in columns
    ]


def _computed_columns(list_name: str | None, spec: ListOf | None) -> list[Column]:
    """Calculated line columns the Excel template fills with formulas, by the shape of the
    line: quantity × unitPrice gives a line amount; debit/credit lines get running totals
    and a balance check."""
    if not list_name:
        return []
    fields = spec.schema.fields
    wanted = []
    if {"quantity", "unitPrice"} <= fields.keys():
        wanted.append(("amount", LINE_AMOUNT, SIGNED_MONEY))
    if {"debit", "credit"} <= fields.keys():
        wanted += [
            ("runningDebit", RUNNING_DEBIT, SIGNED_MONEY),
            ("runningCredit", RUNNING_CREDIT, SIGNED_MONEY),
            ("balanceCheck", BALANCE_CHECK, ANY_TEXT),
        ]
    return [
        Column(f"{list_name}.{name}", LINE, (name,), parser, computed=formula)
        for name, formula, parser in wanted
        if name not in fields
    ]
