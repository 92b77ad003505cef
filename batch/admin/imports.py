"""The admin's import for entities with a batch handler: upload → preview → confirm.

Why not django-import-export's own import here: its preview validates rows with the
resource's widgets and the model's full_clean, a second set of rules beside the batch
handlers (email and phone formats, tax numbers per country, per-company duplicates, parent
accounts, number sequences). So the admin hands the stored file to batch.imports.import_file,
the service behind the API's import-csv/import-excel (the same readers, encodings, size and
zip-bomb limits, the same header mapping, the same engine): the preview runs it with
validateOnly, the confirm for real. One set of rules, and the preview shows the engine's own
error code, field and message against the spreadsheet row. django-import-export provides the
resources and the export.

- GET  <changelist>/import/               upload form (import_file; company for superusers)
- POST <changelist>/import/               store the file, show the dry-run preview
- POST <changelist>/process_import/       import_token: run the stored file for real
- GET  <changelist>/import/template.csv|xlsx   the entity's template
The upload waits between preview and confirm under VAR_DIR (batch.admin_uploads). A file
with more rows than the entity's sync maximum is submitted as an async job at once, and the
admin follows it on the job's progress page.

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
from django.utils.html import format_html
from import_export.admin import ExportMixin, ImportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ConfirmImportForm, ImportForm, SelectableFieldsExportForm

from batch.admin.uploads import (
    StoredUpload,
    VarDirStorage,
    fits_one_batch,
    forget_upload,
    result_rows,
    store_upload,
    stored_upload,
)
from batch.engine.codes import Status
from batch.engine.envelope import BatchOptions
from batch.engine.handlers import Handler
from batch.files.templates import csv_template, excel_template
from batch.models import BatchJob
from batch.services.batches import handler_for
from batch.services.imports import csv_template_for, excel_template_for, import_file
from bigledger.admin import scoped_company
from bigledger.errors import RequestError
from bigledger.models import Company

SOURCE = "admin"  # what the batch records as its source
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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
        """GET: the upload form. POST: store the file and preview it (a dry run through the
        engine), or import it as an async job when it is over one sync batch."""
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
                if not fits_one_batch(self.import_handler, upload):
                    return self._import_as_job(request, token, upload, company)
                preview = self._import(request, upload, company, BatchOptions(validate_only=True))
            except RequestError as error:
                forget_upload(request, token)
                form.add_error("import_file", request_error_text(error))
            else:
                return self._render_preview(request, token, upload, company, preview)
        return TemplateResponse(
            request,
            self.import_form_template,
            {
                **self._import_context(request, "Import"),
                "form": form,
                "max_records": self.import_handler.max_records,
            },
        )

    def process_import_view(self, request):
        """Confirm (POST import_token): import the stored upload for real."""
        if request.method != "POST":
            return HttpResponseRedirect(self._admin_url("import"))
        self._check_import_permission(request)
        token = request.POST.get("import_token", "")
        upload = stored_upload(request, token, self.import_entity)
        company = self._stored_company(request, upload)
        try:
            imported = self._import(request, upload, company, BatchOptions())
        except RequestError as error:
            self.message_user(request, request_error_text(error), messages.ERROR)
            return HttpResponseRedirect(self._admin_url("import"))
        finally:
            forget_upload(request, token)
        if imported.is_async:
            return HttpResponseRedirect(self._progress_url(imported.job))
        self._report_import(request, upload.name, imported.job, imported.outcome.counts)
        return HttpResponseRedirect(self._admin_url("changelist"))

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
        """The stored file through batch.imports, the service the API's file imports use."""
        with upload.path.open("rb") as file:
            return import_file(
                company=company,
                user=request.user,
                entity=self.import_entity,
                file=file,
                kind=upload.kind,
                options=options,
                source=SOURCE,
            )

    def _import_as_job(self, request, token: str, upload: StoredUpload, company: Company):
        try:
            imported = self._import(request, upload, company, BatchOptions(run_async=True))
        finally:
            forget_upload(request, token)
        job = imported.job
        self.message_user(
            request,
            f"The file {upload.name} holds more than one batch of {self.opts.verbose_name_plural} "
            f"({self.import_handler.max_records:,}), so it is imported as job {job.public_id} "
            "without a preview; rows with errors are left out and can be downloaded.",
            messages.INFO,
        )
        return HttpResponseRedirect(self._progress_url(job))

    def _stored_company(self, request, upload: StoredUpload) -> Company:
        company = Company.objects.get(pk=upload.company_id)
        if not self.is_unscoped(request) and company != scoped_company(request):
            raise PermissionDenied
        return company

    def _render_preview(self, request, token, upload: StoredUpload, company, preview):
        rows = result_rows(preview.outcome)
        valid = sum(1 for row in rows if row.status == Status.VALIDATED)
        return TemplateResponse(
            request,
            self.import_preview_template,
            {
                **self._import_context(request, "Import preview"),
                "import_token": token,
                "file_name": upload.name,
                "company": company,
                "preview_job": preview.job,
                "rows": rows,
                "valid_count": valid,
                "error_count": len(rows) - valid,
            },
        )

    def _report_import(self, request, file_name: str, job: BatchJob, counts: dict) -> None:
        failed = counts["failedRecords"] + counts["skippedRecords"] + counts["rolledBackRecords"]
        done = ", ".join(
            f"{counts[key]} {key}"
            for key in ("created", "updated", "deleted", "unchanged")
            if counts[key]
        )
        not_imported = f" {failed} row(s) were not imported." if failed else ""
        message = format_html(
            'Imported {} from {}: {}.{} Batch <a href="{}">{}</a>.',
            self.opts.verbose_name_plural,
            file_name,
            done or "nothing changed",
            not_imported,
            reverse("admin:batch_batchjob_change", args=[job.pk]),
            job.public_id,
        )
        self.message_user(request, message, messages.WARNING if failed else messages.SUCCESS)

    @staticmethod
    def _progress_url(job: BatchJob) -> str:
        return reverse("admin:batch_batchjob_progress", args=[job.pk])

    def _import_context(self, request, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "title": f"{title}: {self.opts.verbose_name_plural}",
            "opts": self.opts,
            "entity": self.import_entity,
            "has_view_permission": self.has_view_permission(request),
        }

    def _admin_url(self, view: str) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}")


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
