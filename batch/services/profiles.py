"""Mapping profiles: a company's named column mappings per entity (which header feeds which
field, with what transformations), saved from the mapping screen or the API, proposed again
when a file with the same headers comes back, and named by `mappingProfile` on an import.

A profile's columns are [{"header", "field" (blank: ignored), "transforms": [...]}]; as an
import's mapping they become {field: header}, "_ignore" and {header: transforms}."""

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from batch.engine.codes import RequestCode
from batch.files.columns import layout_for
from batch.files.mapping import IGNORE_KEY, mapping_error
from batch.files.proposals import Proposal, headers_key, propose
from batch.files.transforms import parse_transforms
from batch.models import MappingProfile
from batch.services.batches import handler_for
from bigledger.errors import Conflict, NotFound, RequestError
from bigledger.models import Company

MAX_NAME = 100


@dataclass(frozen=True)
class ProfileMapping:
    """What a profile (or an import's own options) asks of the file."""

    mapping: dict[str, Any]
    transforms: dict[str, list]


def profile_mapping(columns: list[dict]) -> ProfileMapping:
    mapping: dict[str, Any] = {}
    ignored, transforms = [], {}
    for column in columns:
        header, field_name = column["header"], column.get("field") or ""
        if field_name:
            mapping[field_name] = header
        elif not _splits(column):
            ignored.append(header)
        if column.get("transforms"):
            transforms[header] = column["transforms"]
    if ignored:
        mapping[IGNORE_KEY] = ignored
    return ProfileMapping(mapping, transforms)


def _splits(column: dict) -> bool:
    return any(step.get("type") == "split" for step in column.get("transforms") or ())


def check_columns(entity: str, raw: Any) -> list[dict]:
    """A profile's columns as stored, or INVALID_MAPPING naming each column that is wrong."""
    layout = layout_for(handler_for(entity))
    if not isinstance(raw, list) or not raw:
        raise mapping_error('columns must be a list of {"header", "field", "transforms"}.')
    columns, problems, seen = [], [], set()
    for position, column in enumerate(raw):
        if not isinstance(column, dict) or not isinstance(column.get("header"), str):
            problems.append(_problem(f"columns[{position}]", "Needs a header (text)."))
            continue
        header = column["header"]
        field_name = column.get("field") or ""
        if not isinstance(field_name, str):
            problems.append(_problem(header, "field must be a field name or blank."))
        elif field_name and (layout.resolve(field_name) is None or field_name in seen):
            message = "Mapped more than once." if field_name in seen else "Not a field."
            problems.append(_problem(header, f"{field_name}: {message}"))
        else:
            seen.add(field_name)
        transforms = column.get("transforms") or []
        columns.append({"header": header, "field": field_name, "transforms": transforms})
    if problems:
        raise mapping_error(f"The profile's columns do not fit {entity}.", problems)
    parse_transforms({c["header"]: c["transforms"] for c in columns if c["transforms"]})
    return columns


def _problem(name: str, message: str) -> dict:
    return {"field": name, "message": message, "code": "INVALID_COLUMN"}


def _name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > MAX_NAME:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            f"name must be text of 1 to {MAX_NAME} characters.",
            details=[{"field": "name", "message": "Required.", "code": "REQUIRED"}],
        )
    return raw.strip()


def company_profiles(*, company: Company, entity: str | None = None):
    profiles = MappingProfile.objects.filter(company=company)
    return profiles.filter(entity=entity) if entity else profiles


def find_profile(*, company: Company, key: str, entity: str | None = None) -> MappingProfile:
    """A profile by its id or, within an entity, its name; NotFound naming it otherwise."""
    profiles = company_profiles(company=company, entity=entity)
    profile = None
    if str(key).isdigit():
        profile = profiles.filter(pk=int(key)).first()
    if profile is None:
        profile = profiles.filter(name=key).order_by("entity").first()
    if profile is None:
        raise NotFound(RequestCode.NOT_FOUND, f"No mapping profile '{key}'.")
    return profile


def import_profile(*, company: Company, entity: str, name: str) -> ProfileMapping:
    """The mapping an import's `mappingProfile` names; an unknown one is a 400 naming it."""
    profile = company_profiles(company=company, entity=entity).filter(name=name).first()
    if profile is None:
        raise RequestError(
            RequestCode.INVALID_MAPPING,
            f"No mapping profile '{name}' for {entity}.",
            details=[{"field": "mappingProfile", "message": f"Unknown: {name}", "code": "UNKNOWN"}],
        )
    return profile_mapping(profile.columns)


def matching_profile(*, company: Company, entity: str, headers: list[str]):
    """The company's saved profile for files with these headers, most recently saved first."""
    key = headers_key(headers)
    profiles = company_profiles(company=company, entity=entity).filter(headers_key=key)
    return profiles.order_by("-updated_at").first()


def save_profile(
    *,
    company: Company,
    user,
    entity: str,
    name: Any,
    columns: Any,
    profile: MappingProfile | None = None,
) -> MappingProfile:
    """Create (or, given `profile`, replace) a profile; its headers_key is its headers'."""
    handler_for(entity)
    name, columns = _name(name), check_columns(entity, columns)
    if profile is None:
        profile = MappingProfile(company=company, entity=entity, created_by=user)
    profile.name, profile.columns = name, columns
    profile.headers_key = headers_key([column["header"] for column in columns])
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError:
        raise Conflict(
            RequestCode.INVALID_REQUEST, f"{entity} already has a mapping profile '{name}'."
        ) from None
    return profile


def proposals_for(
    *, company: Company, entity: str, headers: list[str], samples: list[dict[str, str]]
) -> tuple[list[Proposal], MappingProfile | None]:
    """The proposed mapping of a file's headers, and the saved profile its headers match."""
    proposals = propose(handler_for(entity), headers, samples)
    return proposals, matching_profile(company=company, entity=entity, headers=headers)


def profile_json(profile: MappingProfile) -> dict:
    return {
        "id": profile.pk,
        "entity": profile.entity,
        "name": profile.name,
        "columns": profile.columns,
        "headersKey": profile.headers_key,
        "createdAt": profile.created_at,
        "updatedAt": profile.updated_at,
    }
