"""Admin for batch jobs (and sync batches): follow, download, retry, cancel.

Jobs are made by the engine, never by hand: the admin lists them per company and offers
what the API offers — progress, results as JSON, the failed rows as a CSV ready to fix and
upload again, a retry of the records that did not go in (a new job) and cancel. The progress
page polls this admin's own JSON endpoint (session auth), not the API."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse

from batch.admin.import_log import import_log_context
from batch.engine.composite import COMPOSITE
from batch.engine.envelope import BatchOptions
from batch.engine.handlers import get_handler
from batch.jobs.codec import dumps
from batch.jobs.status import job_status, percent_complete
from batch.models import FINISHED, BatchJob, JobMode, WebhookEndpoint
from batch.services import jobs
from bigledger.admin import ReadOnlyTenantAdmin
from bigledger.errors import RequestError


def results_json(job: BatchJob):
    """Every stored result as one JSON document, streamed a chunk at a time."""
    yield f'{{"jobId": "{job.public_id}", "status": "{job.status}", "results": ['
    for position, result in enumerate(jobs.job_results(job=job)):
        yield ("," if position else "") + dumps(result)
    yield "]}"


@admin.register(BatchJob)
class BatchJobAdmin(ReadOnlyTenantAdmin):
    list_display = [
        "public_id",
        "entity",
        "mode",
        "source",
        "status",
        "progress",
        "total_records",
        "successful_records",
        "failed_records",
        "created_by",
        "created_at",
        "execution_time",
    ]
    list_filter = ["status", "mode", "source", "entity", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["public_id", "entity"]
    date_hierarchy = "created_at"
    fields = [
        "company",
        ("public_id", "entity"),
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
        response = StreamingHttpResponse(results_json(job), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{job.public_id}-results.json"'
        return response

    def failed_rows_view(self, request, object_id):
        job = self.get_job(request, object_id)
        try:
            rows = jobs.failed_rows_csv(job=job)
        except RequestError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(job))
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{job.public_id}-failed.csv"'
        return response

    # Actions ------------------------------------------------------------------------------

    def retry_view(self, request, object_id):
        job = self._job_to_operate(request, object_id)
        options = BatchOptions.from_json({**job.options, "async": True})
        try:
            new_job = jobs.retry_job(job=job, user=request.user, corrections={}, options=options)
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
        else:
            jobs.cancel_job(job=job)
            self.message_user(request, f"Cancel requested for {job.public_id}.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(job))

    @admin.action(description="Cancel selected jobs", permissions=["operate"])
    def cancel_selected_jobs(self, request, queryset):
        running = queryset.filter(mode=JobMode.ASYNC).exclude(status__in=FINISHED)
        for job in running:
            jobs.cancel_job(job=job)
        self.message_user(request, f"Cancel requested for {len(running)} job(s).")

    def _job_to_operate(self, request, object_id) -> BatchJob:
        if request.method != "POST":
            raise PermissionDenied("Use the job's buttons.")
        if not self.has_operate_permission(request):
            raise PermissionDenied
        return self.get_job(request, object_id)

    def _job_context(self, request, job: BatchJob) -> dict:
        status = job_status(job)
        return {
            "job": job,
            "job_status": status,
            "can_operate": self.has_operate_permission(request),
            "can_cancel": job.mode == JobMode.ASYNC and not job.is_finished,
            # A batch of several entities has neither (docs/api.md, Migrations in one request).
            "has_failed_rows": job.entity != COMPOSITE,
            "can_retry": job.entity != COMPOSITE
            and job.is_finished
            and bool(job.total_records - job.successful_records),
            "job_urls": {
                name: reverse(f"admin:batch_batchjob_{name}", args=[job.pk])
                for name in ("progress", "status", "results", "failed_rows", "retry", "cancel")
            },
        }

    @staticmethod
    def _change_url(job: BatchJob) -> str:
        return reverse("admin:batch_batchjob_change", args=[job.pk])


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
