"""The admin import's mapping step: the file's headers beside the entity's fields, proposed
automatically (or as a saved mapping profile for files with these headers had them), with
a few sample values of each column, so a file whose headers are not the template's is
mapped here instead of being refused. What the person chooses becomes the import's
`mapping` option ({apiField: header, "_ignore": [headers]}) and, per column, one of the
common transformations (COMMON_TRANSFORMS, declared as batch.files.transforms reads them)
or those the profile it was proposed from has for it; it can be saved as a named mapping
profile of the company and entity. Other transformations (split, join, lookup, defaults)
are declared through the API's profiles and kept here as they are."""

from dataclasses import dataclass

from batch.engine.handlers import Handler
from batch.files.columns import layout_for
from batch.files.proposals import UNMAPPED, propose
from batch.models import MappingProfile
from batch.services.profiles import company_profiles, matching_profile, save_profile
from bigledger.models import Company

SAMPLE_ROWS = 3
SAMPLES_SHOWN = 3
IGNORE = ""  # the select's value for "do not import this column"
PROFILE_NAME_MAX = 100
NONE = ""  # the transformation select's "as written"
KEPT = "kept"  # the transformation select's "as the profile has it" (set through the API)

# The transformation select's choices: key → (label, the transformations, as a profile's).
COMMON_TRANSFORMS: dict[str, tuple[str, list[dict]]] = {
    "trim": ("Trim spaces", [{"type": "trim"}]),
    "upper": ("UPPER CASE", [{"type": "case", "to": "upper"}]),
    "lower": ("lower case", [{"type": "case", "to": "lower"}]),
    "title": ("Title Case", [{"type": "case", "to": "title"}]),
    "date-dmy": ("Date DD/MM/YYYY", [{"type": "date", "format": "DD/MM/YYYY"}]),
    "date-mdy": ("Date MM/DD/YYYY", [{"type": "date", "format": "MM/DD/YYYY"}]),
    "number": ("Number 1,234.56", [{"type": "number"}]),
    "number-comma": ("Number 1.234,56", [{"type": "number", "decimalComma": True}]),
    "yes-no": (
        "Y/N \u2192 true/false",
        [{"type": "map", "values": {"Y": "true", "N": "false", "Yes": "true", "No": "false"}}],
    ),
    "yes-no-status": (
        "Y/N \u2192 active/inactive",
        [
            {
                "type": "map",
                "values": {"Y": "active", "N": "inactive", "Yes": "active", "No": "inactive"},
            }
        ],
    ),
    "country": ("Country \u2192 code", [{"type": "map", "builtIn": "country"}]),
}


@dataclass
class HeaderChoice:
    """One header of the file, the field it is read into (None: ignored) and why."""

    index: int
    header: str
    field: str | None
    how: str  # "profile", "chosen", or how batch.files.proposals matched it ("unmapped")
    samples: list[str]
    transform: str = NONE  # a key of COMMON_TRANSFORMS, KEPT or NONE

    @property
    def input_name(self) -> str:
        return f"column-{self.index}"

    @property
    def transform_name(self) -> str:
        return f"transform-{self.index}"


def field_choices(handler: type[Handler]) -> list[tuple[str, str]]:
    """The select's options: "ignore", then every column the entity's files may carry."""
    columns = layout_for(handler).input_columns
    return [(IGNORE, "— do not import —"), *((column.name, column.name) for column in columns)]


def transform_choices(profile: MappingProfile | None) -> list[tuple[str, str]]:
    """The transformation select's options; "as the profile has it" when it has others."""
    kept = [(KEPT, "As in the profile")] if profile is not None and _has_others(profile) else []
    common = [(key, label) for key, (label, _) in COMMON_TRANSFORMS.items()]
    return [(NONE, "\u2014 as written \u2014"), *common, *kept]


def transform_key(steps: list[dict] | None) -> str:
    """The select's key for a column's transformations: a common one, none, or KEPT."""
    if not steps:
        return NONE
    for key, (_, common) in COMMON_TRANSFORMS.items():
        if steps == common:
            return key
    return KEPT


def _has_others(profile: MappingProfile) -> bool:
    return any(transform_key(column.get("transforms")) == KEPT for column in profile.columns)


def proposed_choices(
    handler: type[Handler], company: Company, headers: list[str], sample_rows: list[dict]
) -> tuple[list[HeaderChoice], MappingProfile | None]:
    """Each header's proposed field: a saved profile's for files with these headers, else
    what batch.files.proposals matches."""
    profile = saved_profile(company, handler.entity, headers)
    samples = {header: _samples(header, sample_rows) for header in headers}
    if profile is not None:
        fields = {column["header"]: column.get("field") or None for column in profile.columns}
        steps = {column["header"]: column.get("transforms") for column in profile.columns}
        choices = [
            HeaderChoice(
                index,
                header,
                fields.get(header),
                "profile",
                samples[header],
                transform_key(steps.get(header)),
            )
            for index, header in enumerate(headers)
        ]
        return choices, profile
    proposals = {proposal.header: proposal for proposal in propose(handler, headers, sample_rows)}
    choices = []
    for index, header in enumerate(headers):
        proposal = proposals.get(header)
        field, how = (proposal.field, proposal.how) if proposal else (None, UNMAPPED)
        choices.append(HeaderChoice(index, header, field, how, samples[header]))
    return choices, None


def saved_profile(company: Company, entity: str, headers: list[str]) -> MappingProfile | None:
    """The company's profile for files with these headers (batch.files.proposals.headers_key)."""
    return matching_profile(company=company, entity=entity, headers=headers)


def _samples(header: str, sample_rows: list[dict]) -> list[str]:
    values = [row.get(header, "") for row in sample_rows]
    return [value for value in values if value not in (None, "")][:SAMPLES_SHOWN]


def chosen_choices(
    handler: type[Handler], headers: list[str], sample_rows: list[dict], posted
) -> tuple[list[HeaderChoice], list[str]]:
    """The choices the mapping form posted, and what is wrong with them (a field chosen
    for two columns, a field the entity does not have, an unknown transformation, nothing
    chosen at all)."""
    known = {name for name, _ in field_choices(handler)}
    transforms = {NONE, KEPT, *COMMON_TRANSFORMS}
    choices, errors, taken = [], [], {}
    for index, header in enumerate(headers):
        field = posted.get(f"column-{index}", IGNORE)
        transform = posted.get(f"transform-{index}", KEPT)  # absent: as the profile has it
        if field not in known:
            errors.append(f"Column '{header}': choose one of the fields.")
            field = IGNORE
        elif field != IGNORE and field in taken:
            errors.append(f"Columns '{taken[field]}' and '{header}' are both mapped to {field}.")
        elif field != IGNORE:
            taken[field] = header
        if transform not in transforms:
            errors.append(f"Column '{header}': choose one of the transformations.")
            transform = NONE
        samples = _samples(header, sample_rows)
        choices.append(HeaderChoice(index, header, field or None, "chosen", samples, transform))
    if not any(choice.field for choice in choices):
        errors.append("Map at least one column to a field.")
    return choices, errors


def proposed_profile(company: Company, entity: str, posted) -> MappingProfile | None:
    """The profile the mapping screen proposed (its hidden `profile`), for its transforms."""
    key = posted.get("profile", "")
    if not key.isdigit():
        return None
    return company_profiles(company=company, entity=entity).filter(pk=int(key)).first()


def chosen_columns(choices: list[HeaderChoice], profile: MappingProfile | None) -> list[dict]:
    """The choices as a profile's columns: each header's chosen common transformation, or
    (KEPT) the ones the proposed profile has for it."""
    kept = {
        column["header"]: column.get("transforms") or []
        for column in (profile.columns if profile else [])
    }
    return [
        {
            "header": choice.header,
            "field": choice.field or "",
            "transforms": chosen_steps(choice, kept.get(choice.header, [])),
        }
        for choice in choices
    ]


def chosen_steps(choice: HeaderChoice, kept: list[dict]) -> list[dict]:
    if choice.transform == KEPT:
        return kept
    return COMMON_TRANSFORMS[choice.transform][1] if choice.transform else []


def save_columns(*, company: Company, entity: str, name: str, columns: list[dict], user):
    """Save the columns as the company's named mapping profile of the entity; a profile of
    that name is replaced. Raises RequestError for a name or columns it refuses."""
    profile = company_profiles(company=company, entity=entity).filter(name=name).first()
    return save_profile(
        company=company, user=user, entity=entity, name=name, columns=columns, profile=profile
    )
