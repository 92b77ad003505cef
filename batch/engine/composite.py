"""A whole migration in one request (POST /v1/batch, docs/api.md "Migrations in one
request"): operations of several entities, each naming its `entity`, that name each other
with "$ref:<referenceId>" wherever an id of another record is taken.

The request becomes stages: each stage is one entity's operations whose references all point
to earlier stages, run through that entity's handler as one batch (run_batch), so a stage
costs the queries of one batch whatever its size. Without references, entities run in
ENTITY_ORDER (accounts before the items that post to them, customers before their invoices,
invoices before their payments), so a reference by number, code or external id to a record
the request creates also works. Before a stage runs, each "$ref:x" becomes the public id of
what operation x created; an operation whose dependency did not go in is skipped with
DEPENDENCY_FAILED.

Everything runs in one transaction. Operations sharing a `group` succeed together: when one
of a group fails, the transaction is undone and the request runs again without that group
(its failures reported, the rest of it rolled_back); each run settles at least one group, so
this ends. validateOnly runs the whole graph for real and undoes it, so later stages see
what earlier ones would create; rollbackOnError undoes it when anything failed."""

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db import transaction
from django.utils import timezone

from batch.engine.codes import ErrorCode, FieldCode, RequestCode, Status
from batch.engine.envelope import BatchOptions, Operation, parse_operations
from batch.engine.executor import SKIPPED_MESSAGE, count, run_batch
from batch.engine.fields import Detail
from batch.engine.handlers import Handler, get_handler
from batch.engine.records import SUCCESS, Record, RecordError
from batch.engine.unicode import displayable
from bigledger.errors import RequestError
from bigledger.models import Company

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
    if not isinstance(payload, dict):
        raise RequestError(RequestCode.INVALID_REQUEST, "The body must be a JSON object.")
    unknown = sorted(payload.keys() - {"operations", "options"})
    if unknown:
        raise RequestError(RequestCode.INVALID_REQUEST, f"Unknown key: {', '.join(unknown)}.")
    options = BatchOptions.from_json(payload.get("options"))
    raw = payload.get("operations")
    if not isinstance(raw, list) or not raw:
        raise RequestError(
            RequestCode.INVALID_REQUEST, "operations must be a non-empty list of operations."
        )
    operations = parse_operations(raw)
    steps = [_step(op, source) for op, source in zip(operations, raw, strict=True)]
    request = CompositeRequest(steps=steps, options=options)
    for entity in request.entities:
        get_handler(entity).check_options(options)
    _link(steps)
    _stage(steps)
    return request


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
    by_reference = {step.op.reference_id: i for i, step in enumerate(steps) if step.op.reference_id}
    for step in steps:
        for _, reference_id in step.refs:
            if reference_id in by_reference:
                step.targets[reference_id] = by_reference[reference_id]


def _stage(steps: list[Step]) -> None:
    """Each step's stage: the first turn of its entity, in rounds over ENTITY_ORDER, after
    every stage it depends on. Refuses a cycle, naming the referenceIds that make it."""
    width = len(ENTITY_ORDER)
    state: dict[int, str] = {}  # "open" while its dependencies are staged, then "done"

    def visit(start: int) -> None:
        stack = [(start, iter(steps[start].depends_on))]
        state[start] = "open"
        while stack:
            index, pending = stack[-1]
            target = next(pending, None)
            if target is None:
                stack.pop()
                state[index] = "done"
                step = steps[index]
                after = max((steps[t].stage for t in step.depends_on), default=-1)
                rank = ENTITY_ORDER.index(step.entity) if step.refused is None else 0
                turn = max(0, (after - rank) // width + 1) if after >= rank else 0
                step.stage = turn * width + rank
            elif state.get(target) == "open":
                cycle = [i for i, _ in stack[[i for i, _ in stack].index(target) :]]
                _refuse_cycle(steps, cycle)
            elif target not in state:
                state[target] = "open"
                stack.append((target, iter(steps[target].depends_on)))

    for index in range(len(steps)):
        if index not in state:
            visit(index)


def _refuse_cycle(steps: list[Step], cycle: list[int]) -> None:
    names = [str(steps[i].op.reference_id) for i in cycle]
    raise RequestError(
        RequestCode.INVALID_REQUEST,
        f"The operations refer to each other in a cycle: {' → '.join([*names, names[0]])}.",
        details=[
            {"field": f"operations[{i}].referenceId", "referenceId": steps[i].op.reference_id}
            for i in cycle
        ],
    )


# Running -------------------------------------------------------------------------------------


@dataclass
class CompositeOutcome:
    steps: list[Step]
    records: list[Record]  # one per step, in request order
    options: BatchOptions
    started_at: datetime
    completed_at: datetime
    execution_time: float
    rolled_back: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        return Status.ROLLED_BACK if self.rolled_back else Status.COMPLETED

    @cached_property
    def results(self) -> list[dict]:
        return [
            {"index": r.op.index, "entity": s.entity, **r.result_json()}
            for s, r in zip(self.steps, self.records, strict=True)
        ]


class _Undo(Exception):
    def __init__(self, *, again: bool = False, rolled_back: bool = False):
        super().__init__()
        self.again = again
        self.rolled_back = rolled_back


def run_composite(*, company: Company, user, request: CompositeRequest) -> CompositeOutcome:
    started_at, clock = timezone.now(), time.perf_counter()
    steps, options = request.steps, request.options
    settled: dict[int, Record] = {
        i: _refused(step) for i, step in enumerate(steps) if step.refused is not None
    }
    groups = {step.group for step in steps if step.group is not None}
    rolled_back = False
    for _ in range(len(groups) + 1):  # each rerun settles at least one group
        try:
            with transaction.atomic():
                records = _run_stages(company, user, steps, options, settled)
                failed = _failed_groups(steps, records, settled)
                if failed:
                    _settle_groups(steps, records, failed, settled)
                    raise _Undo(again=True)
                _conclude(records, options)
        except _Undo as undo:
            if undo.again:
                continue
            rolled_back = undo.rolled_back
        break
    ordered = [records[i] for i in range(len(steps))]
    return CompositeOutcome(
        steps=steps,
        records=ordered,
        options=options,
        started_at=started_at,
        completed_at=timezone.now(),
        execution_time=round(time.perf_counter() - clock, 4),
        rolled_back=rolled_back,
        counts=count(ordered),
    )


def _run_stages(company, user, steps, options, settled) -> dict[int, Record]:
    """One run of every stage in order; returns every step's record, settled ones included."""
    records: dict[int, Record] = dict(settled)
    stages: dict[int, list[int]] = defaultdict(list)
    for index, step in enumerate(steps):
        if index not in settled:
            stages[step.stage].append(index)
    stage_options = replace(options, validate_only=False, rollback_on_error=False, run_async=False)
    stopped = False
    for stage in sorted(stages):
        indices = stages[stage]
        if stopped:  # continueOnError=false: nothing after the first failure is processed
            for index in indices:
                records[index] = _skipped(steps[index].op, ErrorCode.SKIPPED, SKIPPED_MESSAGE)
            continue
        ready = []
        for index in indices:
            blocked = _blocking(steps[index], records)
            if blocked is None:
                ready.append(index)
            else:
                records[index] = blocked
        if ready:
            outcome = run_batch(
                handler_class=steps[ready[0]].handler,
                company=company,
                user=user,
                operations=[_resolved(steps[i], records) for i in ready],
                options=stage_options,
            )
            records.update(zip(ready, outcome.records, strict=True))
        if not options.continue_on_error and any(records[i].status not in SUCCESS for i in indices):
            stopped = True
    return records


def _blocking(step: Step, records: dict[int, Record]) -> Record | None:
    """A failed or skipped record for `step` when something it refers to is missing or did
    not go in; None when it may run."""
    for path, reference_id in step.refs:
        target = step.targets.get(reference_id)
        if target is None:
            message = f"No operation of this request has referenceId '{reference_id}'."
            record = Record(step.op)
            record.fail(
                ErrorCode.REFERENCE_ERROR,
                message,
                field=path,
                details=[Detail(path, message, FieldCode.NOT_FOUND)],
            )
            return record
        if records[target].status not in SUCCESS or "id" not in (records[target].data or {}):
            message = (
                f"Not processed: it refers to '{reference_id}' (operations[{target}]), "
                "which did not go in."
            )
            return _skipped(step.op, ErrorCode.DEPENDENCY_FAILED, message, field=path)
    return None


def _resolved(step: Step, records: dict[int, Record]) -> Operation:
    """The step's operation with each "$ref:x" replaced by the id of what x created."""
    ids = {
        reference_id: records[target].data["id"] for reference_id, target in step.targets.items()
    }
    return replace(step.op, data=_substitute(step.op.data, ids))


def _substitute(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(REF):
        return ids.get(value[len(REF) :], value)
    if isinstance(value, dict):
        return {key: _substitute(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, ids) for item in value]
    return value


def _failed_groups(steps: list[Step], records: dict[int, Record], settled) -> set[str]:
    """The groups of this run with a member that did not go in (settled ones are done)."""
    return {
        step.group
        for index, step in enumerate(steps)
        if step.group is not None and index not in settled and records[index].status not in SUCCESS
    }


def _settle_groups(steps, records, failed: set[str], settled: dict[int, Record]) -> None:
    """The failed groups' outcomes, final: what failed keeps its error, the rest of the group
    is rolled back."""
    for index, step in enumerate(steps):
        if step.group not in failed:
            continue
        record = records[index]
        if record.status in SUCCESS:
            record = Record(step.op)
            record.status = Status.ROLLED_BACK
            record.error = RecordError(
                ErrorCode.ROLLED_BACK,
                f"Rolled back because another operation of group '{step.group}' failed.",
            )
        settled[index] = record


def _conclude(records: dict[int, Record], options: BatchOptions) -> None:
    """Undo everything when nothing may persist: validateOnly, or rollbackOnError after a
    failure."""
    passed = [record for record in records.values() if record.status in SUCCESS]
    if options.validate_only:
        for record in passed:
            record.status, record.data = Status.VALIDATED, None
        raise _Undo()
    if options.rollback_on_error and len(passed) < len(records):
        for record in passed:
            record.status, record.data = Status.ROLLED_BACK, None
            record.error = RecordError(
                ErrorCode.ROLLED_BACK, "Rolled back because another record failed."
            )
        raise _Undo(rolled_back=True)


def _refused(step: Step) -> Record:
    record = Record(step.op)
    record.fail_fields([step.refused])
    return record


def _skipped(op: Operation, code: ErrorCode, message: str, field: str | None = None) -> Record:
    record = Record(op)
    record.status = Status.SKIPPED
    record.error = RecordError(code, message, field=field)
    return record
