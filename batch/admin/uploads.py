"""Uploads the admin's import keeps between preview and confirm, and the engine's results
laid out per spreadsheet row for a person to read.

An upload is a file under VAR_DIR/admin-imports named by a random token; the session holds
the token (with the entity and company it was uploaded for), so only the session that
uploaded a file can confirm it. Unconfirmed uploads are removed after a day."""

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import Http404
from import_export.tmp_storages import TempFolderStorage

from batch.engine.executor import BatchOutcome
from batch.engine.handlers import Handler
from batch.files.mapping import read_operations
from batch.services.imports import CSV, XLSX, open_rows
from bigledger.models import Company

SESSION_KEY = "batch_admin_imports"
UPLOAD_DIR = "admin-imports"
UPLOAD_MAX_AGE = 24 * 3600  # seconds an unconfirmed upload is kept
KEPT_UPLOADS = 10  # per session
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
TOKEN = re.compile(r"[\w-]{20,64}")
GONE = "This upload is no longer available: upload the file again."


@dataclass(frozen=True)
class StoredUpload:
    path: Path
    name: str  # as uploaded
    kind: str  # imports.CSV or imports.XLSX
    company_id: int


def upload_dir() -> Path:
    directory = Path(settings.VAR_DIR) / UPLOAD_DIR
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def store_upload(request, uploaded, *, entity: str, company: Company) -> str:
    """Save the uploaded file under a fresh token the session remembers; returns the token."""
    _remove_stale_uploads()
    token = secrets.token_urlsafe(24)
    kind = XLSX if Path(uploaded.name).suffix.lower() in EXCEL_SUFFIXES else CSV
    with (upload_dir() / f"{token}.{kind}").open("wb") as target:
        for chunk in uploaded.chunks():
            target.write(chunk)
    kept = dict(list(request.session.get(SESSION_KEY, {}).items())[-(KEPT_UPLOADS - 1) :])
    kept[token] = {"entity": entity, "company": company.pk, "name": uploaded.name, "kind": kind}
    request.session[SESSION_KEY] = kept
    return token


def stored_upload(request, token: str, entity: str) -> StoredUpload:
    """An upload this session stored for this entity, or 404."""
    entry = request.session.get(SESSION_KEY, {}).get(token) if TOKEN.fullmatch(token) else None
    if entry is None or entry["entity"] != entity:
        raise Http404(GONE)
    path = upload_dir() / f"{token}.{entry['kind']}"
    if not path.exists():
        raise Http404(GONE)
    return StoredUpload(path, entry["name"], entry["kind"], entry["company"])


def forget_upload(request, token: str) -> None:
    kept = dict(request.session.get(SESSION_KEY, {}))
    entry = kept.pop(token, None)
    request.session[SESSION_KEY] = kept
    if entry is not None:
        (upload_dir() / f"{token}.{entry['kind']}").unlink(missing_ok=True)


def _remove_stale_uploads() -> None:
    cutoff = time.time() - UPLOAD_MAX_AGE
    for stale in upload_dir().iterdir():
        if stale.is_file() and stale.stat().st_mtime < cutoff:
            stale.unlink(missing_ok=True)


def fits_one_batch(handler: type[Handler], upload: StoredUpload) -> bool:
    """Whether the file's operations fit in one sync batch (the entity's maximum), found by
    reading at most two chunks. Raises RequestError for a file that cannot be read."""
    with upload.path.open("rb") as file:
        chunks = read_operations(handler, open_rows(file, upload.kind))
        return next(chunks, None) is None or next(chunks, None) is None


# Results, row by row ----------------------------------------------------------------------


@dataclass
class ResultRow:
    """One row of the preview, as a person reads it."""

    row_number: int
    operation: str
    summary: str
    status: str
    error: dict | None

    @property
    def label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.replace("_", " ").capitalize())


STATUS_LABELS = {"validated": "Valid", "failed": "Error", "skipped": "Skipped"}
SUMMARY_VALUES = 3


def result_rows(outcome: BatchOutcome) -> list[ResultRow]:
    """The engine's results beside the rows they answer, in spreadsheet order; an error
    inside a document's line is shown at that line's row."""
    rows = []
    for record, result in zip(outcome.records, outcome.results, strict=True):
        error = result.get("error")
        row_number = (error or {}).get("context", {}).get("rowNumber", record.op.row_number)
        rows.append(
            ResultRow(
                row_number=row_number,
                operation=record.operation or "",
                summary=summary(record.op.data),
                status=result["status"],
                error=error,
            )
        )
    return sorted(rows, key=lambda row: row.row_number)


def summary(data) -> str:
    """The first few values a row fills, so a person recognises it ("Acme · acme@…"); the
    public id an exported row carries says nothing to a person and is left out."""
    values: list[str] = []

    def collect(value) -> None:
        if isinstance(value, dict):
            for nested in value.values():
                collect(nested)
        elif not isinstance(value, list) and value not in (None, ""):
            values.append(str(value))

    collect({k: v for k, v in data.items() if k != "id"} if isinstance(data, dict) else data)
    return " · ".join(values[:SUMMARY_VALUES])


class VarDirStorage(TempFolderStorage):
    """django-import-export's temporary upload (its own import flow: tax codes, locations)
    kept beside ours under VAR_DIR rather than the system's temp directory."""

    def get_full_path(self) -> str:
        return str(upload_dir() / Path(self.name).name)

    def _open(self, mode="r"):
        if not self.name:  # a new upload: its bytes, as the parent's NamedTemporaryFile takes
            self.name = f"ie-{secrets.token_urlsafe(24)}"
            return open(self.get_full_path(), "wb")  # noqa: SIM115
        return open(self.get_full_path(), mode, encoding=self.encoding)  # noqa: SIM115
