"""Per-column transformations: what turns a spreadsheet's own way of writing things into the
values the fields take, applied to each cell's text before the mapping's cell rules
(batch.files.mapping) read it.

They are declared as JSON, per header, in a mapping profile's columns and in an import's
`transforms` option: {"<header>": [{"type": "trim"}, {"type": "case", "to": "lower"}]}, run
in the order given. A value a transformation cannot read (a date not in the stated format)
is left as it is, so the field's parser refuses it and the error shows the value at fault.
A declaration that cannot work (unknown type, bad format, missing argument) is refused
before any row is read: INVALID_MAPPING naming the column.

Most work on one cell. `split` writes one column into two fields ("Full Name" → firstName,
lastName), `join` writes several columns into one field, and `lookup` replaces a record's
name by its id once a chunk of operations is read, in one query per chunk (resolve_lookups)."""

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models.functions import Lower

from batch.engine.codes import ErrorCode
from batch.engine.countries import COUNTRY_CODES
from batch.engine.fields import Detail
from batch.engine.handlers import get_handler
from batch.files.mapping import FileChunk, json_object, mapping_error

Row = dict[str, str]
CellRule = Callable[[str, Row], str]

TYPES = ("trim", "case", "date", "number", "map", "default", "split", "join", "lookup")
CASES = {"upper": str.upper, "lower": str.lower, "title": str.title}
LOOKUP_ENTITIES = ("customers", "suppliers", "items", "accounts")

# Country names as people type them → ISO 3166-1 alpha-2 (the codes themselves pass too).
COUNTRY_NAMES = {
    "malaysia": "MY",
    "singapore": "SG",
    "indonesia": "ID",
    "thailand": "TH",
    "philippines": "PH",
    "vietnam": "VN",
    "viet nam": "VN",
    "brunei": "BN",
    "brunei darussalam": "BN",
    "cambodia": "KH",
    "laos": "LA",
    "myanmar": "MM",
    "china": "CN",
    "hong kong": "HK",
    "taiwan": "TW",
    "japan": "JP",
    "south korea": "KR",
    "korea": "KR",
    "india": "IN",
    "australia": "AU",
    "new zealand": "NZ",
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "canada": "CA",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "ireland": "IE",
    "germany": "DE",
    "france": "FR",
    "netherlands": "NL",
    "the netherlands": "NL",
    "italy": "IT",
    "spain": "ES",
    "switzerland": "CH",
    "sweden": "SE",
    "united arab emirates": "AE",
    "uae": "AE",
    "saudi arabia": "SA",
}
BUILT_IN_MAPS = {"country": COUNTRY_NAMES}

_CURRENCY = re.compile(r"[A-Za-z]{3}|RM|[$€£¥₹₩฿₱₫]", re.IGNORECASE)
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
# Date format tokens, longest first, as the regular expression each stands for.
_DATE_TOKENS = [
    ("YYYY", r"(?P<year>\d{4})"),
    ("YY", r"(?P<year2>\d{2})"),
    ("MMMM", r"(?P<monthname>[A-Za-z]+)"),
    ("MMM", r"(?P<monthname>[A-Za-z]{3,4})"),
    ("MM", r"(?P<month>\d{2})"),
    ("M", r"(?P<month>\d{1,2})"),
    ("DD", r"(?P<day>\d{2})"),
    ("D", r"(?P<day>\d{1,2})"),
]


@dataclass(frozen=True)
class Split:
    """One column written into two (or more) fields: `targets[n]` gets part n."""

    header: str
    separator: str
    targets: tuple[str, ...]

    def synthetic(self, target: str) -> str:
        return f"{self.header} → {target}"


@dataclass(frozen=True)
class Lookup:
    header: str
    entity: str
    by: str


@dataclass
class ColumnTransforms:
    """What the transformations of an import do: the rules per header, the columns splits
    add (as headers named "<header> → <field>", mapped to their fields), the columns a join
    consumed or a split replaced (to be ignored unless mapped), and the lookups to run."""

    rules: dict[str, list[CellRule]] = field(default_factory=dict)
    splits: list[Split] = field(default_factory=list)
    consumed: set[str] = field(default_factory=set)
    lookups: list[Lookup] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rules or self.splits or self.lookups)

    def headers(self, headers: list[str]) -> list[str]:
        return [*headers, *(s.synthetic(t) for s in self.splits for t in s.targets)]

    def mapping(self, mapping: dict[str, Any] | None) -> dict[str, Any]:
        """The import's mapping with the split columns' fields and the consumed columns."""
        mapping = dict(mapping or {})
        for split in self.splits:
            for target in split.targets:
                mapping.setdefault(target, split.synthetic(target))
        mapped = {str(value).casefold() for key, value in mapping.items() if key != "_ignore"}
        ignored = list(mapping.get("_ignore", []))
        ignored += [name for name in self.consumed if name.casefold() not in mapped]
        if ignored:
            mapping["_ignore"] = ignored
        return mapping

    def apply(self, rows: Iterable[tuple[int, Row]]) -> Iterator[tuple[int, Row]]:
        for row_number, row in rows:
            yield row_number, self.row(row)

    def row(self, row: Row) -> Row:
        original = row
        row = dict(row)
        for header, rules in self.rules.items():
            value = original.get(header) or ""
            for rule in rules:
                value = rule(value, original)
            row[header] = value
        for split in self.splits:
            text = row.get(split.header) or ""
            parts = [part.strip() for part in text.split(split.separator, len(split.targets) - 1)]
            parts += [""] * (len(split.targets) - len(parts))
            for target, part in zip(split.targets, parts, strict=True):
                row[split.synthetic(target)] = part
        return row


def transforms_object(raw: Any) -> dict | None:
    """The `transforms` option as sent (JSON text or an object), unchecked; None if blank."""
    return json_object(raw, "transforms", 'an object {"column": [{"type": …}, …]}')


def parse_transforms(raw: Any, headers: list[str] | None = None) -> ColumnTransforms:
    """{header: [transformation, …]} (or its JSON) → ColumnTransforms; INVALID_MAPPING naming
    every column whose transformations cannot work (or, with `headers`, that the file lacks)."""
    raw = transforms_object(raw)
    if raw is None:
        return ColumnTransforms()
    folded = {header.casefold(): header for header in headers or () if header}
    result, problems = ColumnTransforms(), []
    for column, steps in raw.items():
        header = folded.get(str(column).strip().casefold(), column) if headers else column
        if headers is not None and str(column).strip().casefold() not in folded:
            problems.append(_problem(column, f"Column '{column}' is not in the file."))
            continue
        try:
            _add_column(result, header, steps)
        except ValueError as error:
            problems.append(_problem(column, str(error)))
    if problems:
        names = ", ".join(problem["field"] for problem in problems)
        raise mapping_error(f"Transformations that cannot work, for column {names}.", problems)
    return result


def _problem(column: str, message: str) -> dict:
    return {"field": column, "message": message, "code": "INVALID_TRANSFORM"}


def _add_column(result: ColumnTransforms, header: str, steps: Any) -> None:
    if isinstance(steps, dict):
        steps = [steps]
    if not isinstance(steps, list):
        raise ValueError('Give a list of transformations, e.g. [{"type": "trim"}].')
    rules = []
    for step in steps:
        if not isinstance(step, dict) or step.get("type") not in TYPES:
            kind = step.get("type") if isinstance(step, dict) else step
            raise ValueError(f"Unknown transformation {kind!r}; one of: {', '.join(TYPES)}.")
        kind = step["type"]
        if kind == "split":
            result.splits.append(_split(header, step))
            result.consumed.add(header)
        elif kind == "lookup":
            result.lookups.append(_lookup(header, step))
        else:
            if kind == "join":
                result.consumed.update(_columns(step))
            rules.append(RULES[kind](step))
    if rules:
        result.rules[header] = rules


def _argument(step: dict, name: str, kind: type | tuple = str) -> Any:
    value = step.get(name)
    if value is None or not isinstance(value, kind) or value == "":
        raise ValueError(f"{step['type']} needs '{name}'.")
    return value


# Cell rules: each takes the step's arguments and returns (value, row) → value -------------


def _trim(step: dict) -> CellRule:
    return lambda value, row: " ".join(value.split())


def _case(step: dict) -> CellRule:
    to = step.get("to")
    if to not in CASES:
        raise ValueError(f"case needs 'to': one of {', '.join(CASES)}.")
    convert = CASES[to]
    return lambda value, row: convert(value)


def _date(step: dict) -> CellRule:
    pattern = date_pattern(_argument(step, "format"))

    def rule(value: str, row: Row) -> str:
        parsed = read_date(pattern, value.strip())
        return parsed.isoformat() if parsed else value

    return rule


def date_pattern(text: str) -> re.Pattern:
    """ "DD/MM/YYYY" → a regular expression with named groups; refuses a format naming no
    day, month or year, or one of them twice."""
    pattern, position = "", 0
    seen = set()
    while position < len(text):
        for token, regex in _DATE_TOKENS:
            if text.startswith(token, position):
                part = token[0]
                if part in seen:
                    raise ValueError(f"date format {text!r} names {token} twice.")
                seen.add(part)
                pattern += regex
                position += len(token)
                break
        else:
            char = text[position]
            if char.isalnum():
                raise ValueError(
                    f"date format {text!r}: {char!r} is not DD, D, MM, M, MMM, MMMM, YYYY or YY."
                )
            pattern += r"\s*" if char == " " else re.escape(char)
            position += 1
    if seen != {"D", "M", "Y"}:
        raise ValueError(f"date format {text!r} must name a day, a month and a year.")
    return re.compile(pattern, re.IGNORECASE)


def read_date(pattern: re.Pattern, value: str) -> date | None:
    match = pattern.fullmatch(value)
    if not match:
        return None
    parts = match.groupdict()
    year = int(parts["year"]) if parts.get("year") else 2000 + int(parts["year2"])
    month = _MONTHS.get((parts.get("monthname") or "").lower()) or int(parts.get("month") or 0)
    try:
        return date(year, month, int(parts["day"]))
    except ValueError:
        return None


def _number(step: dict) -> CellRule:
    decimal_comma = step.get("decimalComma", False)
    thousands = step.get("thousands", "." if decimal_comma else ",")
    if not isinstance(decimal_comma, bool) or not isinstance(thousands, str):
        raise ValueError("number takes decimalComma (true/false) and thousands (a separator).")
    point = "," if decimal_comma else "."
    if thousands == point:
        raise ValueError("number: the thousands separator cannot be the decimal point.")

    def rule(value: str, row: Row) -> str:
        text = _CURRENCY.sub("", value).strip().replace(" ", "").replace("\u00a0", "")
        negative = text.startswith("(") and text.endswith(")")
        text = text.strip("()")
        if thousands:
            text = text.replace(thousands, "")
        text = text.replace(point, ".")
        if text.endswith("-"):  # "150-", as some ledgers print a credit
            text, negative = text[:-1], True
        try:
            number = Decimal(text)
        except InvalidOperation:
            return value
        return format(-number if negative else number, "f")

    return rule


def _map(step: dict) -> CellRule:
    table: dict[str, str] = {}
    built_in = step.get("builtIn")
    if built_in is not None:
        if built_in not in BUILT_IN_MAPS:
            raise ValueError(
                f"map: no built-in map {built_in!r}; one of {', '.join(BUILT_IN_MAPS)}."
            )
        table.update(BUILT_IN_MAPS[built_in])
    values = step.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise ValueError('map needs \'values\': {"from": "to", …} (or builtIn: "country").')
    if not values and not table:
        raise ValueError("map needs 'values' or 'builtIn'.")
    table.update({str(key).strip().casefold(): value for key, value in values.items()})
    codes = built_in == "country"

    def rule(value: str, row: Row) -> str:
        key = value.strip().casefold()
        if key in table:
            return table[key]
        if codes and key.upper() in COUNTRY_CODES:
            return key.upper()
        return value

    return rule


def _default(step: dict) -> CellRule:
    if not isinstance(step.get("value"), str | int | float | bool):
        raise ValueError("default needs 'value'.")
    fallback = str(step["value"])
    return lambda value, row: value if value.strip() else fallback


def _columns(step: dict) -> list[str]:
    columns = _argument(step, "columns", list)
    if not all(isinstance(column, str) and column for column in columns):
        raise ValueError("join needs 'columns': the names of the columns to add.")
    return columns


def _join(step: dict) -> CellRule:
    others = _columns(step)
    separator = step.get("separator", " ")
    if not isinstance(separator, str):
        raise ValueError("join's separator must be text.")

    def rule(value: str, row: Row) -> str:
        parts = [value.strip(), *((row.get(column) or "").strip() for column in others)]
        return separator.join(part for part in parts if part)

    return rule


def _split(header: str, step: dict) -> Split:
    separator = _argument(step, "separator")
    targets = _argument(step, "into", list)
    if len(targets) < 2 or not all(isinstance(t, str) and t for t in targets):
        raise ValueError("split needs 'into': two or more field names.")
    return Split(header, separator, tuple(targets))


def _lookup(header: str, step: dict) -> Lookup:
    entity = _argument(step, "entity")
    if entity not in LOOKUP_ENTITIES:
        raise ValueError(f"lookup: entity is one of {', '.join(LOOKUP_ENTITIES)}.")
    by = step.get("by", "name")
    if by not in LOOKUP_FIELDS:
        raise ValueError(f"lookup: by is one of {', '.join(LOOKUP_FIELDS)}.")
    return Lookup(header, entity, by)


RULES: dict[str, Callable[[dict], CellRule]] = {
    "trim": _trim,
    "case": _case,
    "date": _date,
    "number": _number,
    "map": _map,
    "default": _default,
    "join": _join,
}


# Lookups: a record's name → its id, one query per chunk ------------------------------------

LOOKUP_FIELDS = {"name": "name", "code": "code", "email": "email", "externalId": "external_id"}


def resolve_lookups(chunk: FileChunk, lookups: list[tuple[Lookup, tuple[str, ...], bool]], company):
    """Replace, in each operation of the chunk, the looked-up names by the records' ids:
    `lookups` holds (lookup, the field's path, whether it is a line field). A name no record
    of the company has is that operation's problem, naming the column and the value."""
    for lookup, path, in_lines in lookups:
        places = list(_places(chunk, path, in_lines))
        names = {value for _, _, value in places}
        ids = _ids(lookup, names, company) if names else {}
        for index, holder, value in places:
            found = ids.get(value.casefold())
            if found is not None:
                holder[path[-1]] = found
            else:
                chunk.problems[index].append(
                    Detail(
                        ".".join(path),
                        f"Column '{lookup.header}': no {lookup.entity[:-1]} with {lookup.by} "
                        f"'{value}'.",
                        ErrorCode.REFERENCE_ERROR,
                    )
                )


def _places(chunk: FileChunk, path: tuple[str, ...], in_lines: bool):
    """(operation index, the dict holding the field, its value) for every filled one."""
    for index, operation in enumerate(chunk.operations):
        data = operation["data"]
        holders = data.get(chunk.list_name) or [] if in_lines else [_holder(data, path)]
        for holder in holders:
            value = holder.get(path[-1]) if isinstance(holder, dict) else None
            if isinstance(value, str) and value:
                yield index, holder, value


def _holder(data: dict, path: tuple[str, ...]) -> dict:
    for part in path[:-1]:
        data = data.get(part) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _ids(lookup: Lookup, names: set[str], company) -> dict[str, str]:
    model = get_handler(lookup.entity).model  # one of LOOKUP_ENTITIES: all have handlers
    column = LOOKUP_FIELDS[lookup.by]
    if column not in {f.name for f in model._meta.concrete_fields}:
        return {}
    folded: dict[str, str] = {}
    query = (
        model.objects.filter(company=company)
        .annotate(lookup_key=Lower(column))
        .filter(lookup_key__in={name.lower() for name in names})
        .order_by("pk")
    )
    for value, public_id in query.values_list("lookup_key", "public_id"):
        folded.setdefault(value.casefold(), public_id)
    return folded
