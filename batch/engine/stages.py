"""Running a composite request (batch.engine.composite) stage by stage.

Each stage is one entity's operations, run through its handler as one batch (run_batch), so
a stage costs the queries of one batch whatever its size. Before a stage runs, each
"$ref:x" becomes the public id of what operation x created; an operation whose dependency
did not go in is skipped with DEPENDENCY_FAILED.

Everything runs in one transaction. Operations sharing a `group` succeed together: when one
of a group fails, the transaction is undone and the request runs again without that group
(its failures reported, the rest of it rolled_back); each run settles at least one group, so
this ends. validateOnly runs the whole graph for real and undoes it, so later stages see what
earlier ones would create; rollbackOnError undoes it when anything failed.

An async job runs its chunks the same way, each chunk's operations as one request whose
references to earlier chunks arrive as `known` records (batch.jobs.composite)."""

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from django.db import transaction
from django.utils import timezone

from batch.engine.codes import ErrorCode, FieldCode, Status
from batch.engine.composite import REF, CompositeRequest, Step, match_on_for, step_names
from batch.engine.envelope import BatchOptions, Operation
from batch.engine.executor import SKIPPED_MESSAGE, BatchOutcome, mark_rolled_back, run_batch
from batch.engine.fields import Detail
from batch.engine.records import SUCCESS, Record
from bigledger.models import Company


@dataclass
class CompositeOutcome(BatchOutcome):
    """A run's records in request order, each result naming its entity."""

    steps: list[Step] = field(default_factory=list)

    @cached_property
    def results(self) -> list[dict]:
        return [
            {"index": r.op.index, **step_names(s), **r.result_json()}
            for s, r in zip(self.steps, self.records, strict=True)
        ]


class _Undo(Exception):
    def __init__(self, *, again: bool = False, rolled_back: bool = False):
        super().__init__()
        self.again = again
        self.rolled_back = rolled_back


def run_composite(
    *, company: Company, user, request: CompositeRequest, known: dict[int, Record] | None = None
) -> CompositeOutcome:
    """Run the request's steps stage by stage. `known`: the records, by index, of operations
    outside `request.steps` that its steps refer to (an earlier chunk's)."""
    started_at, clock = timezone.now(), time.perf_counter()
    steps, options = request.steps, request.options
    settled: dict[int, Record] = {
        step.index: _refused(step) for step in steps if step.refused is not None
    }
    groups = {step.group for step in steps if step.group is not None}
    rolled_back = False
    for _ in range(len(groups) + 1):  # each rerun settles at least one more group
        try:
            with transaction.atomic():
                records = _run_stages(company, user, steps, options, {**(known or {}), **settled})
                failed = _failed_groups(steps, records, settled)
                if failed:
                    _settle_groups(steps, records, failed, settled)
                    raise _Undo(again=True)
                _conclude([records[step.index] for step in steps], options)
        except _Undo as undo:
            if undo.again:
                continue
            rolled_back = undo.rolled_back
        break
    return CompositeOutcome.finished(
        records=[records[step.index] for step in steps],
        options=options,
        started_at=started_at,
        clock=clock,
        rolled_back=rolled_back,
        steps=steps,
    )


def _run_stages(company, user, steps, options, settled) -> dict[int, Record]:
    """One run of every stage in order; every step's record by index, settled ones too."""
    records: dict[int, Record] = dict(settled)
    stages: dict[int, list[Step]] = defaultdict(list)
    for step in steps:
        if step.index not in settled:
            stages[step.stage].append(step)
    stage_options = replace(options, validate_only=False, rollback_on_error=False, run_async=False)
    stopped = False
    for stage in sorted(stages):
        members = stages[stage]
        if stopped:  # continueOnError=false: nothing after the first failure is processed
            for step in members:
                records[step.index] = _skipped(step.op, ErrorCode.SKIPPED, SKIPPED_MESSAGE)
            continue
        ready = []
        for step in members:
            blocked = _blocking(step, records)
            if blocked is None:
                ready.append(step)
            else:
                records[step.index] = blocked
        if ready:
            handler = ready[0].handler
            outcome = run_batch(
                handler_class=handler,
                company=company,
                user=user,
                operations=[_resolved(step, records) for step in ready],
                options=match_on_for(handler, stage_options),
            )
            records.update(
                (step.index, record) for step, record in zip(ready, outcome.records, strict=True)
            )
        if not options.continue_on_error and any(
            records[step.index].status not in SUCCESS for step in members
        ):
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
        done = records.get(target)
        if done is None or done.status not in SUCCESS or "id" not in (done.data or {}):
            message = (
                f"Not processed: it refers to '{reference_id}' (operations[{target}]), "
                "which did not go in."
            )
            return _skipped(step.op, ErrorCode.DEPENDENCY_FAILED, message, field=path)
    return None


def _resolved(step: Step, records: dict[int, Record]) -> Operation:
    """The step's operation with each "$ref:x" replaced by the id of what x created."""
    ids = {reference: records[target].data["id"] for reference, target in step.targets.items()}
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
        for step in steps
        if step.group is not None
        and step.index not in settled
        and records[step.index].status not in SUCCESS
    }


def _settle_groups(steps, records, failed: set[str], settled: dict[int, Record]) -> None:
    """The failed groups' outcomes, final: what failed keeps its error, the rest of the group
    is rolled back."""
    for step in steps:
        if step.group not in failed:
            continue
        record = records[step.index]
        if record.status in SUCCESS:
            record = Record(step.op).roll_back(
                f"Rolled back because another operation of group '{step.group}' failed."
            )
        settled[step.index] = record


def _conclude(records: list[Record], options: BatchOptions) -> None:
    """Undo everything when nothing may persist: validateOnly, or rollbackOnError after a
    failure."""
    passed = [record for record in records if record.status in SUCCESS]
    if options.validate_only:
        mark_validated(passed)
        raise _Undo()
    if options.rollback_on_error and len(passed) < len(records):
        mark_rolled_back(passed)
        raise _Undo(rolled_back=True)


def mark_validated(records: list[Record]) -> None:
    for record in records:
        record.status, record.data = Status.VALIDATED, None


def _refused(step: Step) -> Record:
    record = Record(step.op)
    record.fail_fields([step.refused])
    return record


def _skipped(op: Operation, code: ErrorCode, message: str, field: str | None = None) -> Record:
    return Record(op).skip(code, message, field=field)
