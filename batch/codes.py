"""Every code a batch can answer with: shared by the API, file imports and the admin."""

from enum import StrEnum


class RequestCode(StrEnum):
    """Problems with a request as a whole; nothing in it is processed."""

    INVALID_JSON = "INVALID_JSON"
    INVALID_REQUEST = "INVALID_REQUEST"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    DUPLICATE_REFERENCE_ID = "DUPLICATE_REFERENCE_ID"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    NOT_FOUND = "NOT_FOUND"


class ErrorCode(StrEnum):
    """Why one record failed."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    DUPLICATE_ERROR = "DUPLICATE_ERROR"
    REFERENCE_ERROR = "REFERENCE_ERROR"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_ERROR = "PERMISSION_ERROR"
    UNSUPPORTED_OPERATION = "UNSUPPORTED_OPERATION"
    CONFLICT = "CONFLICT"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    ROLLED_BACK = "ROLLED_BACK"
    SKIPPED = "SKIPPED"


class FieldCode(StrEnum):
    """Why one field of a record is wrong (the `code` inside `details`)."""

    REQUIRED = "REQUIRED"
    MAX_LENGTH = "MAX_LENGTH"
    INVALID_TYPE = "INVALID_TYPE"
    INVALID_VALUE = "INVALID_VALUE"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_TAX_NUMBER = "INVALID_TAX_NUMBER"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_NUMBER = "INVALID_NUMBER"
    INVALID_DATE = "INVALID_DATE"
    FUTURE_DATE = "FUTURE_DATE"
    INVALID_CHOICE = "INVALID_CHOICE"
    UNBALANCED = "UNBALANCED"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    OVER_ALLOCATED = "OVER_ALLOCATED"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"
    INACTIVE = "INACTIVE"


class Status(StrEnum):
    """A record's outcome (`status` of a result) and a batch's state."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    VALIDATED = "validated"
    FAILED = "failed"
    SKIPPED = "skipped"
    ROLLED_BACK = "rolled_back"
    COMPLETED = "completed"
    QUEUED = "queued"
    PROCESSING = "processing"
    CANCELLED = "cancelled"
