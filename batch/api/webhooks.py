"""Webhook endpoints: register, list, delete, and read an endpoint's delivery log."""

import json

from django.core.validators import URLValidator
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from batch.api.openapi import annotations as openapi
from batch.jobs.status import iso
from batch.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, all_webhook_events
from batch.services import webhooks
from bigledger.api.pagination import EnvelopePagination
from bigledger.api.permissions import REQUIRES_PERMISSIONS


class WebhookEndpointInput(serializers.Serializer):
    url = serializers.CharField(
        max_length=2000,
        validators=[URLValidator(schemes=["http", "https"], message="Enter an http or https URL.")],
    )
    events = serializers.ListField(
        child=serializers.CharField(), allow_empty=False, default=all_webhook_events
    )

    def validate_url(self, url: str) -> str:
        if problem := webhooks.webhook_url_problem(url):
            raise serializers.ValidationError(problem)
        return url

    def validate_events(self, events: list[str]) -> list[str]:
        unknown = sorted(set(events) - set(WebhookEvent.values))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown event(s) {', '.join(unknown)}; "
                f"choose from {', '.join(WebhookEvent.values)}."
            )
        return list(dict.fromkeys(events))  # without repeats, in the caller's order


def endpoint_json(endpoint: WebhookEndpoint) -> dict:
    return {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "events": endpoint.events,
        "active": endpoint.active,
        "createdAt": iso(endpoint.created_at),
    }


def delivery_json(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.public_id,
        "event": delivery.event,
        "jobId": delivery.job.public_id if delivery.job_id else None,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error or None,
        "nextAttemptAt": iso(delivery.next_attempt_at),
        "deliveredAt": iso(delivery.delivered_at),
        "createdAt": iso(delivery.created_at),
        "payload": json.loads(delivery.payload),
    }


class WebhookManagementView(APIView):
    """Every webhook endpoint needs manage_webhooks: a registered URL receives every job's
    outcome, so reading the books does not imply it."""

    permission_classes = REQUIRES_PERMISSIONS
    required_permissions = ["batch.manage_webhooks"]  # WebhookEndpoint.Meta.permissions


class WebhookListView(WebhookManagementView):
    @openapi.webhook_list_schema
    def get(self, request):
        endpoints = webhooks.company_webhooks(company=request.auth.company)
        return Response({"success": True, "data": [endpoint_json(e) for e in endpoints]})

    @openapi.webhook_create_schema
    def post(self, request):
        parsed = WebhookEndpointInput(data=request.data)
        parsed.is_valid(raise_exception=True)
        endpoint = webhooks.register_webhook(company=request.auth.company, **parsed.validated_data)
        # The only answer that shows the secret: it is needed to verify signatures.
        data = {**endpoint_json(endpoint), "secret": endpoint.secret}
        return Response({"success": True, "data": data}, status=201)


class WebhookDetailView(WebhookManagementView):
    @openapi.webhook_detail_schema
    def get(self, request, webhook_id: str):
        endpoint = webhooks.find_webhook(company=request.auth.company, endpoint_id=webhook_id)
        return Response({"success": True, "data": endpoint_json(endpoint)})

    @openapi.webhook_delete_schema
    def delete(self, request, webhook_id: str):
        endpoint = webhooks.find_webhook(company=request.auth.company, endpoint_id=webhook_id)
        webhooks.delete_webhook(endpoint=endpoint)
        return Response(status=204)


class WebhookDeliveryListView(WebhookManagementView):
    """The endpoint's deliveries, newest first, paged (?page=, ?pageSize=)."""

    @openapi.webhook_deliveries_schema
    def get(self, request, webhook_id: str):
        endpoint = webhooks.find_webhook(company=request.auth.company, endpoint_id=webhook_id)
        deliveries = webhooks.webhook_deliveries(endpoint=endpoint)
        paginator = EnvelopePagination()
        page = paginator.paginate_queryset(deliveries, request, view=self)
        return paginator.get_paginated_response([delivery_json(d) for d in page])
