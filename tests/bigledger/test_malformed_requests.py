"""Requests no client should send, answered as the client's mistake: a 4xx in the API's error
envelope, never a server error. JSON nested a thousand levels deep, a Content-Length that is
not a number, a NUL character in a path or a filter."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batch.models import WebhookEndpoint
from inventory.api.urls import router as inventory_router
from ledger.api.urls import router as ledger_router
from tests.helpers import create, post_batch

DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


def nested_list(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.fixture
def finished_job_id(api) -> str:
    body = post_batch(api, "customers", [create({"name": "Acme"}), create({"name": ""}, "bad")])
    return body["data"]["batchId"]


@pytest.fixture
def webhook_id(company) -> str:
    endpoint = WebhookEndpoint.objects.create(
        company=company, url="https://hooks.example.com/in", secret="whsec_test"
    )
    return endpoint.public_id


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


# JSON nested too deeply ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["arrays", "objects"])
def test_a_batch_nested_a_thousand_levels_deep_is_invalid_json(api, body):
    response = api.post("/v1/batch/customers", body, content_type="application/json")

    error = error_of(response, 400)
    assert error["code"] == "INVALID_JSON"
    assert "deeper than 64 levels" in error["message"]


def test_a_retry_body_nested_a_thousand_levels_deep_is_invalid_json(api, finished_job_id):
    response = api.post(
        f"/v1/batch/jobs/{finished_job_id}/retry", DEEP_OBJECT, content_type="application/json"
    )

    assert error_of(response, 400)["code"] == "INVALID_JSON"


def test_a_webhook_registration_nested_a_thousand_levels_deep_is_invalid_json(api):
    response = api.post("/v1/webhooks", DEEP_ARRAY, content_type="application/json")

    error = error_of(response, 400)
    assert error["code"] == "INVALID_JSON"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("part", "code"), [("options", "INVALID_JSON"), ("mapping", "INVALID_MAPPING")]
)
def test_a_file_import_part_nested_a_thousand_levels_deep_is_refused(api, part, code):
    form = {"file": SimpleUploadedFile("customers.csv", b"name\nAcme\n"), part: DEEP_ARRAY}

    response = api.post("/v1/batch/customers/import-csv", form, format="multipart")

    assert error_of(response, 400)["code"] == code


def test_a_batch_nested_64_levels_deep_is_read_and_65_is_not(api):
    def post(levels_in_data: int):
        operation = create({"name": "Acme", "extra": nested_list(levels_in_data)})
        body = json.dumps({"operations": [operation]})  # object, array, object, data: 4 levels
        return api.post("/v1/batch/customers", body, content_type="application/json")

    at_the_limit, over_it = post(60), post(61)

    assert at_the_limit.status_code == 200
    assert at_the_limit.json()["data"]["results"][0]["error"]["code"] == "VALIDATION_ERROR"
    assert error_of(over_it, 400)["code"] == "INVALID_JSON"


# A Content-Length that is not a number ---------------------------------------------------------

BODY_READING = [
    ("/v1/batch/customers", "application/json"),
    ("/v1/batch/jobs/{job}/retry", "application/json"),
    ("/v1/batch/customers/import-csv", "multipart/form-data; boundary=x"),
    ("/v1/batch/customers/import-excel", "multipart/form-data; boundary=x"),
]
OTHER_ENDPOINTS = [
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks"),
    ("GET", "/v1/webhooks/{webhook}"),
    ("DELETE", "/v1/webhooks/{webhook}"),
    ("GET", "/v1/webhooks/{webhook}/deliveries"),
    ("POST", "/v1/batch/jobs/{job}/cancel"),
    ("GET", "/v1/batch/jobs"),
    ("GET", "/v1/batch/jobs/{job}"),
    ("GET", "/v1/batch/jobs/{job}/results"),
    ("GET", "/v1/batch/metrics"),
    ("GET", "/v1/batch/customers/template.csv"),
    ("GET", "/v1/batch/templates/excel/customers"),
    ("GET", "/v1/customers"),
    ("GET", "/v1/reports/trial-balance"),
]


@pytest.mark.parametrize(("path", "content_type"), BODY_READING, ids=[p for p, _ in BODY_READING])
def test_a_body_declared_with_a_content_length_that_is_not_a_number_is_refused(
    api, finished_job_id, path, content_type
):
    response = api.generic(
        "POST",
        path.format(job=finished_job_id),
        b"{}",
        content_type=content_type,
        CONTENT_LENGTH="abc",
    )

    error = error_of(response, 400)
    assert error["code"] == "INVALID_REQUEST"
    assert error["details"][0]["field"] == "Content-Length"


@pytest.mark.parametrize(
    ("method", "path"), OTHER_ENDPOINTS, ids=[" ".join(e) for e in OTHER_ENDPOINTS]
)
def test_no_endpoint_fails_on_a_content_length_that_is_not_a_number(
    api, finished_job_id, webhook_id, method, path
):
    response = api.generic(
        method,
        path.format(job=finished_job_id, webhook=webhook_id),
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH="abc",
    )

    assert response.status_code < 500
    if response.status_code >= 400:
        error_of(response, response.status_code)


# A NUL character in a path or a filter -------------------------------------------------------

READ_FILTERS = [
    (prefix, param)
    for router in (ledger_router, inventory_router)
    for prefix, viewset, _ in router.registry
    for param in viewset.query_filters
]


@pytest.mark.parametrize(("prefix", "param"), READ_FILTERS, ids=map("?".join, READ_FILTERS))
def test_a_nul_character_in_a_read_filter_is_a_validation_error(api, prefix, param):
    response = api.get(f"/v1/{prefix}", {param: "A\x00"})

    error = error_of(response, 400)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == param


@pytest.mark.parametrize(
    "prefix",
    [prefix for router in (ledger_router, inventory_router) for prefix, *_ in router.registry],
)
def test_a_nul_character_in_a_read_id_is_a_bad_request(api, prefix):
    response = api.get(f"/v1/{prefix}/cust_%00/")

    assert error_of(response, 400)["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/batch/jobs?status=%00"),
        ("GET", "/v1/batch/jobs?entity=customers%00"),
        ("GET", "/v1/batch/jobs?mode=%00"),
        ("GET", "/v1/batch/jobs/job_%00"),
        ("GET", "/v1/batch/jobs/job_%00/results"),
        ("POST", "/v1/batch/jobs/job_%00/cancel"),
        ("POST", "/v1/batch/jobs/job_%00/retry"),
        ("GET", "/v1/webhooks/whk_%00"),
        ("DELETE", "/v1/webhooks/whk_%00"),
        ("GET", "/v1/webhooks/whk_%00/deliveries"),
    ],
)
def test_a_nul_character_naming_a_job_or_webhook_is_a_bad_request(api, method, path):
    response = api.generic(method, path)

    error = error_of(response, 400)
    assert error["code"] == "INVALID_REQUEST"
    assert "NUL" in error["message"]
