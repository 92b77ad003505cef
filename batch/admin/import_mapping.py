"""The admin import's mapping step: the file's headers beside the entity's fields, proposed
automatically (or as a saved mapping profile for files with these headers had them), with
a few sample values of each column, so a file whose headers are not the template's is
mapped here instead of being refused. What the person chooses becomes the import's
`mapping` option ({apiField: header, "_ignore": [headers]}), with the transformations of
the profile it was proposed from, and can be saved as a named mapping profile of the
company and entity."""

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


@dataclass
class HeaderChoice:
    """One header of the file, the field it is read into (None: ignored) and why."""

    index: int
    header: str
    field: str | None
    how: str  # "profile", "chosen", or how batch.files.proposals matched it ("unmapped")
    samples: list[str]

    @property
    def input_name(self) -> str:
        return f"column-{self.index}"


def field_choices(handler: type[Handler]) -> list[tuple[str, str]]:
    """The select's options: "ignore", then every column the entity's files may carry."""
    columns = layout_for(handler).input_columns
    return [(IGNORE, "— do not import —"), *((column.name, column.name) for column in columns)]


def proposed_choices(
    handler: type[Handler], company: Company, headers: list[str], sample_rows: list[dict]
) -> tuple[list[HeaderChoice], MappingProfile | None]:
    """Each header's proposed field: a saved profile's for files with these headers, else
    what batch.files.proposals matches."""
    profile = matching_profile(company=company, entity=handler.entity, headers=headers)
    samples = {header: _samples(header, sample_rows) for header in headers}
    if profile is not None:
        fields = {column["header"]: column.get("field") or None for column in profile.columns}
        choices = [
            HeaderChoice(index, header, fields.get(header), "profile", samples[header])
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


def _samples(header: str, sample_rows: list[dict]) -> list[str]:
    values = [row.get(header, "") for row in sample_rows]
    return [value for value in values if value not in (None, "")][:SAMPLES_SHOWN]


def chosen_choices(
    handler: type[Handler], headers: list[str], sample_rows: list[dict], posted
) -> tuple[list[HeaderChoice], list[str]]:
    """The choices the mapping form posted, and what is wrong with them (a field chosen
    for two columns, a field the entity does not have, nothing chosen at all)."""
    known = {name for name, _ in field_choices(handler)}
    choices, errors, taken = [], [], {}
    for index, header in enumerate(headers):
        field = posted.get(f"column-{index}", IGNORE)
        if field not in known:
            errors.append(f"Column '{header}': choose one of the fields.")
            field = IGNORE
        elif field != IGNORE and field in taken:
            errors.append(f"Columns '{taken[field]}' and '{header}' are both mapped to {field}.")
        elif field != IGNORE:
            taken[field] = header
        choices.append(
            HeaderChoice(index, header, field or None, "chosen", _samples(header, sample_rows))
        )
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
    """The choices as a profile's columns, each header keeping the transformations the
    proposed profile has for it (the screen chooses fields; transformations come with the
    profile or the API)."""
    kept = {
        column["header"]: column.get("transforms") or []
        for column in (profile.columns if profile else [])
    }
    return [
        {
            "header": choice.header,
            "field": choice.field or "",
            "transforms": kept.get(choice.header, []),
        }
        for choice in choices
    ]


def save_columns(*, company: Company, entity: str, name: str, columns: list[dict], user):
    """Save the columns as the company's named mapping profile of the entity; a profile of
    that name is replaced. Raises RequestError for a name or columns it refuses."""
    profile = company_profiles(company=company, entity=entity).filter(name=name).first()
    return save_profile(
        company=company, user=user, entity=entity, name=name, columns=columns, profile=profile
    )
