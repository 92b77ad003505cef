"""File endpoints: CSV and Excel imports (multipart: file, mapping, options) and the CSV and
Excel templates. They parse the request, call batch.services.imports, and answer."""

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from batch.api.body import declared_length, once_per_request
from batch.api.idempotency import idempotent
from batch.api.openapi import annotations as openapi
from batch.api.ratelimit import rate_limited, set_current_headers
from batch.api.responses import batch_response, job_accepted_response
from batch.engine.codes import RequestCode
from batch.engine.envelope import BatchOptions
from batch.files.templates import XLSX_CONTENT_TYPE
from batch.services import imports
from batch.services.batches import handler_for
from bigledger.client_json import check_nesting
from bigledger.errors import RequestError, TooLarge, UnsupportedFormat

FILE_FIELD, MAPPING_FIELD, OPTIONS_FIELD = "file", "mapping", "options"
PROFILE_FIELD, TRANSFORMS_OPTION = "mappingProfile", "transforms"
MAX_JSON_PART_BYTES = 1024 * 1024  # a mapping or options sent as a file part


def _too_large(size: int) -> TooLarge:
    limit = settings.BATCH_MAX_UPLOAD_BYTES
    return TooLarge(
        RequestCode.PAYLOAD_TOO_LARGE,
        f"The upload is {size:,} bytes; the limit is {limit:,}.",
        details=[{"field": FILE_FIELD, "size": size, "limit": limit}],
    )


def check_upload_headers(request) -> None:
    """415 unless multipart/form-data; 413 when Content-Length is over
    BATCH_MAX_UPLOAD_BYTES. Decided from the headers, before any of the body is read."""
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise UnsupportedFormat(
            RequestCode.UNSUPPORTED_MEDIA_TYPE,
            f"Send the file as multipart/form-data in the field '{FILE_FIELD}'.",
        )
    length = declared_length(request)
    if length > settings.BATCH_MAX_UPLOAD_BYTES:
        raise _too_large(length)


def upload_guard(post):
    """Outermost decorator of an import: an unknown entity (404), a body that is not
    multipart (415) or too large (413) is answered before the idempotency check or the rate
    limiter reads the body — Django would otherwise spool all of it to disk first; a
    malformed body is a 400 in the API's envelope."""

    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        try:
            if "entity" in kwargs:  # a migration file names no entity in its URL
                handler_for(kwargs["entity"])
            check_upload_headers(request)
            parse_form(request)
        except RequestError as exc:
            response = view.handle_exception(exc)
            set_current_headers(response, request)
            return response
        return post(view, request, *args, **kwargs)

    return wrapper


def parse_form(request) -> None:
    """Parse the multipart body (spooling a large file to disk, as FILE_UPLOAD_MAX_MEMORY_SIZE
    says), turning what Django or DRF refuse into this API's errors."""
    try:
        request.FILES  # noqa: B018  (parses the body once; DRF keeps the result)
    except RequestDataTooBig:
        raise TooLarge(
            RequestCode.PAYLOAD_TOO_LARGE, "The form fields beside the file are too large."
        ) from None
    except (ParseError, SuspiciousOperation) as error:
        raise RequestError(
            RequestCode.INVALID_REQUEST, f"The multipart body cannot be read: {error}"
        ) from None


@dataclass(frozen=True)
class Upload:
    file: UploadedFile
    mapping: Any
    options: BatchOptions
    mapping_profile: str | None = None
    transforms: Any = None


def read_upload(request) -> Upload:
    """The form's file, mapping and options, read once per request (the rate limiter counts
    the file's rows before the view runs); a refused form raises the same error each time."""
    return once_per_request(request, "_batch_upload", lambda: _read_upload(request))


def _read_upload(request) -> Upload:
    parse_form(request)
    files, form = request.FILES, request.data
    upload = files.get(FILE_FIELD)
    if upload is None:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            f"Send the file in the multipart field '{FILE_FIELD}'.",
            details=[{"field": FILE_FIELD, "message": "Required.", "code": "REQUIRED"}],
        )
    if upload.size > settings.BATCH_MAX_UPLOAD_BYTES:
        raise _too_large(upload.size)
    options = _json_part(form, files, OPTIONS_FIELD)
    # options.transforms is the importer's (batch.files.transforms), not the batch's
    transforms = options.pop(TRANSFORMS_OPTION, None) if isinstance(options, dict) else None
    return Upload(
        file=upload,
        mapping=_text_part(form, files, MAPPING_FIELD),  # parsed by the importer
        options=BatchOptions.from_json(options),
        mapping_profile=(_text_part(form, files, PROFILE_FIELD) or "").strip() or None,
        transforms=transforms,
    )


def _text_part(form, files, name: str) -> str | None:
    """A form field's text; clients that send JSON as a file part are understood too."""
    if name in files:
        part = files[name]
        if part.size > MAX_JSON_PART_BYTES:
            raise RequestError(RequestCode.INVALID_REQUEST, f"{name} is too large.")
        return part.read().decode("utf-8-sig", errors="replace")
    value = form.get(name)
    return value if isinstance(value, str) else None


def _json_part(form, files, name: str) -> Any:
    text = _text_part(form, files, name)
    if text is None or not text.strip():
        return None
    try:
        check_nesting(text)
        return json.loads(text)
    except ValueError as error:
        raise RequestError(
            RequestCode.INVALID_JSON,
            f"{name} is not valid JSON: {error}",
            details=[{"field": name, "message": str(error)}],
        ) from None


def opened_file(request, kind: str):
    """The upload opened by batch.imports.open_rows, once per request."""
    return once_per_request(
        request, "_batch_rows", lambda: imports.open_rows(read_upload(request).file, kind)
    )


def row_count(kind: str) -> Callable:
    """For @rate_limited: how many data rows the upload holds, as the import reads them (any
    line endings, quoted line breaks, blank and formula-only rows not counted), counted no
    further than one past BATCH_LARGE_BATCH_RECORDS — all the limiter asks. The rows read
    are kept for the import, so the file is still read once. An upload the view will refuse
    counts as none: the view answers it."""

    def count(request) -> int:
        try:
            rows = opened_file(request, kind)
        except RequestError:
            return 0
        return rows.count_rows(settings.BATCH_LARGE_BATCH_RECORDS + 1)

    return count


class FileImportView(APIView):
    """POST /v1/batch/{entity}/import-csv | import-excel. A file that fits in one batch of
    the entity maximum answers 200 with the results; a larger one, or options.async, 202
    with an async job. Results carry the spreadsheet row (header = row 1) as rowNumber."""

    parser_classes = [MultiPartParser]
    kind: ClassVar[str]
    source: ClassVar[str]

    def run_import(self, request, entity: str) -> Response:
        upload = read_upload(request)
        outcome = imports.import_rows(
            company=request.auth.company,
            user=request.user,
            entity=entity,
            rows=opened_file(request, self.kind),
            mapping=upload.mapping,
            options=upload.options,
            source=self.source,
            file_name=upload.file.name,
            mapping_profile=upload.mapping_profile,
            transforms=upload.transforms,
        )
        return import_answer(outcome)


def import_answer(outcome: imports.ImportOutcome) -> Response:
    """A file run at once answers its batch (200); a file queued as a job, the job (202)."""
    if outcome.is_async:
        return Response(job_accepted_response(outcome.job), status=202)
    return Response(batch_response(outcome.job, outcome.outcome))


class CsvImportView(FileImportView):
    kind, source = imports.CSV, "csv"

    @openapi.import_csv_schema
    @upload_guard
    @idempotent
    @rate_limited(row_count(imports.CSV))
    def post(self, request, entity: str):
        return self.run_import(request, entity)


class ExcelImportView(FileImportView):
    kind, source = imports.XLSX, "excel"

    @openapi.import_excel_schema
    @upload_guard
    @idempotent
    @rate_limited(row_count(imports.XLSX))
    def post(self, request, entity: str):
        return self.run_import(request, entity)


def opened_migration(request, kind: str):
    """The upload's operations, read by batch.imports.open_migration once per request."""
    return once_per_request(
        request,
        "_batch_migration",
        lambda: imports.open_migration(read_upload(request).file, kind),
    )


def migration_count(kind: str) -> Callable:
    """For @rate_limited: how many operations a migration file holds (it is read whole:
    its sync limit is BATCH_COMPOSITE_SYNC_MAX_OPERATIONS). A file the view will refuse
    counts as none: the view answers it."""

    def count(request) -> int:
        try:
            return len(opened_migration(request, kind))
        except RequestError:
            return 0

    return count


class MigrationImportView(APIView):
    """POST /v1/batch/import-csv (a zip of <entity>.csv) | import-excel (a workbook of one
    sheet per entity): the whole file as one request of several entities (POST /v1/batch).
    Each error's context names its sheet beside its rowNumber."""

    parser_classes = [MultiPartParser]
    kind: ClassVar[str]
    source: ClassVar[str]

    def run_import(self, request) -> Response:
        upload = read_upload(request)
        outcome = imports.import_migration(
            company=request.auth.company,
            user=request.user,
            migration=opened_migration(request, self.kind),
            mapping=upload.mapping,
            options=upload.options,
            source=self.source,
            file_name=upload.file.name,
        )
        return import_answer(outcome)


class MigrationCsvImportView(MigrationImportView):
    kind, source = imports.CSV, "csv"

    @openapi.migration_import_csv_schema
    @upload_guard
    @idempotent
    @rate_limited(migration_count(imports.CSV))
    def post(self, request):
        return self.run_import(request)


class MigrationExcelImportView(MigrationImportView):
    kind, source = imports.XLSX, "excel"

    @openapi.migration_import_excel_schema
    @upload_guard
    @idempotent
    @rate_limited(migration_count(imports.XLSX))
    def post(self, request):
        return self.run_import(request)


def attachment(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class TemplateView(APIView):
    # Any Accept header gets the file: the only renderer is JSON, for errors.
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class CsvTemplateView(TemplateView):
    """GET /v1/batch/{entity}/template.csv: the header row and an example. UTF-8 with a
    byte-order mark, so Excel opens accented names correctly; the importer skips it."""

    @openapi.csv_template_schema
    def get(self, request, entity: str):
        text = imports.csv_template_for(company=request.auth.company, entity=entity)
        return attachment("\ufeff" + text, "text/csv; charset=utf-8", f"{entity}-template.csv")


class ExcelTemplateView(TemplateView):
    """GET /v1/batch/templates/excel/{entity}: instructions, a validated data sheet and
    dropdowns of the company's own codes."""

    @openapi.excel_template_schema
    def get(self, request, entity: str):
        content = imports.excel_template_for(company=request.auth.company, entity=entity)
        return attachment(content, XLSX_CONTENT_TYPE, f"{entity}-template.xlsx")


class MigrationTemplateView(TemplateView):
    """GET /v1/batch/templates/excel/migration: one sheet per entity, in the order a
    migration runs, whose reference columns offer what the other sheets hold."""

    @openapi.migration_template_schema
    def get(self, request):
        content = imports.migration_template_for(company=request.auth.company)
        return attachment(content, XLSX_CONTENT_TYPE, "migration-template.xlsx")
