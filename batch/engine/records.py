"""One operation's journey through a batch, and what the caller is told about it."""

import dataclasses
from dataclasses import dataclass
from typing import Any

from batch.engine.codes import ErrorCode, Status
from batch.engine.envelope import Operation
from batch.engine.fields import Detail
from batch.engine.unicode import displayable

OPERATION_STATUS = {
    "create": Status.CREATED,
    "update": Status.UPDATED,
    "delete": Status.DELETED,
    "unchanged": Status.UNCHANGED,
}
# The statuses of a record that went in (or would have, for validateOnly).
SUCCESS = frozenset(
    {Status.CREATED, Status.UPDATED, Status.DELETED, Status.UNCHANGED, Status.VALIDATED}
)


@dataclass
class RecordError:
    code: ErrorCode
    message: str
    field: str | None = None
    details: list[Detail] = dataclasses.field(default_factory=list)

    @classmethod
    def from_details(cls, details: list[Detail], code=ErrorCode.VALIDATION_ERROR):
        if len(details) == 1:
            only = details[0]
            return cls(code, only.message, field=only.field, details=details)
        return cls(code, "Multiple validation errors", details=details)

    @property
    def located_field(self) -> str | None:
        """The field that places the error in a file: its own, else its first detail's."""
        if self.field:
            return self.field
        return self.details[0].field if self.details else None

    def as_json(self) -> dict:
        body: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = [detail.as_json() for detail in self.details]
        return body


@dataclass
class RecordWarning:
    code: str
    message: str
    field: str | None = None

    def as_json(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


@dataclass
class Record:
    """Working state: the clean values, the staged change, and the outcome."""

    op: Operation
    values: dict = dataclasses.field(default_factory=dict)
    status: Status | None = None
    error: RecordError | None = None
    warnings: list[RecordWarning] = dataclasses.field(default_factory=list)
    data: dict | None = None
    target: Any = None  # what the handler staged: a model instance, a draft …
    # What the operation turned out to be: an upsert becomes "create" or "update", and an
    # update or delete that would change nothing "unchanged". None: the operation itself.
    applied: str | None = None

    @property
    def operation(self) -> str:
        """The operation's name; anything sent that is not a string reads as "", which no
        entity supports, so it fails as an unknown operation instead of being hashed."""
        operation = self.op.operation
        return operation if isinstance(operation, str) else ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is None

    @property
    def outcome(self) -> Status:
        """The status the record gets once written."""
        return OPERATION_STATUS[self.applied or self.operation]

    def fail(self, code: ErrorCode, message: str, field: str | None = None, details=None):
        if self.error is None:
            self.error = RecordError(code, message, field=field, details=details or [])
        self.status = Status.FAILED

    def skip(self, code: ErrorCode, message: str, field: str | None = None) -> "Record":
        """Not processed at all, whatever its own data holds."""
        self.status = Status.SKIPPED
        self.error = RecordError(code, message, field=field)
        self.warnings = []
        return self

    def roll_back(self, message: str) -> "Record":
        """It passed, but what it wrote is undone with its batch (or group, or job)."""
        self.status = Status.ROLLED_BACK
        self.error = RecordError(ErrorCode.ROLLED_BACK, message)
        self.data = None
        return self

    def fail_fields(self, details: list[Detail], code=ErrorCode.VALIDATION_ERROR) -> None:
        self.error = RecordError.from_details(details, code)
        self.status = Status.FAILED

    def warn(self, code: str, message: str, field: str | None = None) -> None:
        self.warnings.append(RecordWarning(code, message, field))

    def result_json(self) -> dict:
        """The record's result as the API answers and a job stores it. What it echoes of the
        request passes through `displayable`, so a refused lone surrogate cannot make the
        answer or the stored results unreadable."""
        body: dict[str, Any] = {
            "index": self.op.index,
            "referenceId": displayable(self.op.reference_id),
            "operation": displayable(self.op.operation),
            "success": self.status in SUCCESS,
            "status": str(self.status),
        }
        if self.data is not None:
            body["data"] = self.data
        if self.error is not None:
            error = self.error.as_json()
            error["context"] = {
                "rowNumber": self.op.row_for(self.error.located_field),
                "originalData": self.op.original,
            }
            if self.op.sheet is not None:  # read from a workbook of several sheets
                error["context"]["sheet"] = self.op.sheet
            body["error"] = displayable(error)
        if self.warnings:
            body["warnings"] = [warning.as_json() for warning in self.warnings]
        return body
