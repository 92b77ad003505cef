"""What tests do as a client would: companies and their API clients, batches posted and their
answers read, async jobs waited for, the read API's JSON, the admin's pages and staff users."""

import io
import itertools
import json
from decimal import Decimal

import simplejson
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from batch.engine.envelope import BatchOptions
from batch.services.imports import import_file
from bigledger.tenancy import create_company
from tests.workers import wait_for

_company_numbers = itertools.count(1)

FINISHED_JOB_STATUSES = ("completed", "rolled_back", "failed", "cancelled")


# Companies and their clients.


def make_company(name: str | None = None):
    """A company with its default chart, tax codes and warehouse, a member and an API key."""
    number = next(_company_numbers)
    name = name or f"Company {number}"
    return create_company(name=name, username=f"user{number}-{id(name)}", password="pw-test-123")


def api_client_for(credentials) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {credentials.api_key}")
    return client


# Batches.


def post_batch(api, entity: str, operations, *, status: int = 200, **options):
    body = {"operations": operations}
    if options:
        body["options"] = options
    response = api.post(
        f"/v1/batch/{entity}", simplejson.dumps(body), content_type="application/json"
    )
    assert response.status_code == status, response.content
    return simplejson.loads(response.content, use_decimal=True)


def create(data, reference_id=None) -> dict:
    operation = {"operation": "create", "data": data}
    if reference_id:
        operation["referenceId"] = reference_id
    return operation


def update(data, reference_id=None) -> dict:
    return {**create(data, reference_id), "operation": "update"}


def delete(data, reference_id=None) -> dict:
    return {**create(data, reference_id), "operation": "delete"}


def count_queries(callable_) -> int:
    with CaptureQueriesContext(connection) as queries:
        callable_()
    return len(queries)


# A batch's answer.


def result_error(data: dict, index: int | None = None) -> dict:
    """The error of a failed record in a batch's answer (its "data"): the record at `index`,
    or the batch's only record when no index is given."""
    if index is None:
        [result] = data["results"]
    else:
        result = data["results"][index]
    assert result["success"] is False and result["status"] == "failed", result
    return result["error"]


def detail_codes(error: dict) -> set[tuple[str, str]]:
    """The (field, code) of each detail of a record's error; none may be listed twice."""
    codes = [(detail["field"], detail["code"]) for detail in error["details"]]
    assert len(codes) == len(set(codes)), error
    return set(codes)


# Async jobs.


def numbered_customer(i: int, **extra) -> dict:
    """A create operation for customer `i`, with a unique email and reference."""
    return create({"name": f"Customer {i}", "email": f"c{i}@example.com", **extra}, f"ref-{i}")


def depreciation_entries(count: int) -> list[dict]:
    """`count` journal entry creates of 10.00 each, on accounts of the default chart."""
    return [
        create(
            {
                "date": "2024-01-15",
                "reference": f"DEP-{i:05d}",
                "description": "Depreciation",
                "lines": [
                    {"accountCode": "6000", "debit": "10.00"},
                    {"accountCode": "1620", "credit": "10.00"},
                ],
            },
            f"je-{i}",
        )
        for i in range(count)
    ]


def submit(api, entity, operations, **options) -> dict:
    """Post an async batch and return the accepted job."""
    return post_batch(api, entity, operations, status=202, **{"async": True, **options})["data"]


def job_status(api, job_id) -> dict:
    response = api.get(f"/v1/batch/jobs/{job_id}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def finished(api, job_id, timeout=90) -> dict:
    """The job's status once it has finished, however it finished."""
    return wait_for(
        lambda: (data := job_status(api, job_id))["status"] in FINISHED_JOB_STATUSES and data,
        timeout=timeout,
    )


# The read API.


def json_of(response) -> dict:
    """The JSON body with numbers read as Decimals, so money compares exactly."""
    return json.loads(response.content, parse_float=Decimal)


def listed_ids(response) -> list[str]:
    return [row["id"] for row in json_of(response)["data"]]


# The admin.


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def staff_user(credentials):
    """The company member that `make_company` created, to log in to the admin."""
    return get_user_model().objects.get(username=credentials.username)


def admin_file_job(credentials, csv: bytes, file_name: str = "customers.csv", **options):
    """A customers CSV imported as the admin imports it (batch.services.imports), by the
    company's staff user, with BatchOptions(**options): the job it made."""
    return import_file(
        company=credentials.company,
        user=staff_user(credentials),
        entity="customers",
        file=io.BytesIO(csv),
        kind="csv",
        options=BatchOptions(**options),
        source="admin",
        file_name=file_name,
    ).job
