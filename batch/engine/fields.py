"""Declarative, fast record parsing: each field has a parser (batch.engine.parsers) that
returns the clean value or raises FieldError. A schema turns one record's JSON object into
clean values and a list of field problems, without touching the database.

Why not DRF serializers per record: building a serializer, its fields and its error dicts
costs tens of microseconds per field; at 1,000 records a batch that is most of the budget.
These parsers are a dictionary walk and a few comparisons, and produce our error shape
(field, message, code) directly."""

from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from batch.engine.codes import FieldCode
from batch.engine.parsers import FieldError, Parser

MISSING = object()


@dataclass(frozen=True)
class Detail:
    field: str
    message: str
    code: str

    def as_json(self) -> dict:
        return {"field": self.field, "message": self.message, "code": str(self.code)}


def _required(path: str, name: str) -> Detail:
    return Detail(path + name, f"{name} is required.", FieldCode.REQUIRED)


@dataclass(frozen=True)
class Field:
    parse: Parser
    required: bool = False
    label: str = ""

    def __post_init__(self):
        # The API schema and the spreadsheet columns read a field's limits from its parser.
        if not isinstance(self.parse, Parser):
            raise TypeError(f"Field parsers are Parser instances, not {self.parse!r}.")


@dataclass(frozen=True)
class Nested:
    schema: "Schema"
    required: bool = False


@dataclass(frozen=True)
class ListOf:
    schema: "Schema"
    min_items: int = 0
    max_items: int = 1000
    required: bool = False


class Schema:
    """Fields by JSON name. `clean` returns (values, details); values hold only the fields
    present (or required and defaulted), so a partial update can tell what was sent."""

    def __init__(self, fields: dict[str, Field | Nested | ListOf]):
        self.fields = fields
        self._position = {name: position for position, name in enumerate(fields)}
        self._required = [name for name, spec in fields.items() if spec.required]

    def clean(self, data: Any, *, partial: bool = False, path: str = "") -> tuple[dict, list]:
        """The fields sent are walked, not every field the schema has: a record names a few
        of them. Problems are told in the schema's order, after unknown fields."""
        if not isinstance(data, dict):
            return {}, [Detail(path or "data", "Must be an object.", FieldCode.INVALID_TYPE)]
        values: dict[str, Any] = {}
        unknown: list[Detail] = []
        found: list[tuple[int, list[Detail]]] = []  # (the field's position, its problems)
        fields = self.fields
        for name, raw in data.items():
            spec = fields.get(name)
            if spec is None:
                unknown.append(
                    Detail(path + name, f"Unknown field '{name}'.", FieldCode.UNKNOWN_FIELD)
                )
            elif raw is None:
                if spec.required:  # erased, which even a partial update may not do
                    found.append((self._position[name], [_required(path, name)]))
                else:
                    values[name] = None
            elif spec.__class__ is Field:
                try:
                    values[name] = spec.parse(raw)
                except FieldError as error:
                    found.append(
                        (self._position[name], [Detail(path + name, error.message, error.code)])
                    )
            elif spec.__class__ is Nested:
                values[name], nested = spec.schema.clean(raw, partial=partial, path=f"{name}.")
                if nested:
                    found.append((self._position[name], nested))
            else:
                values[name], nested = self._clean_list(spec, raw, path + name)
                if nested:
                    found.append((self._position[name], nested))
        if not partial:
            for name in self._required:
                if name not in data:
                    found.append((self._position[name], [_required(path, name)]))
        if not found:
            return values, unknown
        found.sort(key=itemgetter(0))
        return values, unknown + [detail for _, details in found for detail in details]

    @staticmethod
    def _clean_list(spec: ListOf, raw: Any, path: str) -> tuple[list, list]:
        if not isinstance(raw, list):
            return [], [Detail(path, "Must be a list.", FieldCode.INVALID_TYPE)]
        if len(raw) < spec.min_items:
            return [], [Detail(path, f"At least {spec.min_items} required.", FieldCode.REQUIRED)]
        if len(raw) > spec.max_items:
            return [], [Detail(path, f"At most {spec.max_items} allowed.", FieldCode.INVALID_VALUE)]
        items, details = [], []
        for position, element in enumerate(raw):
            value, nested = spec.schema.clean(element, path=f"{path}[{position}].")
            items.append(value)
            details.extend(nested)
        return items, details
