"""A whole migration in one request (POST /v1/batch, docs/api.md "Migrations in one
request"): operations of several entities, each naming its `entity`, that name each other
with "$ref:<referenceId>" wherever an id of another record is taken.

This module reads the request into steps and their graph: what each step refers to, and its
stage — the first turn of its entity, in rounds over ENTITY_ORDER, after everything it refers
to. Without references, entities run in ENTITY_ORDER (accounts before the items that post to
them, customers before their invoices, invoices before their payments), so a reference by
number, code or external id to a record the request creates works too. batch.engine.stages
runs the stages; `plan_chunks` cuts a large request into the chunks of an async job, each
group whole and each chunk after what it refers to."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from batch.engine.codes import FieldCode, RequestCode
from batch.engine.envelope import BatchOptions, Operation, envelope_parts, parse_operations
from batch.engine.fields import Detail
from batch.engine.handlers import Handler, get_handler
from batch.engine.unicode import displayable
from bigledger.errors import RequestError

REF = "$ref:"
COMPOSITE = "batch"  # the entity a composite batch is listed under (GET /v1/batch/jobs)
# The order entities run in when nothing else decides it: each before what refers to it.
ENTITY_ORDER = (
    "accounts",
    "customers",
    "suppliers",
    "items",
    "stock-adjustments",
    "invoices",
    "bills",
    "payments",
    "journal-entries",
)
ENVELOPE_KEYS = {"entity", "operation", "referenceId", "data", "group"}


@dataclass
class Step:
    """One operation of a composite request, with where it stands in the graph."""

    op: Operation
    entity: str
    group: str | None = None
    refs: list[tuple[str, str]] = field(default_factory=list)  # (field path, referenceId)
    targets: dict[str, int] = field(default_factory=dict)  # referenceId -> step index
    stage: int = -1
    refused: Detail | None = None  # what makes it fail before any stage: a bad entity

    @property
    def index(self) -> int:
        return self.op.index

    @property
    def rank(self) -> int:
        return ENTITY_ORDER.index(self.entity) if self.refused is None else 0

    @property
    def depends_on(self) -> list[int]:
        return list(dict.fromkeys(self.targets.values()))

    @property
    def handler(self) -> type[Handler] | None:
        return get_handler(self.entity) if self.refused is None else None


@dataclass
class CompositeRequest:
    steps: list[Step]
    options: BatchOptions

    @cached_property
    def entities(self) -> list[str]:
        return sorted({step.entity for step in self.steps if step.refused is None})


# Parsing -------------------------------------------------------------------------------------


def parse_composite_request(payload: Any) -> CompositeRequest:
    """The request's steps, their references resolved to steps and their stages set; a
    reference cycle is a request error naming the referenceIds in it."""
    options, raw = envelope_parts(payload)
    return composite_request(raw, options)


def composite_request(raw: list[dict], options: BatchOptions) -> CompositeRequest:
    """parse_composite_request() of the envelope's operations and options, read already."""
    operations = parse_operations(raw)
    steps = [_step(op, source) for op, source in zip(operations, raw, strict=True)]
    request = CompositeRequest(steps=steps, options=options)
    _check_match_on(request)
    _link(steps)
    stage_steps(steps)
    return request


def _check_match_on(request: CompositeRequest) -> None:
    """Each field options.matchOn names must be one some entity of the request matches on;
    each entity then matches on the ones it takes (match_on_for)."""
    taken = {
        name
        for entity in request.entities
        for name in (get_handler(entity).match_fields + get_handler(entity).extra_match_fields)
    }
    unknown = [name for name in request.options.match_on if name not in taken]
    if unknown:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            f"options.matchOn: no entity of this request matches on {', '.join(unknown)}.",
            details=[{"field": "options.matchOn", "message": f"Takes {', '.join(sorted(taken))}."}],
        )


def match_on_for(handler: type[Handler], options: BatchOptions) -> BatchOptions:
    """The options as `handler` takes them: of matchOn, the fields it matches on."""
    allowed = (*handler.match_fields, *handler.extra_match_fields)
    return replace(options, match_on=tuple(name for name in options.match_on if name in allowed))


def _step(op: Operation, raw: dict) -> Step:
    extra = sorted(raw.keys() - ENVELOPE_KEYS)
    if extra:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            f"operations[{op.index}] has unknown key {', '.join(map(str, extra))}.",
        )
    step = Step(op=op, entity=raw.get("entity"), group=_group(raw.get("group"), op.index))
    if not isinstance(step.entity, str) or get_handler(step.entity) is None:
        shown = displayable(step.entity) if isinstance(step.entity, str) else step.entity
        step.entity = shown if isinstance(shown, str) else ""
        message = f"entity must be one of {', '.join(ENTITY_ORDER)}; not {shown!r}."
        step.refused = Detail("entity", message, FieldCode.INVALID_CHOICE)
    step.refs = list(_refs(op.data))
    return step


def _group(raw: Any, index: int) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw):
        return str(raw)
    raise RequestError(
        RequestCode.INVALID_REQUEST, f"operations[{index}].group must be a string or a number."
    )


def _refs(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every "$ref:<referenceId>" in an operation's data, with the field it stands in."""
    if isinstance(value, str):
        if value.startswith(REF):
            yield path, value[len(REF) :]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _refs(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _refs(item, f"{path}[{position}]")


def _link(steps: list[Step]) -> None:
    by_reference = {step.op.reference_id: step.index for step in steps if step.op.reference_id}
    for step in steps:
        for _, reference_id in step.refs:
            if reference_id in by_reference:
                step.targets[reference_id] = by_reference[reference_id]


def first_turn(rank: int, after: int) -> int:
    """The first stage of an entity of `rank` after stage `after`: stages go round
    ENTITY_ORDER, one entity each."""
    width = len(ENTITY_ORDER)
    turn = (after - rank) // width + 1 if after >= rank else 0
    return turn * width + rank


def stage_steps(steps: list[Step]) -> None:
    """Each step's stage: the first turn of its entity after every stage it depends on (a
    step outside `steps`, done in an earlier chunk, counts as before everything). Refuses a
    cycle, naming the referenceIds that make it."""
    by_index = {step.index: step for step in steps}
    state: dict[int, str] = {}  # "open" while its dependencies are staged, then "done"

    def visit(start: int) -> None:
        stack = [(start, iter(by_index[start].depends_on))]
        state[start] = "open"
        while stack:
            index, pending = stack[-1]
            target = next(pending, None)
            if target is None:
                stack.pop()
                state[index] = "done"
                step = by_index[index]
                after = max(
                    (by_index[t].stage for t in step.depends_on if t in by_index), default=-1
                )
                step.stage = first_turn(step.rank, after)
            elif target not in by_index:
                continue
            elif state.get(target) == "open":
                cycle = [i for i, _ in stack[[i for i, _ in stack].index(target) :]]
                _refuse_cycle(by_index, cycle)
            elif target not in state:
                state[target] = "open"
                stack.append((target, iter(by_index[target].depends_on)))

    for step in steps:
        if step.index not in state:
            visit(step.index)


def _refuse_cycle(by_index: dict[int, Step], cycle: list[int]) -> None:
    names = [str(by_index[i].op.reference_id) for i in cycle]
    raise RequestError(
        RequestCode.INVALID_REQUEST,
        f"The operations refer to each other in a cycle: {' → '.join([*names, names[0]])}.",
        details=[
            {"field": f"operations[{i}].referenceId", "referenceId": by_index[i].op.reference_id}
            for i in cycle
        ],
    )


# Async jobs: chunks and their stored form ----------------------------------------------------


def plan_chunks(steps: list[Step], capacity: int) -> list[list[Step]]:
    """The steps cut into chunks of at most `capacity`, in an order where every chunk comes
    after the chunks it refers to. A group is never cut: its steps are one unit, placed at
    the latest stage any of them needs; units are packed in stage order. A group larger than
    `capacity`, or groups that refer to each other both ways, are refused."""
    unit_of = {
        step.index: (("group", step.group) if step.group else ("step", step.index))
        for step in steps
    }
    units: dict[tuple, list[Step]] = defaultdict(list)
    for step in steps:
        units[unit_of[step.index]].append(step)
    for key, members in units.items():
        if len(members) > capacity:
            raise RequestError(
                RequestCode.INVALID_REQUEST,
                f"Group '{key[1]}' has {len(members)} operations; a group takes at most "
                f"{capacity}.",
            )
    stage = _unit_stages(units, unit_of)
    order = sorted(units, key=lambda key: (stage[key], units[key][0].index))
    chunks: list[list[Step]] = [[]]
    for key in order:
        if len(chunks[-1]) + len(units[key]) > capacity:
            chunks.append([])
        chunks[-1].extend(units[key])
    return [sorted(chunk, key=lambda step: step.index) for chunk in chunks if chunk]


def _unit_stages(units: dict[tuple, list[Step]], unit_of: dict[int, tuple]) -> dict[tuple, int]:
    """Each unit's stage: the latest first turn any member's entity has after every unit
    the unit refers to."""
    needs = {
        key: {unit_of[t] for step in members for t in step.depends_on} - {key}
        for key, members in units.items()
    }
    stage: dict[tuple, int] = {}
    visiting: set[tuple] = set()
    for start in units:
        stack = [start]
        while stack:
            key = stack[-1]
            if key in stage:
                stack.pop()
                continue
            waiting = [other for other in needs[key] if other not in stage]
            if waiting:
                if any(other in visiting for other in waiting):
                    names = sorted(str(other[1]) for other in [key, *waiting])
                    raise RequestError(
                        RequestCode.INVALID_REQUEST,
                        f"Groups refer to each other both ways: {', '.join(names)}.",
                    )
                visiting.add(key)
                stack.extend(waiting)
                continue
            after = max((stage[other] for other in needs[key]), default=-1)
            stage[key] = max(first_turn(step.rank, after) for step in units[key])
            visiting.discard(key)
            stack.pop()
    return stage


def step_names(step: Step) -> dict:
    """What a composite result says of its step besides the record: entity, and group."""
    if step.group is None:
        return {"entity": step.entity}
    return {"entity": step.entity, "group": step.group}


def resolved_refs(value: Any, made: dict[str, str]) -> Any:
    """`value` with each "$ref:<referenceId>" whose record was made (`made`: referenceId →
    its id) replaced by that id; the other references stay."""
    if isinstance(value, str):
        if value.startswith(REF) and value[len(REF) :] in made:
            return made[value[len(REF) :]]
        return value
    if isinstance(value, dict):
        return {key: resolved_refs(item, made) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved_refs(item, made) for item in value]
    return value


def step_json(step: Step) -> dict:
    """What a job chunk stores of a step, beside the operation (batch.jobs.codec)."""
    body: dict[str, Any] = {"entity": step.entity, "targets": step.targets}
    if step.group is not None:
        body["group"] = step.group
    if step.refused is not None:
        body["refused"] = step.refused.as_json()
    return body


def step_from_json(op: Operation, raw: dict) -> Step:
    refused = raw.get("refused")
    step = Step(
        op=op,
        entity=raw["entity"],
        group=raw.get("group"),
        refs=list(_refs(op.data)),
        targets=raw.get("targets", {}),
        refused=Detail(**refused) if refused else None,
    )
    return step
