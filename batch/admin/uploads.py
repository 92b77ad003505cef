"""Uploads the admin's import keeps between preview and confirm, and the engine's results
laid out per spreadsheet row for a person to read.

An upload is a file under VAR_DIR/admin-imports named by a random token; the session holds
the token (with the entity and company it was uploaded for, its SHA-256, the column mapping
chosen for it and its preview), so only the session that uploaded a file can confirm it, and
only as it was previewed. Unconfirmed uploads are removed after a day."""

import hashlib
import itertools
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import Http404
from import_export.tmp_storages import TempFolderStorage

from batch.engine.handlers import Handler
from batch.files.reading import read_file
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
    checksum: str = ""  # SHA-256 of the file as uploaded
    mapping: dict | None = None  # {apiField: column, "_ignore": [...]} once chosen
    transforms: dict | None = None  # {column: [transformation, …]}, from a mapping profile
    preview_job_id: int | None = None

    def current_checksum(self) -> str:
        """The SHA-256 of the stored file now ("" when it is gone)."""
        return file_checksum(self.path) if self.path.exists() else ""


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
    kept[token] = {
        "entity": entity,
        "company": company.pk,
        "name": uploaded.name,
        "kind": kind,
        "checksum": file_checksum(upload_dir() / f"{token}.{kind}"),
    }
    request.session[SESSION_KEY] = kept
    return token


def remember(request, token: str, **values) -> None:
    """Keep more about an upload in the session: its mapping, its preview job."""
    kept = dict(request.session.get(SESSION_KEY, {}))
    kept[token] = {**kept[token], **values}
    request.session[SESSION_KEY] = kept


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def stored_upload(request, token: str, entity: str) -> StoredUpload:
    """An upload this session stored for this entity, or 404."""
    entry = request.session.get(SESSION_KEY, {}).get(token) if TOKEN.fullmatch(token) else None
    if entry is None or entry["entity"] != entity:
        raise Http404(GONE)
    path = upload_dir() / f"{token}.{entry['kind']}"
    if not path.exists():
        raise Http404(GONE)
    return StoredUpload(
        path,
        entry["name"],
        entry["kind"],
        entry["company"],
        checksum=entry.get("checksum", ""),
        mapping=entry.get("mapping"),
        transforms=entry.get("transforms"),
        preview_job_id=entry.get("preview_job"),
    )


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


def fits_one_batch(handler: type[Handler], upload: StoredUpload, company: Company) -> bool:
    """Whether the file's operations fit in one sync batch (the entity's maximum), found by
    reading at most two chunks. Raises RequestError for a file that cannot be read."""
    with upload.path.open("rb") as file:
        chunks = read_upload(handler, upload, file, company)
        return next(chunks, None) is None or next(chunks, None) is None


def read_upload(handler: type[Handler], upload: StoredUpload, file, company: Company):
    """The upload's chunks of operations, read as its import reads them (its mapping and
    transformations)."""
    rows = open_rows(file, upload.kind)
    return read_file(
        handler, rows, mapping=upload.mapping, transforms=upload.transforms, company=company
    ).chunks


def file_sample(upload: StoredUpload, size: int) -> tuple[list[str], list[dict[str, str]]]:
    """The file's headers and its first `size` rows {header: text}, for the mapping screen.
    Raises RequestError for a file that cannot be read."""
    with upload.path.open("rb") as file:
        rows = open_rows(file, upload.kind)
        return list(rows.headers), [row for _, row in itertools.islice(rows, size)]


def file_cells(upload: StoredUpload, row_numbers: set[int]) -> dict[int, dict[str, str]]:
    """The cells of the given spreadsheet rows as uploaded, {row: {header: text}}; the file
    is read only as far as the last of them."""
    found: dict[int, dict[str, str]] = {}
    if not row_numbers:
        return found
    last = max(row_numbers)
    with upload.path.open("rb") as file:
        for row_number, row in open_rows(file, upload.kind):
            if row_number in row_numbers:
                found[row_number] = row
            if row_number >= last:
                break
    return found


def file_operations(
    upload: StoredUpload, handler: type[Handler], company: Company, indexes: set[int]
) -> dict:
    """The operations at the given positions of the file, as its import reads them:
    {index: (operation, row number, line rows)}."""
    found: dict[int, tuple[dict, int, list[int]]] = {}
    if not indexes:
        return found
    last = max(indexes)
    with upload.path.open("rb") as file:
        for chunk in read_upload(handler, upload, file, company):
            for offset, operation in enumerate(chunk.operations):
                index = chunk.first_index + offset
                if index in indexes:
                    found[index] = (operation, chunk.row_numbers[offset], chunk.line_rows[offset])
            if chunk.first_index + len(chunk) > last:
                break
    return found


# What a person recognises a row by --------------------------------------------------------

SUMMARY_VALUES = 3


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
