"""Admin for batch jobs (and sync batches): follow, download, retry, cancel.

Jobs are made by the engine, never by hand: the admin lists them per company and offers
what the API offers — progress, results as JSON, the failed rows as a CSV ready to fix and
upload again, a retry of the records that did not go in (a new job) and cancel. The progress
page polls this admin's own JSON endpoint (session auth), not the API.

The list tells jobs apart as people do: kind (import, preview, API, retry), file, uploader,
and an outcome that does not flatter (0 of 20,000 in is "Failed", in red). Previews are
hidden unless the kind filter asks for them. Retry is offered only where sending the same
records again can help, and Cancel and Retry each ask for confirmation on a page of their
own."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from batch.admin.created import written_records
from batch.admin.import_log import import_log_context
from batch.engine.composite import COMPOSITE
from batch.engine.envelope import BatchOptions
from batch.engine.handlers import get_handler
from batch.files.templates import XLSX_CONTENT_TYPE
from batch.jobs.codec import dumps
from batch.jobs.results import results_kept
from batch.jobs.status import job_status, percent_complete
from batch.models import FINISHED, BatchJob, JobKind, JobMode, JobOutcome, WebhookEndpoint
from batch.services import jobs
from bigledger.admin import ReadOnlyTenantAdmin
from bigledger.errors import RequestError


def results_json(job: BatchJob):
    """Every stored result as one JSON document, streamed a chunk at a time."""
    yield f'{{"jobId": "{job.public_id}", "status": "{job.status}", "results": ['
    for position, result in enumerate(jobs.job_results(job=job)):
        yield ("," if position else "") + dumps(result)
    yield "]}"


# Background and text colours of each outcome's badge: green, amber, red, grey; blue while
# a job is still queued or processing.
BADGE_COLOURS = {
    JobOutcome.SUCCEEDED: ("#d4edda", "#155724"),
    JobOutcome.PARTIALLY_SUCCEEDED: ("#fff3cd", "#7a5a00"),
    JobOutcome.FAILED: ("#f8d7da", "#842029"),
    JobOutcome.CANCELLED: ("#e2e3e5", "#41464b"),
    JobOutcome.ROLLED_BACK: ("#e2e3e5", "#41464b"),
    None: ("#cfe2ff", "#084298"),
}
ALL_KINDS = "all"


def outcome_badge(job: BatchJob) -> str:
    """The job's outcome once it has finished (its status until then), coloured."""
    outcome = job.outcome
    label = outcome.label if outcome else job.get_status_display()
    background, colour = BADGE_COLOURS[outcome]
    return format_html(
        '<span class="job-badge job-badge-{}" style="background:{};color:{};padding:2px 8px;'
        'border-radius:10px;white-space:nowrap;font-weight:600">{}</span>',
        outcome or job.status,
        background,
        colour,
        label,
    )


def record_counts(job: BatchJob) -> str:
    """'1,204 ✓ · 3 ✗' once finished (✗: failed and skipped), '120 of 1,204' while running."""
    if not job.is_finished:
        return f"{job.processed_records + job.skipped_records:,} of {job.total_records:,}"
    return f"{job.successful_records:,} ✓ · {job.failed_records + job.skipped_records:,} ✗"


class KindFilter(admin.SimpleListFilter):
    """Previews write nothing: the list leaves them out unless they are asked for."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [*JobKind.choices, (ALL_KINDS, "All, with previews")]

    def queryset(self, request, queryset):
        if self.value() == ALL_KINDS:
            return queryset
        if self.value() in JobKind.values:
            return queryset.filter(kind=self.value())
        return queryset.exclude(kind=JobKind.PREVIEW)

    def choices(self, changelist):
        choices = list(super().choices(changelist))
        choices[0]["display"] = "All but previews"
        return choices


@admin.register(BatchJob)
class BatchJobAdmin(ReadOnlyTenantAdmin):
    # Four stacked columns, so the list fits the content area of a 1366 px screen (about
    # 700 px beside the navigation and filters): the job (id; kind · entity), its file (name;
    # uploader), its outcome (badge; counts) and when it was made. A superuser, who sees
    # every company, finds the company under the job rather than in a fifth column.
    list_display = ["job", "file", "outcome", "created"]
    list_filter = [KindFilter, "status", "entity", "source", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["public_id", "entity", "file_name"]
    date_hierarchy = "created_at"
    fields = [
        "company",
        ("public_id", "entity"),
        ("kind", "file_name", "expires_at"),
        ("mode", "source", "status"),
        "options",
        ("total_records", "processed_records", "skipped_records"),
        ("successful_records", "failed_records", "rolled_back_records"),
        ("created_count", "updated_count", "deleted_count", "unchanged_count", "warning_count"),
        ("created_by", "created_at"),
        ("started_at", "completed_at", "execution_time"),
        ("attempts", "cancel_requested"),
        "retry_of",
        "error",
    ]
    change_form_template = "admin/batch/batchjob/change_form.html"
    actions = ["cancel_selected_jobs"]

    @admin.display(description="Progress")
    def progress(self, job: BatchJob) -> str:
        return f"{percent_complete(job):g}%"

    @admin.display(description="Job · kind · entity", ordering="public_id")
    def job(self, job: BatchJob) -> str:
        return format_html(
            '{}<br><span class="job-kind">{}</span> · <span class="job-entity">{}</span>',
            job.public_id,
            job.get_kind_display(),
            job.entity,
        )

    @admin.display(description="Job · kind · entity · company", ordering="public_id")
    def job_of_company(self, job: BatchJob) -> str:
        return format_html(
            '{}<br><span class="job-company" style="display:inline-block;max-width:13em;'
            'overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom" '
            'title="{}">{}</span>',
            self.job(job),
            job.company.name,
            job.company.name,
        )

    def get_list_display(self, request):
        if self.is_unscoped(request):
            return ["job_of_company", "file", "outcome", "created"]
        return super().get_list_display(request)

    @admin.display(description="File · uploader", ordering="file_name")
    def file(self, job: BatchJob) -> str:
        uploader = job.created_by.get_username() if job.created_by else "—"
        return format_html(
            '<span class="job-file" title="{}" style="display:inline-block;max-width:13em;'
            'overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom">'
            '{}</span><br><span class="job-uploader" style="overflow-wrap:anywhere">{}</span>',
            job.file_name,
            job.file_name or "—",
            uploader,
        )

    @admin.display(description="Outcome · records", ordering="status")
    def outcome(self, job: BatchJob) -> str:
        return format_html(
            '{}<br><span class="job-counts" style="white-space:nowrap">{}</span>',
            outcome_badge(job),
            record_counts(job),
        )

    @admin.display(description="Created", ordering="created_at")
    def created(self, job: BatchJob) -> str:
        return date_format(timezone.localtime(job.created_at), "j M Y H:i")

    def has_operate_permission(self, request) -> bool:
        """Cancel and retry: the job itself is not edited, so the change permission of the
        model says who may act on jobs (ReadOnlyAdminMixin answers False for editing)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    # URLs ---------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        routes = [
            ("progress/", self.progress_view, "progress"),
            ("status.json", self.status_view, "status"),
            ("results.json", self.results_view, "results"),
            ("failed-rows.csv", self.failed_rows_view, "failed_rows"),
            ("retry/", self.retry_view, "retry"),
            ("cancel/", self.cancel_view, "cancel"),
        ]
        return [
            path(f"<path:object_id>/{suffix}", view(handler), name=f"batch_batchjob_{name}")
            for suffix, handler, name in routes
        ] + super().get_urls()

    def get_job(self, request, object_id: str) -> BatchJob:
        job = self.get_object(request, unquote(object_id))
        if job is None or not self.has_view_permission(request, job):
            raise Http404("No such job.")
        return job

    # Pages --------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_job(request, object_id)
        extra_context = {**(extra_context or {}), **self._job_context(request, job)}
        extra_context |= import_log_context(request, job)
        return super().change_view(request, object_id, form_url, extra_context)

    def progress_view(self, request, object_id):
        job = self.get_job(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            **self._job_context(request, job),
            "title": f"Job {job.public_id}",
            "opts": self.opts,
            "original": job,
            "back_url": _entity_changelist_url(job),
        }
        return TemplateResponse(request, "admin/batch/batchjob/progress.html", context)

    def status_view(self, request, object_id):
        return JsonResponse(job_status(self.get_job(request, object_id)))

    def results_view(self, request, object_id):
        job = self.get_job(request, object_id)
        try:
            results_kept(job)
        except RequestError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(job))
        response = StreamingHttpResponse(results_json(job), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{job.public_id}-results.json"'
        return response

    def failed_rows_view(self, request, object_id):
        """The rows that did not go in, to correct and import again: a CSV, or for a batch
        of several entities a workbook of a sheet each."""
        job = self.get_job(request, object_id)
        try:
            if job.entity == COMPOSITE:
                response = HttpResponse(
                    jobs.failed_rows_workbook(job=job), content_type=XLSX_CONTENT_TYPE
                )
                name = f"{job.public_id}-failed.xlsx"
            else:
                rows = jobs.failed_rows_csv(job=job)
                response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
                name = f"{job.public_id}-failed.csv"
        except RequestError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(job))
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    # Actions ------------------------------------------------------------------------------
    # GET (or a POST without post=yes) shows what will happen and asks; POST with post=yes
    # acts, as Django's own delete confirmation does.

    def retry_view(self, request, object_id):
        job = self._job_to_operate(request, object_id)
        if not job_can_be_retried(job):
            self.message_user(request, retry_refusal(job), messages.WARNING)
            return HttpResponseRedirect(self._change_url(job))
        if not confirmed(request):
            return self._confirm_page(
                request,
                job,
                title=f"Retry {job.public_id}?",
                question=(
                    f"Send the records of {job.public_id} that did not go in "
                    f"({job.total_records - job.successful_records:,} of "
                    f"{job.total_records:,}) again, as a new job?"
                ),
                action="Yes, retry them",
            )
        try:
            new_job = jobs.retry_job(
                job=job, user=request.user, corrections={}, options=retry_options(job)
            )
        except RequestError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(job))
        self.message_user(
            request,
            f"Retrying {new_job.total_records} record(s) of {job.public_id} "
            f"as {new_job.public_id}.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:batch_batchjob_progress", args=[new_job.pk]))

    def cancel_view(self, request, object_id):
        job = self._job_to_operate(request, object_id)
        if job.mode != JobMode.ASYNC or job.is_finished:
            self.message_user(request, f"{job.public_id} has already finished.", messages.WARNING)
        elif not confirmed(request):
            return self._confirm_page(
                request,
                job,
                title=f"Cancel {job.public_id}?",
                question=(
                    f"Stop {job.public_id} before its next chunk? Records already in stay "
                    "in; the rest are skipped and can be retried later."
                ),
                action="Yes, cancel the job",
            )
        else:
            jobs.cancel_job(job=job)
            self.message_user(request, f"Cancel requested for {job.public_id}.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(job))

    @admin.action(description="Cancel selected jobs", permissions=["operate"])
    def cancel_selected_jobs(self, request, queryset):
        running = queryset.filter(mode=JobMode.ASYNC).exclude(status__in=FINISHED)
        if not confirmed(request):
            context = {
                **self.admin_site.each_context(request),
                "title": "Cancel the selected jobs?",
                "opts": self.opts,
                "jobs": list(running),
                "queryset": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/batch/batchjob/cancel_selected.html", context)
        for job in running:
            jobs.cancel_job(job=job)
        self.message_user(request, f"Cancel requested for {len(running)} job(s).")
        return None

    def _job_to_operate(self, request, object_id) -> BatchJob:
        if not self.has_operate_permission(request):
            raise PermissionDenied
        return self.get_job(request, object_id)

    def _confirm_page(self, request, job: BatchJob, *, title: str, question: str, action: str):
        context = {
            **self.admin_site.each_context(request),
            **self._job_context(request, job),
            "title": title,
            "question": question,
            "action_label": action,
            "opts": self.opts,
            "original": job,
        }
        return TemplateResponse(request, "admin/batch/batchjob/confirm_action.html", context)

    def _job_context(self, request, job: BatchJob) -> dict:
        status = job_status(job)
        kept = job.results_deleted_at is None  # else only the counts remain
        retry_offered = job_can_be_retried(job)
        return {
            "job": job,
            "job_status": status,
            "outcome_badge": outcome_badge(job),
            "written": written_records(job) if job.is_finished and kept else None,
            "results_kept": kept,
            "can_operate": self.has_operate_permission(request),
            "can_cancel": job.mode == JobMode.ASYNC and not job.is_finished,
            # A batch of several entities: a workbook, a sheet per entity (docs/api.md).
            "failed_rows_format": "Excel" if job.entity == COMPOSITE else "CSV",
            "can_retry": retry_offered,
            "retry_refusal": (
                retry_refusal(job)
                if kept and not retry_offered and job.is_finished and has_unwritten(job)
                else ""
            ),
            "job_urls": {
                name: reverse(f"admin:batch_batchjob_{name}", args=[job.pk])
                for name in ("progress", "status", "results", "failed_rows", "retry", "cancel")
            },
        }

    @staticmethod
    def _change_url(job: BatchJob) -> str:
        return reverse("admin:batch_batchjob_change", args=[job.pk])


def confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get("post") == "yes"


def has_unwritten(job: BatchJob) -> bool:
    return job.successful_records < job.total_records


def job_can_be_retried(job: BatchJob) -> bool:
    """Retry is offered for a finished import or API job with records that did not go in,
    when sending them again can help (batch.services.jobs.retry_can_help) — and while its
    results, which say what did not go in, are kept."""
    return (
        job.kind != JobKind.PREVIEW
        and not jobs.only_validated(job)
        and job.is_finished
        and job.results_deleted_at is None
        and has_unwritten(job)
        and not job.retries.exists()
        and jobs.retry_can_help(job, retry_options(job))
    )


def retry_options(job: BatchJob) -> BatchOptions:
    """The admin retries with the job's own options, as an async job."""
    return BatchOptions.from_json({**job.options, "async": True})


def retry_refusal(job: BatchJob) -> str:
    """Why there is no Retry, and what to do instead."""
    if job.kind == JobKind.PREVIEW:
        return "A preview wrote nothing: import the file to put its rows in."
    if jobs.only_validated(job):
        return "It only validated its records and wrote nothing: send them without validateOnly."
    if retry := job.retries.first():
        return f"{job.public_id} was already retried as {retry.public_id}; retry that job instead."
    if job.results_deleted_at:
        return (
            f"No retry: the results of {job.public_id}, which say what did not go in, were "
            f"deleted on {job.results_deleted_at:%Y-%m-%d}, their retention over."
        )
    if job.entity != COMPOSITE:
        way_forward = "Download the failed rows, correct them and import the corrected file."
    else:  # its failed rows are a workbook, a sheet per entity
        way_forward = "Download the failed rows (Excel), correct them and import the workbook."
    return (
        "No retry: the rows that did not go in failed on their data (or were held back by "
        f"those that did), so they would fail again. {way_forward}"
    )


def _entity_changelist_url(job: BatchJob) -> str | None:
    """The changelist of the job's entity, when the admin has one (back from progress)."""
    handler = get_handler(job.entity)
    if handler is None:
        return None
    opts = handler.model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    except NoReverseMatch:
        return None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyTenantAdmin):
    """Endpoints are registered through the API, which shows the secret once."""

    list_display = ["public_id", "url", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["public_id", "url"]
    fields = ["company", "public_id", "url", "events", "active", "created_at"]
