"""Webhook endpoints as the API manages them: register, find, delete, and read the log."""

import secrets

from django.db.models import QuerySet

from batch.engine.codes import RequestCode
from batch.models import WebhookDelivery, WebhookEndpoint
from batch.webhooks.delivery import private_address_problem
from bigledger.errors import NotFound
from bigledger.models import Company

SECRET_PREFIX = "whsec_"


def webhook_url_problem(url: str) -> str | None:
    """Why this server may not call `url` (a non-public address), or None."""
    return private_address_problem(url)


def register_webhook(*, company: Company, url: str, events: list[str]) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        company=company,
        url=url,
        events=events,
        secret=SECRET_PREFIX + secrets.token_urlsafe(32),
    )


def company_webhooks(*, company: Company) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.for_company(company)


def find_webhook(*, company: Company, endpoint_id: str) -> WebhookEndpoint:
    """The company's endpoint; another company's is as absent as a missing one."""
    endpoint = company_webhooks(company=company).filter(public_id=endpoint_id).first()
    if endpoint is None:
        raise NotFound(RequestCode.NOT_FOUND, f"No webhook '{endpoint_id}'.")
    return endpoint


def delete_webhook(*, endpoint: WebhookEndpoint) -> None:
    """Deletes its delivery log too; a pending delivery then finds nothing to send."""
    endpoint.delete()


def webhook_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    return endpoint.deliveries.select_related("job").order_by("-created_at", "-pk")
