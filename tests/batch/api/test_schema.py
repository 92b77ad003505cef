"""The OpenAPI 3 schema (/v1/schema) and docs (/v1/docs): valid, complete for every batch
entity, and true enough that requests generated from it never meet a server error."""

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from batch.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from batch.api.openapi.components import component_name
from batch.engine.codes import ErrorCode, FieldCode, RequestCode
from batch.engine.handlers import registered_handlers
from batch.models import BatchJob, WebhookEndpoint, WebhookEvent
from tests.helpers import api_client_for, create, make_company, post_batch

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


def test_the_composite_batch_is_described(openapi, settings):
    schemas = openapi["components"]["schemas"]

    operation = openapi["paths"]["/v1/batch"]["post"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CompositeBatchRequest"}
    assert {"200", "400", "422", "429"} <= operation["responses"].keys()
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    assert "RateLimit-Remaining" in operation["responses"]["200"]["headers"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    request = schemas["CompositeBatchRequest"]["properties"]["operations"]
    assert request["maxItems"] == settings.BATCH_ASYNC_MAX_OPERATIONS
    one = schemas["CompositeOperation"]
    assert set(one["properties"]["entity"]["enum"]) == set(registered_handlers())
    assert set(one["required"]) == {"entity", "operation", "data"}
    assert {"referenceId", "group"} <= one["properties"].keys()
    assert one["additionalProperties"] is False
    assert "DEPENDENCY_FAILED" in schemas["RecordErrorCode"]["enum"]


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
    assert len(operations["oneOf"]) == 4  # create, update, upsert, delete
    upsert = schemas["CustomersUpsertData"]["properties"]
    assert {"externalId", "name", "customerNumber", "id"} <= upsert.keys()
    assert schemas["BatchOptions"]["properties"]["matchOn"]["maxItems"] == 5


def test_error_codes_are_documented(openapi):
    schemas = openapi["components"]["schemas"]

    assert set(RequestCode) | {"RATE_LIMITED", "IDEMPOTENCY_KEY_REUSED"} <= set(
        schemas["RequestErrorCode"]["enum"]
    )
    assert set(schemas["RecordErrorCode"]["enum"]) == set(ErrorCode)
    assert set(schemas["FieldErrorCode"]["enum"]) == set(FieldCode)


def test_file_imports_take_a_multipart_form_and_name_the_entities(openapi):
    for path in ("/v1/batch/{entity}/import-csv", "/v1/batch/{entity}/import-excel"):
        operation = openapi["paths"][path]["post"]

        form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        entity = next(p for p in operation["parameters"] if p["name"] == "entity")
        assert form["properties"]["file"]["format"] == "binary"
        assert form["required"] == ["file"]
        assert entity["schema"]["enum"] == sorted(registered_handlers())


def test_webhook_endpoints_are_described(openapi):
    paths, schemas = openapi["paths"], openapi["components"]["schemas"]

    register = paths["/v1/webhooks"]["post"]
    assert register["requestBody"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/WebhookEndpointInput"}}
    }
    assert schemas["WebhookEndpointInput"]["required"] == ["url"]
    assert set(schemas["WebhookEvent"]["enum"]) == set(WebhookEvent.values)
    assert {"201", "400"} <= register["responses"].keys()
    assert "204" in paths["/v1/webhooks/{webhook_id}"]["delete"]["responses"]
    deliveries = paths["/v1/webhooks/{webhook_id}/deliveries"]["get"]
    assert {p["name"] for p in deliveries["parameters"]} >= {"page", "pageSize"}
    assert deliveries["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookDeliveryList"
    }


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


# Fuzzing every operation of the published schema -------------------------------------------
# schemathesis' phases, per operation: the schema's examples; coverage (boundary and invalid
# values of every parameter and body property, and the methods an operation does not take);
# then fuzzing (Hypothesis, derandomized so CI sends the same cases each run), where strings
# are sometimes drawn from HOSTILE_TEXT and job and webhook ids name rows that exist. Each
# request is an in-process WSGI call inside the test's transaction.

FUZZ_JOB_ID, FUZZ_WEBHOOK_ID = "batch_fuzzjob0000000", "whk_fuzzhook000000"
HOSTILE_TEXT = [
    "\x00",
    "a\x00b",
    "%00",
    "-1",
    "1e999",
    "NaN",
    " ",
    "\u202e\U0001f600",
    "[" * 1000 + "]" * 1000,
    '{"a":' * 1000 + "1" + "}" * 1000,
]
FUZZ_CONFIG = schemathesis.Config.from_dict(
    {
        "dictionaries": {
            "hostile": {"values": HOSTILE_TEXT},
            "jobs": {"values": [FUZZ_JOB_ID]},
            "webhooks": {"values": [FUZZ_WEBHOOK_ID]},
        },
        "parameters": {
            "path.job_id": {"dictionary": "jobs", "probability": 0.5},
            "path.webhook_id": {"dictionary": "webhooks", "probability": 0.5},
            "body.options": {"dictionary": "hostile", "probability": 0.3},
            "body.mapping": {"dictionary": "hostile", "probability": 0.3},
        },
        "generation": {
            "allow-x00": True,
            "max-examples": 10,
            "deterministic": True,
            "dictionaries": {"string": {"dictionary": "hostile", "probability": 0.2}},
        },
        "operations": [
            {
                # Valid boundary values of a batch body are hundreds of processed batches per
                # entity: coverage sends the invalid ones; valid bodies come from fuzzing.
                "include-tag": "batch",
                "include-method": "POST",
                "phases": {"coverage": {"generation": {"mode": "negative"}}},
            }
        ],
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)
PUBLISHED = schemathesis.openapi.from_wsgi(SCHEMA_URL, get_wsgi_application(), config=FUZZ_CONFIG)


@pytest.fixture(scope="module")
def fuzzed_company(django_db_setup, django_db_blocker):
    """One company for every fuzzed operation, made once: each test's own transaction undoes
    what the fuzzer wrote, this outer one the company. It has a finished batch with a failed
    record (FUZZ_JOB_ID, so cancel and retry have something to act on) and a webhook
    endpoint (FUZZ_WEBHOOK_ID) with a delivery."""
    with django_db_blocker.unblock(), transaction.atomic():
        credentials = make_company("Fuzz Sdn Bhd")
        api = api_client_for(credentials)
        post_batch(api, "customers", [create({"name": "Fuzz"}), create({"name": ""}, "bad")])
        job = BatchJob.objects.for_company(credentials.company).get()
        BatchJob.objects.filter(pk=job.pk).update(public_id=FUZZ_JOB_ID)
        endpoint = WebhookEndpoint.objects.create(
            company=credentials.company,
            public_id=FUZZ_WEBHOOK_ID,
            url="https://hooks.example.com/bigledger",
            secret="whsec_fuzz",
        )
        endpoint.deliveries.create(
            event=WebhookEvent.JOB_COMPLETED, job=job, payload='{"event":"batch.job.completed"}'
        )
        yield credentials
        transaction.set_rollback(True)


@pytest.fixture
def in_process_wsgi(db, settings):
    """As Django's test client does, requests must not close the test's database connection.
    Rate limits are out of the way, and answers are not kept for their Idempotency-Key, so each
    generated body is processed rather than refused as a reuse of the key."""
    settings.BATCH_RATE_LIMIT = settings.BATCH_LARGE_RATE_LIMIT = "1000000/min"
    settings.BATCH_IDEMPOTENCY_TTL_SECONDS = 0
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    yield
    for signal in signals:
        signal.connect(close_old_connections)


def vary_only_what_the_case_varies(case) -> None:
    """A coverage case varies one thing and takes the rest from a template: ids no row has, and
    an Idempotency-Key (invalid in the invalid cases) that the server checks before anything
    else. Where the case does not vary them, the ids name the rows above and the key is left
    out, so each case reaches what it varies."""
    if case.meta.phase.name.value != "coverage":
        return
    varied = case.meta.phase.data.parameter
    for name, known in {"job_id": FUZZ_JOB_ID, "webhook_id": FUZZ_WEBHOOK_ID}.items():
        if name in (case.path_parameters or {}) and varied != name:
            case.path_parameters[name] = known
    if varied != IDEMPOTENCY_HEADER:
        (case.headers or {}).pop(IDEMPOTENCY_HEADER, None)


@PUBLISHED.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_request_the_schema_describes_meets_a_server_error(
    case, fuzzed_company, in_process_wsgi
):
    vary_only_what_the_case_varies(case)

    response = case.call(headers={"Authorization": f"Bearer {fuzzed_company.api_key}"})

    case.validate_response(response, checks=[not_a_server_error])


def test_a_nul_character_in_a_text_field_is_a_record_error(api):
    body = post_batch(api, "items", [create({"itemCode": "W\u00001", "name": "Widget"})])

    error = body["data"]["results"][0]["error"]
    assert (error["code"], error["details"][0]["code"]) == ("VALIDATION_ERROR", "INVALID_VALUE")
