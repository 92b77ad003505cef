"""Runs one batch through a handler: parse, load, validate in order, write — honouring
continueOnError, rollbackOnError and validateOnly. Every operation gets one result."""

import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from django.db import IntegrityError, transaction
from django.utils import timezone

from batch.engine.codes import ErrorCode, Status
from batch.engine.envelope import BatchOptions, Operation
from batch.engine.handlers import PERMISSION_ACTIONS, BatchContext, Handler
from batch.engine.records import Record

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
# New objects the garbage collector lets accumulate while a batch runs before it looks at
# them (Python's default is 700). A batch makes hundreds of thousands of short-lived
# objects, nearly none in reference cycles; at 700 the collector ran every few records and
# took 8-10% of a job's time for nothing it could free.
BATCH_GC_THRESHOLD = 10_000


class _FewerCollections:
    """Generation 0's threshold raised while any batch runs in the process (the threads of a
    web server share it), and put back when the last one ends."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.saved = gc.get_threshold()

    def __enter__(self):
        with self.lock:
            if not self.running:
                self.saved = gc.get_threshold()
                gc.set_threshold(max(self.saved[0], BATCH_GC_THRESHOLD), *self.saved[1:])
            self.running += 1

    def __exit__(self, *exc_info):
        with self.lock:
            self.running -= 1
            if not self.running:
                gc.set_threshold(*self.saved)


fewer_collections = _FewerCollections()


class _Unwind(Exception):
    """Undoes the batch transaction — whatever load() touched too — when nothing may
    persist: a rolled-back batch, or a validate-only one."""

    def __init__(self, rolled_back: bool):
        super().__init__()
        self.rolled_back = rolled_back


@dataclass
class BatchOutcome:
    records: list[Record]
    options: BatchOptions
    started_at: datetime
    completed_at: datetime
    execution_time: float
    rolled_back: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def finished(cls, *, records, options, started_at, clock: float, rolled_back, **extra):
        """The outcome of a run begun at `started_at` (time.perf_counter() then: `clock`)."""
        return cls(
            records=records,
            options=options,
            started_at=started_at,
            completed_at=timezone.now(),
            execution_time=round(time.perf_counter() - clock, 4),
            rolled_back=rolled_back,
            counts=count(records),
            **extra,
        )

    @property
    def status(self) -> Status:
        return Status.ROLLED_BACK if self.rolled_back else Status.COMPLETED

    @cached_property
    def results(self) -> list[dict]:
        """Each record's result as the API shows it, built once."""
        return [record.result_json() for record in self.records]


def run_batch(
    *, handler_class: type[Handler], company, user, operations: list[Operation], options
) -> BatchOutcome:
    with fewer_collections:
        return _run_batch(handler_class, company, user, operations, options)


def _run_batch(handler_class, company, user, operations, options) -> BatchOutcome:
    started_at, clock = timezone.now(), time.perf_counter()
    ctx = BatchContext(
        company=company, user=user, options=options, today=timezone.localdate(started_at)
    )
    handler = handler_class(ctx)
    records = [Record(op) for op in operations]
    for record in records:
        _precheck(handler, ctx, record)
    rolled_back = False
    try:
        with transaction.atomic():
            _validate(handler, records, options)
            _conclude(handler, records, options)
    except _Unwind as unwind:
        rolled_back = unwind.rolled_back
    return BatchOutcome.finished(
        records=records,
        options=options,
        started_at=started_at,
        clock=clock,
        rolled_back=rolled_back,
    )


def _precheck(handler: Handler, ctx: BatchContext, record: Record) -> None:
    operation = record.operation
    if operation not in PERMISSION_ACTIONS:
        record.fail(
            ErrorCode.VALIDATION_ERROR,
            "operation must be one of create, update, upsert, delete.",
            field="operation",
        )
    elif operation not in handler.operations:
        record.fail(
            ErrorCode.UNSUPPORTED_OPERATION,
            f"{operation} is not supported for {handler.entity}.",
            field="operation",
        )
    elif not all(ctx.can(handler.model, action) for action in PERMISSION_ACTIONS[operation]):
        record.fail(
            ErrorCode.PERMISSION_ERROR,
            f"You may not {operation} {handler.entity}.",
        )
    else:
        handler.clean(record)
        if record.op.problems:  # what the file says is wrong, with what parsing found
            found = record.error.details if record.error else []
            record.fail_fields([*record.op.problems, *found])


def _validate(handler: Handler, records: list[Record], options: BatchOptions) -> None:
    handler.load([record for record in records if record.ok])
    stopped = False
    for record in records:
        if stopped:
            _skip(record)
            continue
        if record.ok:
            handler.validate(record)
        if record.error is not None and not options.continue_on_error:
            stopped = True


def _conclude(handler: Handler, records: list[Record], options: BatchOptions) -> None:
    """Write the records that passed, or unwind when nothing may persist."""
    passed = [record for record in records if record.ok]
    if options.validate_only:
        for record in passed:
            record.status = Status.VALIDATED
        raise _Unwind(rolled_back=False)
    failed = any(record.status == Status.FAILED for record in records)
    if options.rollback_on_error and failed:
        mark_rolled_back(passed)
        raise _Unwind(rolled_back=True)
    _write(handler, records, passed, options)


def _write(handler: Handler, records, passed: list[Record], options: BatchOptions) -> None:
    for _ in range(WRITE_ATTEMPTS):
        if not passed:
            return
        try:
            with transaction.atomic():
                handler.write(passed)
        except Exception as error:
            if not isinstance(error, IntegrityError) or not handler.find_conflicts(passed):
                # Nothing of the write persisted (its savepoint rolled back); each record
                # is told so instead of the whole request failing.
                logger.exception("batch write failed")
                _fail_system(passed, "The records could not be saved; nothing was written.")
                _unwind_if_rolling_back(passed, options, error)
                return
            logger.info("batch write met a constraint: %s", error)
            _unwind_if_rolling_back(passed, options, error)
            if not options.continue_on_error:
                for record in _skip_after_first_failure(records):
                    handler.discard(record)
            passed = [record for record in passed if record.ok]
            continue
        for record in passed:
            record.status = record.outcome
        return
    _fail_system(passed, "The records kept conflicting with concurrent changes; try again.")
    _unwind_if_rolling_back(passed, options, None)


def _unwind_if_rolling_back(passed: list[Record], options: BatchOptions, error) -> None:
    if options.rollback_on_error:
        mark_rolled_back([record for record in passed if record.ok])
        raise _Unwind(rolled_back=True) from error


SKIPPED_MESSAGE = "Not processed: an earlier record failed and continueOnError is false."


def _skip(record: Record) -> None:
    record.skip(ErrorCode.SKIPPED, SKIPPED_MESSAGE)


def _skip_after_first_failure(records: list[Record]) -> list[Record]:
    """Skip everything after the first failure; returns the records that were staged."""
    first = next(i for i, record in enumerate(records) if record.status == Status.FAILED)
    staged = [record for record in records[first + 1 :] if record.ok]
    for record in records[first + 1 :]:
        _skip(record)
    return staged


def mark_rolled_back(records: list[Record]) -> None:
    """Records that passed, undone with their batch."""
    for record in records:
        if record.error is None:
            record.roll_back("Rolled back because another record failed.")


def _fail_system(records: list[Record], message: str) -> None:
    for record in records:
        if record.ok:
            record.fail(ErrorCode.SYSTEM_ERROR, message)


def count(records: list[Record]) -> dict[str, int]:
    return count_results((record.status, len(record.warnings)) for record in records)


def count_results(outcomes) -> dict[str, int]:
    """Totals from (status, number of warnings) pairs — of Records or of stored results."""
    tally = dict.fromkeys(Status, 0)
    warnings = total = 0
    for status, warning_count in outcomes:
        tally[Status(status)] += 1
        warnings += warning_count
        total += 1
    written = tally[Status.CREATED] + tally[Status.UPDATED] + tally[Status.DELETED]
    successful = written + tally[Status.UNCHANGED] + tally[Status.VALIDATED]
    failed = tally[Status.FAILED]
    return {
        "totalRecords": total,
        "processedRecords": successful + failed + tally[Status.ROLLED_BACK],
        "successfulRecords": successful,
        "failedRecords": failed,
        "skippedRecords": tally[Status.SKIPPED],
        "rolledBackRecords": tally[Status.ROLLED_BACK],
        "created": tally[Status.CREATED],
        "updated": tally[Status.UPDATED],
        "deleted": tally[Status.DELETED],
        "unchanged": tally[Status.UNCHANGED],
        "validated": tally[Status.VALIDATED],
        "errors": failed,
        "warnings": warnings,
    }
