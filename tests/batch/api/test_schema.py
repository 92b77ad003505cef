"""The OpenAPI 3 schema (/v1/schema) and docs (/v1/docs): valid, complete for every batch
entity, and true enough that requests generated from it never meet a server error."""

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from batch.api.openapi.components import component_name
from batch.engine.codes import ErrorCode, FieldCode, RequestCode
from batch.engine.handlers import registered_handlers
from tests.helpers import create, post_batch

SCHEMA_URL = "/v1/schema?format=json"


@pytest.fixture(scope="module")
def openapi():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_is_valid_openapi_3(openapi):
    validate_schema(openapi)  # raises on any violation of the OpenAPI 3.0 meta-schema

    assert openapi["openapi"].startswith("3.")
    assert openapi["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key issued to one user in one company.",
    }


@pytest.mark.parametrize("entity", sorted(registered_handlers()))
def test_every_entity_has_its_batch_path_and_data_schemas(openapi, entity):
    handler, schemas = registered_handlers()[entity], openapi["components"]["schemas"]
    name = component_name(entity)

    operation = openapi["paths"][f"/v1/batch/{entity}"]["post"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{name}BatchRequest"}
    assert {"200", "202", "400", "404", "429"} <= operation["responses"].keys()
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    assert "RateLimit-Remaining" in operation["responses"]["200"]["headers"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    create = schemas[f"{name}CreateData"]
    assert set(create["properties"]) == set(handler.create_schema.fields)
    required = {field for field, spec in handler.create_schema.fields.items() if spec.required}
    assert set(create.get("required", [])) == required
    for op in handler.operations - {"create"}:
        assert f"{name}{op.capitalize()}Data" in schemas


def test_field_rules_come_from_the_handlers(openapi):
    schemas = openapi["components"]["schemas"]
    customer = schemas["CustomersCreateData"]["properties"]
    item = schemas["ItemsCreateData"]["properties"]
    journal = schemas["JournalEntriesCreateData"]

    assert customer["name"] == {"type": "string", "maxLength": 100, "minLength": 1}
    assert customer["email"]["format"] == "email"
    assert customer["paymentTerms"]["minimum"] == 0 and customer["paymentTerms"]["maximum"] == 365
    assert customer["address"]["properties"]["country"]["allOf"] == [
        {"$ref": "#/components/schemas/CountryCode"}
    ]
    assert item["type"]["enum"] == ["inventory", "service", "non_inventory"]
    assert item["costPrice"]["type"] == "number" and item["costPrice"]["minimum"] == 0
    assert journal["properties"]["lines"]["minItems"] == 2
    assert journal["required"] == ["date", "lines"]
    payment = schemas["PaymentsCreateData"]["properties"]
    assert payment["allocations"]["items"]["required"] == ["amount"]
    operations = schemas["CustomersOperation"]
    assert operations["discriminator"]["propertyName"] == "operation"
    assert len(operations["oneOf"]) == 3


def test_error_codes_are_documented(openapi):
    schemas = openapi["components"]["schemas"]

    assert set(RequestCode) | {"RATE_LIMITED", "IDEMPOTENCY_KEY_REUSED"} <= set(
        schemas["RequestErrorCode"]["enum"]
    )
    assert set(schemas["RecordErrorCode"]["enum"]) == set(ErrorCode)
    assert set(schemas["FieldErrorCode"]["enum"]) == set(FieldCode)


def test_schema_is_served_without_a_key(client):
    response = client.get(SCHEMA_URL)

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "BigLedger Batch API"


def test_docs_render_with_assets_served_here_not_from_a_cdn(client):
    response = client.get("/v1/docs")

    page = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn.jsdelivr.net" not in page
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


# Fuzzing the batch endpoints from the schema -------------------------------------------------
# Each operation is driven with Hypothesis directly (schemathesis' lazy pytest loader does not
# work with pytest 9): an in-process WSGI call per example, 30 examples per operation.

FUZZED = [("POST", f"/v1/batch/{entity}") for entity in sorted(registered_handlers())] + [
    ("GET", "/v1/batch/jobs"),
    ("GET", "/v1/batch/jobs/{job_id}"),
    ("GET", "/v1/batch/jobs/{job_id}/results"),
]


@pytest.fixture
def in_process_wsgi(db):
    """The project's WSGI app called in this thread, inside the test's transaction. As
    Django's test client does, requests must not close the test's database connection."""
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    yield get_wsgi_application()
    for signal in signals:
        signal.connect(close_old_connections)


FUZZ_CONFIG = schemathesis.Config.from_dict({"generation": {"allow-x00": True}})


@pytest.fixture
def api_schema(in_process_wsgi, settings):
    settings.BATCH_RATE_LIMIT = settings.BATCH_LARGE_RATE_LIMIT = "1000000/min"
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, in_process_wsgi, config=FUZZ_CONFIG)


@pytest.mark.parametrize(("method", "path"), FUZZED, ids=[" ".join(op) for op in FUZZED])
def test_batch_endpoints_never_answer_a_server_error(api_schema, credentials, method, path):
    operation = api_schema[path][method]
    auth = {"Authorization": f"Bearer {credentials.api_key}"}

    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def answers_without_a_server_error(case):
        response = case.call(headers=auth)
        case.validate_response(response, checks=[not_a_server_error])

    answers_without_a_server_error()


def test_a_nul_character_in_a_text_field_is_a_record_error(api):
    body = post_batch(api, "items", [create({"itemCode": "W\u00001", "name": "Widget"})])

    error = body["data"]["results"][0]["error"]
    assert (error["code"], error["details"][0]["code"]) == ("VALIDATION_ERROR", "INVALID_VALUE")
