"""Batch endpoints: parse, call a service, answer. Nothing more lives here."""

import math
from dataclasses import replace

from django.http import HttpResponse, StreamingHttpResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from batch.api.body import (
    closes_body,
    operation_count,
    read_batch_request,
    read_json_body,
    request_body,
)
from batch.api.idempotency import idempotent
from batch.api.metrics import batch_metrics, jobs_of_kind
from batch.api.openapi import annotations as openapi
from batch.api.ratelimit import rate_limited, set_current_headers
from batch.api.responses import batch_response, job_accepted_response, job_status_response
from batch.engine.codes import RequestCode
from batch.engine.composite import parse_composite_request
from batch.engine.envelope import BatchOptions
from batch.files.templates import XLSX_CONTENT_TYPE
from batch.models import BatchJob, JobKind
from batch.services import jobs
from batch.services.batches import handler_for, run_sync_batch, run_sync_composite
from bigledger.api.permissions import REQUIRES_PERMISSIONS, view_permission
from bigledger.errors import RequestError


class BatchView(APIView):
    @openapi.batch_post_schema
    @closes_body
    @idempotent
    @rate_limited(operation_count)
    def post(self, request, entity: str):
        handler_for(entity)  # an unknown entity is 404 whatever the body
        batch_request = read_batch_request(request)  # an async one streams into its job
        company, user = request.auth.company, request.user
        if batch_request.options.run_async:
            job = jobs.submit_batch_job(
                company=company, user=user, entity=entity, request=batch_request
            )
            return Response(job_accepted_response(job), status=202)
        job, outcome = run_sync_batch(
            company=company, user=user, entity=entity, request=batch_request
        )
        return Response(batch_response(job, outcome))


class CompositeBatchView(APIView):
    """POST /v1/batch: operations of several entities, naming each other with $ref."""

    @openapi.composite_post_schema
    @closes_body
    @idempotent
    @rate_limited(operation_count)
    def post(self, request):
        composite = parse_composite_request(read_json_body(request))
        company, user = request.auth.company, request.user
        if composite.options.run_async:
            job = jobs.submit_composite_job(company=company, user=user, request=composite)
            return Response(job_accepted_response(job), status=202)
        job, outcome = run_sync_composite(company=company, user=user, request=composite)
        return Response(batch_response(job, outcome))


class ReadsJobs:
    """Jobs and metrics show the whole company's work and the data of its records, so every
    job endpoint needs the view permission on BatchJob (submitting a batch does not)."""

    permission_classes = REQUIRES_PERMISSIONS
    required_permissions = [view_permission(BatchJob)]


class CompanyJobMixin(ReadsJobs):
    def get_job(self, request, job_id: str) -> BatchJob:
        return jobs.find_job(company=request.auth.company, job_id=job_id)


def _positive_int(request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= maximum:
        raise RequestError(
            RequestCode.INVALID_REQUEST, f"{name} must be a whole number from 1 to {maximum}."
        )
    return value


def _kind(request) -> str | None:
    """?kind=: api, import, preview or retry; without it, every kind but previews."""
    kind = request.query_params.get("kind") or None
    if kind is not None and kind not in JobKind.values:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            f"kind must be one of {', '.join(JobKind.values)}.",
            details=[{"field": "kind", "message": f"Unknown kind '{kind}'."}],
        )
    return kind


class JobListView(ReadsJobs, APIView):
    """The company's jobs and sync batches, newest first; ?status=, ?entity=, ?mode= and
    ?kind= filter. Previews are listed only with ?kind=preview: they are not imports."""

    @openapi.job_list_schema
    def get(self, request):
        company = request.auth.company
        jobs_ = jobs_of_kind(company, _kind(request)).select_related("retry_of")
        for param in ("status", "entity", "mode"):
            if value := request.query_params.get(param):
                jobs_ = jobs_.filter(**{param: value})
        page = _positive_int(request, "page", 1, 1_000_000)
        size = _positive_int(request, "pageSize", 50, 500)
        total = jobs_.count()
        rows = jobs_.order_by("-created_at", "-pk")[(page - 1) * size : page * size]
        return Response(
            {
                "success": True,
                "data": [job_status_response(job)["data"] for job in rows],
                "pagination": {
                    "page": page,
                    "pageSize": size,
                    "totalRecords": total,
                    "totalPages": math.ceil(total / size),
                },
            }
        )


class JobDetailView(CompanyJobMixin, APIView):
    @openapi.job_detail_schema
    def get(self, request, job_id: str):
        return Response(job_status_response(self.get_job(request, job_id)))


class JobResultsView(CompanyJobMixin, APIView):
    """Paged JSON results; ?status=failed to see only those; ?format=csv for the rows that
    did not go in, with their fields and the reason, ready to fix and upload again
    (?format=xlsx for a batch of several entities: a sheet each)."""

    @openapi.job_results_schema
    def get(self, request, job_id: str):
        job = self.get_job(request, job_id)
        if request.query_params.get("format") == "csv":
            response = StreamingHttpResponse(
                jobs.failed_rows_csv(job=job), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{job.public_id}-failed.csv"'
            return response
        if request.query_params.get("format") == "xlsx":
            response = HttpResponse(
                jobs.failed_rows_workbook(job=job), content_type=XLSX_CONTENT_TYPE
            )
            response["Content-Disposition"] = f'attachment; filename="{job.public_id}-failed.xlsx"'
            return response
        page = _positive_int(request, "page", 1, 1_000_000)
        size = _positive_int(request, "pageSize", 500, 1000)
        status = request.query_params.get("status")
        start = (page - 1) * size
        rows = jobs.job_results_page(job=job, start=start, stop=start + size, status=status)
        total = jobs.count_job_results(job=job, status=status)
        return Response(
            {
                "success": True,
                "data": {
                    "jobId": job.public_id,
                    "status": job.status,
                    "complete": job.is_finished,
                    "results": rows,
                },
                "pagination": {
                    "page": page,
                    "pageSize": size,
                    "totalRecords": total,
                    "totalPages": math.ceil(total / size),
                },
            }
        )

    # DRF would otherwise answer ?format=csv (or xlsx) with 404 (no renderer of that name).
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class JobCancelView(CompanyJobMixin, APIView):
    @openapi.job_cancel_schema
    def post(self, request, job_id: str):
        job = jobs.cancel_job(job=self.get_job(request, job_id))
        return Response(job_status_response(job))


def retry_size(request) -> int:
    """For @rate_limited: how many records a retry resubmits — the job's records that did not
    go in (failed, skipped, rolled back), which its counters tally from its stored results.
    A retry the view will refuse (no such job) counts as none: the view answers it."""
    try:
        job = jobs.find_job(
            company=request.auth.company, job_id=request.resolver_match.kwargs["job_id"]
        )
    except RequestError:
        return 0
    return job.failed_records + job.skipped_records + job.rolled_back_records


class JobRetryView(CompanyJobMixin, APIView):
    """A new async job of the records that did not go in; optional body
    {"corrections": {referenceId: data}, "options": {...}} replaces their data."""

    @openapi.job_retry_schema
    @closes_body
    @idempotent
    @rate_limited(retry_size)
    def post(self, request, job_id: str):
        job = self.get_job(request, job_id)
        body = read_json_body(request) if request_body(request).size else {}
        if not isinstance(body, dict) or body.keys() - {"corrections", "options"}:
            raise RequestError(
                RequestCode.INVALID_REQUEST, "The body takes 'corrections' and 'options' only."
            )
        corrections = body.get("corrections") or {}
        if not isinstance(corrections, dict):
            raise RequestError(RequestCode.INVALID_REQUEST, "corrections must be an object.")
        options = replace(BatchOptions.from_json(body.get("options")), run_async=True)
        new_job = jobs.retry_job(
            job=job, user=request.user, corrections=corrections, options=options
        )
        return Response(job_accepted_response(new_job), status=202)


class MetricsView(ReadsJobs, APIView):
    """The batch metrics of the caller's company; previews only with ?kind=preview."""

    @openapi.metrics_schema
    def get(self, request):
        metrics = batch_metrics(company=request.auth.company, kind=_kind(request))
        response = Response({"success": True, "data": metrics})
        set_current_headers(response, request)
        return response
