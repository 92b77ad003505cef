"""The admin's import for entities with a batch handler: upload → columns → preview → confirm.

Why not django-import-export's own import here: its preview validates rows with the
resource's widgets and the model's full_clean, a second set of rules beside the batch
handlers (email and phone formats, tax numbers per country, per-company duplicates, parent
accounts, number sequences). So the admin hands the stored file to batch.imports.import_file,
the service behind the API's import-csv/import-excel (the same readers, encodings, size and
zip-bomb limits, the same header mapping, the same engine): the preview runs it with
validateOnly, the confirm for real. One set of rules, and the preview shows the engine's own
error code, field and message against the spreadsheet row. django-import-export provides the
resources and the export.

- GET  <changelist>/import/                    upload form (import_file; company for superusers)
- POST <changelist>/import/                    store the file, show its columns' mapping
- GET|POST <changelist>/import/<token>/mapping/  the mapping (batch.admin.import_mapping);
       POST runs the preview: at once for a file within the entity's sync maximum, else as
       a preview job (kind preview) whose progress, then results, the preview page shows
- GET  <changelist>/import/<token>/preview/    a preview job's page (?page=, ?errors=1)
- POST <changelist>/process_import/            import_token: import the previewed file as a job
- GET  <changelist>/import/template.csv|xlsx   the entity's template
The upload waits between preview and confirm under VAR_DIR (batch.admin_uploads). Its
SHA-256 is pinned on the preview job; the confirm refuses a file that no longer matches it,
and always runs as a job (kind import) whose page the person lands on.

Exports everywhere (ApiExportMixin) and the import of the two models without a handler
(tax codes, locations: TenantImportExportMixin) are django-import-export's own flows, with
the resources of batch.resources."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from import_export.admin import ExportMixin, ImportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ConfirmImportForm, ImportForm, SelectableFieldsExportForm

from batch.admin.import_mapping import (
    PROFILE_NAME_MAX,
    SAMPLE_ROWS,
    chosen_choices,
    chosen_columns,
    field_choices,
    proposed_choices,
    proposed_profile,
    save_columns,
    transform_choices,
)
from batch.admin.import_preview import preview_page
from batch.admin.uploads import (
    GONE,
    SESSION_KEY,
    StoredUpload,
    VarDirStorage,
    file_sample,
    fits_one_batch,
    forget_upload,
    remember,
    store_upload,
    stored_upload,
)
from batch.engine.envelope import BatchOptions
from batch.engine.handlers import Handler
from batch.files.templates import XLSX_CONTENT_TYPE, csv_template, excel_template
from batch.jobs.status import percent_complete
from batch.models import BatchJob, JobKind
from batch.services.batches import handler_for
from batch.services.imports import csv_template_for, excel_template_for, import_file
from batch.services.profiles import profile_mapping
from bigledger.admin import scoped_company
from bigledger.errors import RequestError
from bigledger.models import Company

SOURCE = "admin"  # what the batch records as its source

# The admin ---------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    import_file = forms.FileField(
        label="File to import",
        help_text="CSV (UTF-8, comma, semicolon or tab) or Excel .xlsx, with the "
        "template's headers.",
    )
    company = forms.ModelChoiceField(
        queryset=Company.objects.order_by("name"),
        help_text="The company the rows are imported into.",
    )

    def __init__(self, *args, choose_company: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not choose_company:
            del self.fields["company"]

    def clean_import_file(self):
        uploaded = self.cleaned_data["import_file"]
        limit = settings.BATCH_MAX_UPLOAD_BYTES
        if uploaded.size > limit:
            raise forms.ValidationError(
                f"The file is {uploaded.size:,} bytes; the limit is {limit:,}."
            )
        return uploaded


class ApiColumnsExportForm(SelectableFieldsExportForm):
    def _init_formats(self, formats):
        super()._init_formats(formats)
        if CSV in formats:  # CSV chosen unless the user picks Excel, rather than "---"
            self.fields["format"].initial = str(formats.index(CSV))

    def _get_field_label(self, resource, field_name: str) -> str:
        return field_name  # the API's own column name ("customerNumber"), not a title of it


class ApiExportMixin(ExportMixin):
    """django-import-export's Export (CSV or Excel) with the API's columns. The rows are the
    changelist's, so a company's staff export only their own; viewing is enough."""

    formats = [CSV, XLSX]
    export_form_class = ApiColumnsExportForm

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)


class BatchImportAdminMixin(ApiExportMixin):
    """Adds Import (through the batch engine) and Export to a tenant ModelAdmin; set
    `import_entity` to the handler's entity and `resource_classes` for the export."""

    import_entity: str
    import_form_template = "admin/batch/import_form.html"
    import_mapping_template = "admin/batch/import_mapping.html"
    import_preview_template = "admin/batch/import_preview.html"
    import_export_change_list_template = "admin/import_export/change_list_import_export.html"

    # URLs and permissions ----------------------------------------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name=f"{prefix}_import"),
            path(
                "import/template.<str:file_format>",
                view(self.import_template_view),
                name=f"{prefix}_import_template",
            ),
            path(
                "import/<str:token>/mapping/",
                view(self.import_mapping_view),
                name=f"{prefix}_import_mapping",
            ),
            path(
                "import/<str:token>/preview/",
                view(self.import_preview_view),
                name=f"{prefix}_import_preview",
            ),
            path(
                "process_import/", view(self.process_import_view), name=f"{prefix}_process_import"
            ),
            *super().get_urls(),
        ]

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request) or self.has_change_permission(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {})}
        extra_context["has_import_permission"] = self.has_import_permission(request)
        return super().changelist_view(request, extra_context)

    @property
    def import_handler(self) -> type[Handler]:
        return handler_for(self.import_entity)

    def import_company(self, request, form=None) -> Company:
        if self.is_unscoped(request):
            return form.cleaned_data["company"]
        company = scoped_company(request)
        if company is None:
            raise PermissionDenied("You are not a member of any company.")
        return company

    def _check_import_permission(self, request) -> None:
        if not self.has_import_permission(request):
            raise PermissionDenied

    # Views --------------------------------------------------------------------------------

    def import_view(self, request):
        """GET: the upload form. POST: store the file and show its mapping screen."""
        self._check_import_permission(request)
        choose_company = self.is_unscoped(request)
        form = ImportUploadForm(
            request.POST or None,
            request.FILES or None,
            choose_company=choose_company,
            initial={"company": scoped_company(request)} if choose_company else {},
        )
        if request.method == "POST" and form.is_valid():
            company = self.import_company(request, form)
            uploaded = form.cleaned_data["import_file"]
            token = store_upload(request, uploaded, entity=self.import_entity, company=company)
            upload = stored_upload(request, token, self.import_entity)
            try:
                headers, samples = file_sample(upload, SAMPLE_ROWS)
            except RequestError as error:
                forget_upload(request, token)
                form.add_error("import_file", request_error_text(error))
            else:
                choices, profile = proposed_choices(self.import_handler, company, headers, samples)
                return self._render_mapping(request, token, upload, company, choices, profile)
        return TemplateResponse(
            request,
            self.import_form_template,
            {
                **self._import_context(request, "Import"),
                "form": form,
                "max_records": self.import_handler.max_records,
            },
        )

    def import_mapping_view(self, request, token: str):
        """GET: the mapping screen again. POST: the chosen mapping (saved as a profile when
        named), then the preview, shown on the preview page: run at once for a file of one
        sync batch, else as a preview job the page follows."""
        self._check_import_permission(request)
        upload = stored_upload(request, token, self.import_entity)
        company = self._stored_company(request, upload)
        headers, samples = file_sample(upload, SAMPLE_ROWS)
        if request.method != "POST":
            choices, profile = proposed_choices(self.import_handler, company, headers, samples)
            return self._render_mapping(request, token, upload, company, choices, profile)
        choices, errors = chosen_choices(self.import_handler, headers, samples, request.POST)
        profile_name = request.POST.get("profile_name", "").strip()[:PROFILE_NAME_MAX]
        proposed = proposed_profile(company, self.import_entity, request.POST)
        if errors:
            return self._render_mapping(request, token, upload, company, choices, proposed, errors)
        columns = chosen_columns(choices, proposed)
        try:
            if profile_name:
                save_columns(
                    company=company,
                    entity=self.import_entity,
                    name=profile_name,
                    columns=columns,
                    user=request.user,
                )
                self.message_user(request, f"Mapping profile \u201c{profile_name}\u201d saved.")
        except RequestError as error:
            errors = [request_error_text(error)]
            return self._render_mapping(request, token, upload, company, choices, proposed, errors)
        chosen = profile_mapping(columns)
        remember(
            request, token, mapping=chosen.mapping, transforms=chosen.transforms, preview_job=None
        )
        upload = stored_upload(request, token, self.import_entity)
        try:
            in_background = not fits_one_batch(self.import_handler, upload, company)
            options = BatchOptions(validate_only=True, run_async=in_background)
            preview = self._import(request, upload, company, options)
        except RequestError as error:
            errors = [request_error_text(error)]
            return self._render_mapping(request, token, upload, company, choices, proposed, errors)
        pin_file(preview.job, upload)
        remember(request, token, preview_job=preview.job.pk)
        return HttpResponseRedirect(self._admin_url("import_preview", token))

    def import_preview_view(self, request, token: str):
        """The preview: a preview job's live progress while it runs, then the rows a page at
        a time (?page=, ?errors=1 for the rows with errors only) under the totals."""
        self._check_import_permission(request)
        upload = stored_upload(request, token, self.import_entity)
        company = self._stored_company(request, upload)
        job = self._preview_job(upload, company)
        if job is None:
            return HttpResponseRedirect(self._admin_url("import_mapping", token))
        context = {"rows": [], "totals": None}
        if job.is_finished:
            errors_only = request.GET.get("errors") == "1"
            page = _page_number(request.GET.get("page"))
            shown = preview_page(
                handler=self.import_handler,
                company=company,
                upload=upload,
                job=job,
                page=page,
                errors_only=errors_only,
            )
            context |= {
                "rows": shown.rows,
                "totals": shown.totals,
                "errors_only": errors_only,
                "page": page,
                "pages": shown.pages,
                "page_numbers": _page_numbers(page, shown.pages),
            }
        return self._render_preview(request, token, upload, company, job, context)

    def process_import_view(self, request):
        """Confirm (POST import_token): import the previewed file, exactly as previewed, as a
        job; the person lands on the job's page."""
        if request.method != "POST":
            return HttpResponseRedirect(self._admin_url("import"))
        self._check_import_permission(request)
        token = request.POST.get("import_token", "")
        try:
            upload = stored_upload(request, token, self.import_entity)
        except Http404:
            if token not in request.session.get(SESSION_KEY, {}):
                raise
            forget_upload(request, token)
            return self._refuse_confirm(request, GONE)
        company = self._stored_company(request, upload)
        preview = self._preview_job(upload, company)
        if preview is None or not preview.is_finished:
            return self._refuse_confirm(request, "Preview the file before importing it.")
        if not preview.file_checksum or upload.current_checksum() != preview.file_checksum:
            forget_upload(request, token)
            return self._refuse_confirm(request, CHANGED)
        try:
            imported = self._import(request, upload, company, BatchOptions(run_async=True))
        except RequestError as error:
            return self._refuse_confirm(request, request_error_text(error))
        finally:
            forget_upload(request, token)
        pin_file(imported.job, upload)
        self.message_user(
            request,
            f"Importing {upload.name} as job {imported.job.public_id}: this page shows how "
            "it goes and, once it has finished, what was created.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:batch_batchjob_change", args=[imported.job.pk]))

    def import_template_view(self, request, file_format: str):
        """The entity's CSV or Excel template, with the member's company's codes."""
        self._check_import_permission(request)
        company, entity = scoped_company(request), self.import_entity
        if file_format == "csv":
            body = (
                csv_template_for(company=company, entity=entity)
                if company
                else csv_template(self.import_handler)
            )
            content_type = "text/csv; charset=utf-8"
        elif file_format == "xlsx":
            body = (
                excel_template_for(company=company, entity=entity)
                if company
                else excel_template(self.import_handler)
            )
            content_type = XLSX_CONTENT_TYPE
        else:
            raise Http404("Templates are .csv or .xlsx.")
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{entity}-template.{file_format}"'
        return response

    # Steps --------------------------------------------------------------------------------

    def _import(self, request, upload: StoredUpload, company: Company, options: BatchOptions):
        """The stored file, with its chosen mapping, through batch.imports, the service the
        API's file imports use."""
        with upload.path.open("rb") as file:
            return import_file(
                company=company,
                user=request.user,
                entity=self.import_entity,
                file=file,
                kind=upload.kind,
                mapping=upload.mapping,
                transforms=upload.transforms,
                options=options,
                source=SOURCE,
                file_name=upload.name,
            )

    def _stored_company(self, request, upload: StoredUpload) -> Company:
        company = Company.objects.get(pk=upload.company_id)
        if not self.is_unscoped(request) and company != scoped_company(request):
            raise PermissionDenied
        return company

    @staticmethod
    def _preview_job(upload: StoredUpload, company: Company) -> BatchJob | None:
        if upload.preview_job_id is None:
            return None
        return BatchJob.objects.filter(
            pk=upload.preview_job_id, company=company, kind=JobKind.PREVIEW
        ).first()

    def _refuse_confirm(self, request, message: str):
        self.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(self._admin_url("import"))

    def _render_mapping(self, request, token, upload, company, choices, profile, errors=()):
        return TemplateResponse(
            request,
            self.import_mapping_template,
            {
                **self._import_context(request, "Map the columns"),
                "import_token": token,
                "file_name": upload.name,
                "company": company,
                "choices": choices,
                "field_choices": field_choices(self.import_handler),
                "transform_choices": transform_choices(profile),
                "profile": profile,
                "mapping_errors": list(errors),
                "how_labels": HOW_LABELS,
            },
        )

    def _render_preview(self, request, token, upload, company, job: BatchJob, context: dict):
        return TemplateResponse(
            request,
            self.import_preview_template,
            {
                **self._import_context(request, "Import preview"),
                **context,
                "import_token": token,
                "file_name": upload.name,
                "company": company,
                "preview_job": job,
                "job_progress": job_progress(job),
                "status_url": reverse("admin:batch_batchjob_status", args=[job.pk]),
            },
        )

    def _import_context(self, request, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "title": f"{title}: {self.opts.verbose_name_plural}",
            "opts": self.opts,
            "entity": self.import_entity,
            "has_view_permission": self.has_view_permission(request),
        }

    def _admin_url(self, view: str, *args) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}", args=args)


HOW_LABELS = {
    "profile": "saved profile",
    "exact": "same name",
    "normalized": "same name",
    "synonym": "usual name for it",
    "similar": "similar name",
    "unmapped": "no match",
    "chosen": "",
}
CHANGED = (
    "The uploaded file is not the one that was previewed (its contents changed), so it was "
    "not imported: upload the file again and check its preview."
)


def pin_file(job: BatchJob, upload: StoredUpload) -> None:
    """Record on the job which file it ran: the SHA-256 of the upload as stored."""
    job.file_checksum = upload.checksum
    BatchJob.objects.filter(pk=job.pk).update(file_checksum=upload.checksum)


def job_progress(job: BatchJob) -> dict:
    """Rows/s and seconds left of a running job, as the preview page shows them."""
    elapsed = (timezone.now() - job.started_at).total_seconds() if job.started_at else 0
    done = job.processed_records + job.skipped_records
    rate = done / elapsed if elapsed > 0 and done else None
    left = max(job.total_records - done, 0)
    return {
        "done": done,
        "total": job.total_records,
        "percent": percent_complete(job),
        "rate": round(rate) if rate else None,
        "seconds_left": round(left / rate) if rate else None,
    }


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else 1


def _page_numbers(page: int, pages: int) -> list[int]:
    """The first, the last and the pages near this one."""
    return sorted({1, pages, *range(max(1, page - 3), min(pages, page + 3) + 1)})


def request_error_text(error: RequestError) -> str:
    details = [
        f"{detail.get('field')}: {detail.get('message')}"
        for detail in (error.details or [])
        if isinstance(detail, dict) and detail.get("message")
    ]
    return " ".join([str(error.message), *details])


class CompanyImportForm(ImportForm):
    company = forms.ModelChoiceField(
        queryset=Company.objects.order_by("name"),
        help_text="The company the rows are imported into.",
    )


class CompanyConfirmImportForm(ConfirmImportForm):
    company = forms.ModelChoiceField(queryset=Company.objects.all(), widget=forms.HiddenInput)


class TenantImportExportMixin(ImportMixin, ApiExportMixin):
    """django-import-export's own import (dry-run preview, then confirm) for models without
    a batch handler, inside one company: a member's own, or the one a superuser picks. The
    resource (a TenantImportResource) is told the company."""

    tmp_storage_class = VarDirStorage
    import_export_change_list_template = "admin/import_export/change_list_import_export.html"

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request) or self.has_change_permission(request)

    def get_import_form_class(self, request):
        return CompanyImportForm if self.is_unscoped(request) else ImportForm

    def get_confirm_form_class(self, request):
        return CompanyConfirmImportForm if self.is_unscoped(request) else ConfirmImportForm

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None and "company" in import_form.cleaned_data:
            initial["company"] = import_form.cleaned_data["company"].pk
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        if not self.is_unscoped(request):
            company = scoped_company(request)
            if company is None:
                raise PermissionDenied("You are not a member of any company.")
        else:
            cleaned = getattr(form, "cleaned_data", None) or {}
            company = cleaned.get("company")
        return {"company": company}
