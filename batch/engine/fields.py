"""Declarative, fast record parsing: each field has a parser (batch.engine.parsers) that
returns the clean value or raises FieldError. A schema turns one record's JSON object into
clean values and a list of field problems, without touching the database.

Why not DRF serializers per record: building a serializer, its fields and its error dicts
costs tens of microseconds per field; at 1,000 records a batch that is most of the budget.
These parsers are a dictionary walk and a few comparisons, and produce our error shape
(field, message, code) directly."""

from dataclasses import dataclass
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

    def clean(self, data: Any, *, partial: bool = False, path: str = "") -> tuple[dict, list]:
        if not isinstance(data, dict):
            return {}, [Detail(path or "data", "Must be an object.", FieldCode.INVALID_TYPE)]
        values: dict[str, Any] = {}
        details: list[Detail] = []
        for name in data.keys() - self.fields.keys():
            details.append(Detail(path + name, f"Unknown field '{name}'.", FieldCode.UNKNOWN_FIELD))
        for name, spec in self.fields.items():
            raw = data.get(name, MISSING)
            if raw is MISSING or raw is None:
                if spec.required and (not partial or raw is None):  # absent, not erased
                    details.append(Detail(path + name, f"{name} is required.", FieldCode.REQUIRED))
                elif raw is None and name in data:
                    values[name] = None
                continue
            if isinstance(spec, Field):
                try:
                    values[name] = spec.parse(raw)
                except FieldError as error:
                    details.append(Detail(path + name, error.message, error.code))
            elif isinstance(spec, Nested):
                values[name], nested = spec.schema.clean(raw, partial=partial, path=f"{name}.")
                details.extend(nested)
            else:
                values[name], nested = self._clean_list(spec, raw, path + name)
                details.extend(nested)
        return values, details

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
