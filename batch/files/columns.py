"""A handler's spreadsheet columns, derived from its schemas.

Nested objects flatten with dots ("address.city"). A handler whose create schema has a list
field (invoice "items", journal "lines", payment "allocations") is a *lines entity*: a file
holds one row per line, the header fields repeat (or are left blank) on the lines of one
document, each line field is a column "<list>.<field>" ("items.quantity"), and rows are
grouped into documents by the `reference` column (or by a "group" column when the entity
has no reference field). Update and delete rows name their record by the identifier fields
that only the update/delete schemas have ("id", "customerNumber" …), and an optional
"operation" column says what to do with a row (create when blank).

What a column takes is read from its parser: the parsers of batch.schema are recognised
by name (and their settings — a choice's options, a text's maximum length — read from the
closure when possible); any other parser is probed with sample values. A parser may also
declare `kind` / `choices` attributes, which win."""

import datetime
import inspect
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, cached_property
from typing import Any

from batch.engine import fields as batch_schema
from batch.engine.fields import Field, FieldError, ListOf, Nested, Schema
from batch.engine.handlers import Handler

META, HEADER, LINE = "meta", "header", "line"
OPERATIONS = ("create", "update", "delete")
OPERATION_COLUMN = "operation"
REFERENCE_ID_COLUMN = "referenceId"
GROUP_FIELD = "reference"  # the header field that groups the rows of one document
GROUP_COLUMN = "group"  # used instead when a lines entity has no `reference` field

# Parser kinds. Numbers of every kind stay strings on the way in: the parsers accept them.
TEXT, EMAIL, PHONE, COUNTRY, REFERENCE = "text", "email", "phone", "country", "reference"
DATE, MONEY, NUMBER, INTEGER, CHOICE, BOOLEAN = (
    "date",
    "money",
    "number",
    "integer",
    "choice",
    "boolean",
)
NUMERIC_KINDS = frozenset({MONEY, NUMBER, INTEGER})

# Calculated columns a template adds for convenience; never read back on upload.
LINE_AMOUNT, RUNNING_DEBIT, RUNNING_CREDIT, BALANCE_CHECK = (
    "line_amount",
    "running_debit",
    "running_credit",
    "balance_check",
)


@dataclass(frozen=True)
class Traits:
    """What a parser accepts, as far as a spreadsheet needs to know."""

    kind: str = TEXT
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    positive: bool = False

    def describe(self) -> str:
        if self.kind == TEXT:
            return f"text, up to {self.max_length} characters" if self.max_length else "text"
        if self.kind == CHOICE:
            return "one of: " + ", ".join(self.choices)
        if self.kind == INTEGER and self.minimum is not None and self.maximum is not None:
            return f"whole number from {self.minimum} to {self.maximum}"
        if self.kind in (MONEY, NUMBER):
            sign = "greater than 0" if self.positive else "0 or more"
            if self.minimum is None and not self.positive:
                sign = "may be negative"
            what = "amount, up to 2 decimal places" if self.kind == MONEY else "number"
            return f"{what}, {sign}"
        return _KIND_TEXT[self.kind]


_KIND_TEXT = {
    EMAIL: "email address",
    PHONE: "phone number: digits with an optional leading +, 7 to 15 digits",
    COUNTRY: "2-letter ISO country code, e.g. MY",
    REFERENCE: "public id or code of an existing record",
    DATE: "date YYYY-MM-DD",
    INTEGER: "whole number",
    BOOLEAN: "true/false",
    MONEY: "amount",
    NUMBER: "number",
}


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: layouts are cached
class Column:
    """One spreadsheet column. `path` is where its value goes: in the operation's data for
    header columns, in one line's data for line columns (the list name excluded)."""

    name: str
    scope: str
    path: tuple[str, ...] = ()
    traits: Traits = Traits()
    required: bool = False  # when creating; for a line column, within its line
    operations: frozenset[str] = frozenset()
    computed: str | None = None  # a calculated column of the Excel template
    hint: str = ""

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def kind(self) -> str:
        return self.traits.kind

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
        parts = [f"{need}. Takes {self.traits.describe()}."]
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
        if operation in handler.operations
        and (schema := getattr(handler, f"{operation}_schema", None)) is not None
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
                traits=parser_traits(spec.parse),
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
            Traits(CHOICE, choices=choices),
            operations=frozenset(operations),
            hint="Blank means create.",
        ),
        Column(
            REFERENCE_ID_COLUMN,
            META,
            (REFERENCE_ID_COLUMN,),
            Traits(TEXT, max_length=100),
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
                Traits(TEXT),
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
        wanted.append(("amount", LINE_AMOUNT, Traits(MONEY)))
    if {"debit", "credit"} <= fields.keys():
        wanted += [
            ("runningDebit", RUNNING_DEBIT, Traits(MONEY)),
            ("runningCredit", RUNNING_CREDIT, Traits(MONEY)),
            ("balanceCheck", BALANCE_CHECK, Traits(TEXT)),
        ]
    return [
        Column(f"{list_name}.{name}", LINE, (name,), traits, computed=formula)
        for name, formula, traits in wanted
        if name not in fields
    ]


# Reading a parser --------------------------------------------------------------------------

_PLAIN_PARSERS = {
    batch_schema.date: DATE,
    batch_schema.email: EMAIL,
    batch_schema.phone: PHONE,
    batch_schema.country: COUNTRY,
    batch_schema.boolean: BOOLEAN,
    batch_schema.reference: REFERENCE,
}
_FACTORIES = {
    "text": TEXT,
    "money": MONEY,
    "quantity": NUMBER,
    "integer": INTEGER,
    "choice": CHOICE,
}


def parser_traits(parse) -> Traits:
    """What a field's parser takes. Declared `kind`/`choices` attributes win; then the
    parsers of batch.schema by identity or factory name; anything else is probed."""
    declared = getattr(parse, "kind", None)
    if declared:
        return Traits(declared, choices=tuple(getattr(parse, "choices", ()) or ()))
    if parse in _PLAIN_PARSERS:
        kind = _PLAIN_PARSERS[parse]
        if kind == COUNTRY:
            return Traits(COUNTRY, choices=tuple(sorted(batch_schema.COUNTRY_CODES)))
        return Traits(kind)
    qualname = getattr(parse, "__qualname__", "")
    factory = qualname.split(".<locals>.")[0] if ".<locals>." in qualname else None
    if getattr(parse, "__module__", None) == batch_schema.__name__ and factory in _FACTORIES:
        return _factory_traits(_FACTORIES[factory], _closure(parse))
    return _probe(parse)


def _closure(parse) -> dict:
    try:
        return dict(inspect.getclosurevars(parse).nonlocals)
    except (TypeError, ValueError):
        return {}


def _factory_traits(kind: str, settings: dict) -> Traits:
    if kind == CHOICE:
        return Traits(CHOICE, choices=tuple(settings.get("allowed", ())))
    if kind == TEXT:
        return Traits(TEXT, max_length=settings.get("max_length"))
    if kind == INTEGER:
        low, high = settings.get("minimum"), settings.get("maximum")
        return Traits(
            INTEGER,
            minimum=None if low is None else Decimal(low),
            maximum=None if high is None else Decimal(high),
        )
    minimum = settings.get("minimum", Decimal(0))
    return Traits(kind, minimum=minimum, positive=bool(settings.get("positive")))


def _probe(parse) -> Traits:
    """An unknown parser: see what it makes of a date, a number and a boolean."""
    for sample, kind, expected in (
        ("2024-01-15", DATE, datetime.date),
        ("12.5", NUMBER, Decimal),
        ("true", BOOLEAN, bool),
    ):
        try:
            value = parse(sample)
        except (FieldError, TypeError, ValueError, AttributeError):
            continue
        if isinstance(value, expected):
            if kind == NUMBER:
                try:
                    parse("-1")
                except (FieldError, TypeError, ValueError):
                    return Traits(NUMBER, minimum=Decimal(0))
            return Traits(kind)
    return Traits(TEXT)
