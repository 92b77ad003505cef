"""The batch contract of docs/api.md, shown on customers: envelope, options, results."""

from decimal import Decimal

import pytest
import simplejson

from bigledger.models import NumberSequence
from ledger.models import Customer
from tests.helpers import create, delete, post_batch, update

pytestmark = pytest.mark.django_db

ACME = {
    "name": "Acme Corporation",
    "email": "billing@acme.com",
    "phone": "+60123456789",
    "address": {
        "street": "123 Main Street",
        "city": "Kuala Lumpur",
        "state": "Selangor",
        "postalCode": "50000",
        "country": "MY",
    },
    "creditLimit": Decimal("10000.00"),
    "paymentTerms": 30,
    "taxNumber": "123456789012",
}
TECH = {
    "name": "Tech Solutions Sdn Bhd",
    "email": "accounts@techsolutions.my",
    "phone": "+60387654321",
    "creditLimit": Decimal("25000.00"),
    "paymentTerms": 45,
}


def raw_post(api, body, content_type="application/json"):
    return api.post("/v1/batch/customers", body, content_type=content_type)


# Request-level errors: 400/404/413/415 in the envelope, nothing processed.


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "INVALID_JSON"),
        ('{"operations": [{"operation": "create", "data": {"creditLimit": NaN}}]}', "INVALID_JSON"),
        ("[]", "INVALID_REQUEST"),
        ("{}", "INVALID_REQUEST"),
        ('{"operations": []}', "INVALID_REQUEST"),
        ('{"operations": {"operation": "create"}}', "INVALID_REQUEST"),
        ('{"operations": ["create"]}', "INVALID_REQUEST"),
        (
            '{"operations": [{"operation": "create", "data": {}}], "options": {"fast": true}}',
            "INVALID_REQUEST",
        ),
        (
            '{"operations": [{"operation": "create", "data": {}}], "options": {"async": "yes"}}',
            "INVALID_REQUEST",
        ),
        (
            '{"operations": [{"operation": "create", "referenceId": "r1", "data": {}},'
            '{"operation": "create", "referenceId": "r1", "data": {}}]}',
            "DUPLICATE_REFERENCE_ID",
        ),
    ],
)
def test_request_level_errors_answer_400_and_process_nothing(api, company, body, code):
    response = raw_post(api, body)

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == code
    assert not Customer.objects.for_company(company).exists()


def test_a_batch_over_the_entity_maximum_is_refused(api, company):
    body = simplejson.dumps({"operations": [create({"name": f"C{i}"}) for i in range(501)]})

    response = raw_post(api, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BATCH_TOO_LARGE"
    assert not Customer.objects.for_company(company).exists()


def test_the_entity_maximum_itself_is_accepted(api, company):
    result = post_batch(api, "customers", [create({"name": f"C{i}"}) for i in range(500)])

    assert result["data"]["successfulRecords"] == 500


def test_an_unknown_entity_is_404(api):
    response = api.post("/v1/batch/widgets", '{"operations": []}', content_type="application/json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_form_body_is_415(api):
    response = raw_post(api, "name=x", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415


def test_a_body_over_the_limit_is_413(api, settings):
    settings.BATCH_MAX_BODY_BYTES = 100

    response = raw_post(api, simplejson.dumps({"operations": [create(ACME)]}))

    assert response.status_code == 413


def test_without_a_key_the_batch_is_401(client):
    response = client.post("/v1/batch/customers", "{}", content_type="application/json")

    assert response.status_code == 401


# The API's example, its response and options.


def test_the_api_example_creates_updates_and_answers_in_the_documented_shape(api, company):
    existing = post_batch(api, "customers", [create({"name": "Old Co"})])["data"]["results"][0]

    result = post_batch(
        api,
        "customers",
        [
            create(ACME, "new_customer_1"),
            update(
                {"id": existing["data"]["id"], "creditLimit": 15000.00, "status": "active"},
                "update_customer_1",
            ),
            create(TECH, "new_customer_2"),
        ],
        continueOnError=True,
        validateOnly=False,
    )

    data = result["data"]
    assert result["success"] is True
    assert data["batchId"].startswith("batch_")
    assert data["status"] == "completed"
    assert (data["totalRecords"], data["processedRecords"]) == (3, 3)
    assert (data["successfulRecords"], data["failedRecords"], data["skippedRecords"]) == (3, 0, 0)
    assert data["summary"]["created"] == 2 and data["summary"]["updated"] == 1
    assert [r["referenceId"] for r in data["results"]] == [
        "new_customer_1",
        "update_customer_1",
        "new_customer_2",
    ]
    assert [r["index"] for r in data["results"]] == [0, 1, 2]
    assert [r["status"] for r in data["results"]] == ["created", "updated", "created"]
    first = data["results"][0]["data"]
    assert first["id"].startswith("cust_") and first["customerNumber"] == "CUST-0002"
    assert 0 <= data["executionTime"] < 60
    assert data["startedAt"].endswith("Z") and data["completedAt"].endswith("Z")
    acme = Customer.objects.get(public_id=first["id"])
    assert acme.company == company
    assert (acme.city, acme.credit_limit, acme.payment_terms) == (
        "Kuala Lumpur",
        Decimal("10000.00"),
        30,
    )
    assert Customer.objects.get(public_id=existing["data"]["id"]).credit_limit == Decimal("15000")


def test_option_defaults_are_the_documented_ones(api):
    result = post_batch(api, "customers", [create({"name": "A"})])

    assert result["data"]["options"] == {
        "continueOnError": True,
        "validateOnly": False,
        "async": False,
        "rollbackOnError": False,
    }


def test_by_default_good_records_go_in_and_bad_ones_are_explained(api, company):
    result = post_batch(
        api,
        "customers",
        [create({"name": "Good"}), create({"name": "", "email": "nope"}), create({"name": "Fine"})],
    )

    data = result["data"]
    assert [r["status"] for r in data["results"]] == ["created", "failed", "created"]
    assert data["failedRecords"] == 1 and data["summary"]["errors"] == 1
    assert Customer.objects.for_company(company).count() == 2
    error = data["results"][1]["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"] == "Multiple validation errors"
    assert {(d["field"], d["code"]) for d in error["details"]} == {
        ("name", "REQUIRED"),
        ("email", "INVALID_EMAIL"),
    }
    assert error["context"] == {"rowNumber": 2, "originalData": {"name": "", "email": "nope"}}
    assert data["results"][1]["success"] is False


def test_one_bad_field_names_the_field(api):
    result = post_batch(api, "customers", [create({"name": "X", "email": "not-an-email"})])

    error = result["data"]["results"][0]["error"]
    assert (error["code"], error["field"], error["message"]) == (
        "VALIDATION_ERROR",
        "email",
        "Email format is invalid",
    )


def test_continue_on_error_false_stops_at_the_first_failure_and_skips_the_rest(api, company):
    result = post_batch(
        api,
        "customers",
        [create({"name": "Kept"}), create({"name": ""}), create({"name": "Never"})],
        continueOnError=False,
    )

    data = result["data"]
    assert [r["status"] for r in data["results"]] == ["created", "failed", "skipped"]
    assert data["skippedRecords"] == 1 and data["processedRecords"] == 2
    assert data["results"][2]["error"]["code"] == "SKIPPED"
    assert list(Customer.objects.for_company(company).values_list("name", flat=True)) == ["Kept"]


def test_rollback_on_error_persists_nothing_when_one_record_fails(api, company):
    result = post_batch(
        api,
        "customers",
        [create({"name": "A"}), create({"name": "B", "creditLimit": -5}), create({"name": "C"})],
        rollbackOnError=True,
    )

    data = result["data"]
    assert data["status"] == "rolled_back"
    assert [r["status"] for r in data["results"]] == ["rolled_back", "failed", "rolled_back"]
    assert data["results"][0]["error"]["code"] == "ROLLED_BACK"
    assert data["results"][1]["error"]["details"][0]["code"] == "INVALID_AMOUNT"
    assert data["summary"]["created"] == 0
    assert data["successfulRecords"] == 0 and data["processedRecords"] == 3
    assert not Customer.objects.for_company(company).exists()
    assert (
        post_batch(api, "customers", [create({"name": "D"})])["data"]["results"][0]["data"][
            "customerNumber"
        ]
        == "CUST-0001"
    )


def test_rollback_on_error_still_validates_every_record(api):
    result = post_batch(
        api,
        "customers",
        [create({"name": ""}), create({"name": "ok"}), create({"name": "x", "phone": "12"})],
        rollbackOnError=True,
        continueOnError=True,
    )

    statuses = [r["status"] for r in result["data"]["results"]]
    assert statuses == ["failed", "rolled_back", "failed"]


def test_rollback_on_error_with_everything_valid_commits(api, company):
    result = post_batch(api, "customers", [create({"name": "A"})], rollbackOnError=True)

    assert result["data"]["status"] == "completed"
    assert Customer.objects.for_company(company).count() == 1


def test_validate_only_persists_nothing_and_consumes_no_number(api, company):
    result = post_batch(api, "customers", [create(ACME), create({"name": ""})], validateOnly=True)

    data = result["data"]
    assert [r["status"] for r in data["results"]] == ["validated", "failed"]
    assert data["successfulRecords"] == 1
    assert not Customer.objects.for_company(company).exists()
    assert not NumberSequence.objects.filter(company=company, last_value__gt=0).exists()


def test_validate_only_checks_uniqueness_against_the_database(api):
    post_batch(api, "customers", [create(ACME)])

    result = post_batch(
        api, "customers", [create({**ACME, "email": "BILLING@acme.com"})], validateOnly=True
    )

    assert result["data"]["results"][0]["error"]["code"] == "DUPLICATE_ERROR"


def test_operations_in_one_batch_see_each_other(api, company):
    result = post_batch(
        api,
        "customers",
        [
            create({"name": "First", "email": "same@acme.com"}),
            create({"name": "Second", "email": "SAME@acme.com"}),
            update({"customerNumber": "CUST-0001", "creditLimit": "500.00"}),
        ],
    )

    results = result["data"]["results"]
    assert [r["status"] for r in results] == ["created", "failed", "updated"]
    assert results[1]["error"] == {
        "code": "DUPLICATE_ERROR",
        "message": "Email 'SAME@acme.com' already exists",
        "field": "email",
        "details": [
            {
                "field": "email",
                "message": "Email 'SAME@acme.com' already exists",
                "code": "DUPLICATE",
            }
        ],
        "context": {"rowNumber": 2, "originalData": {"name": "Second", "email": "SAME@acme.com"}},
    }
    customer = Customer.objects.get(company=company)
    assert (customer.number, customer.credit_limit) == ("CUST-0001", Decimal("500.00"))


def test_an_email_freed_earlier_in_the_batch_can_be_taken(api, company):
    post_batch(api, "customers", [create({"name": "Old", "email": "move@acme.com"})])

    result = post_batch(
        api,
        "customers",
        [
            update({"customerNumber": "CUST-0001", "email": "elsewhere@acme.com"}),
            create({"name": "New", "email": "move@acme.com"}),
        ],
    )

    assert [r["status"] for r in result["data"]["results"]] == ["updated", "created"]


def test_update_and_delete_of_an_unknown_record_are_not_found(api, other_api):
    theirs = post_batch(other_api, "customers", [create({"name": "Theirs"})])
    their_id = theirs["data"]["results"][0]["data"]["id"]

    result = post_batch(
        api, "customers", [update({"id": their_id, "name": "Mine now"}), delete({"id": "cust_x"})]
    )

    assert [r["error"]["code"] for r in result["data"]["results"]] == ["NOT_FOUND", "NOT_FOUND"]


def test_update_without_an_identifier_is_a_validation_error(api):
    result = post_batch(api, "customers", [update({"name": "Who?"})])

    error = result["data"]["results"][0]["error"]
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "id")


def test_an_unknown_operation_and_an_unknown_field_are_explained(api):
    result = post_batch(
        api,
        "customers",
        [{"operation": "merge", "data": {"name": "X"}}, create({"name": "Y", "creditlimit": 5})],
    )

    first, second = result["data"]["results"]
    assert (first["error"]["code"], first["error"]["field"]) == ("VALIDATION_ERROR", "operation")
    assert second["error"]["details"][0]["code"] == "UNKNOWN_FIELD"


def test_delete_removes_a_customer_without_documents(api, company):
    post_batch(api, "customers", [create({"name": "Gone"})])

    result = post_batch(api, "customers", [delete({"customerNumber": "CUST-0001"})])

    assert result["data"]["results"][0]["status"] == "deleted"
    assert result["data"]["summary"]["deleted"] == 1
    assert not Customer.objects.for_company(company).exists()


def test_delete_of_a_customer_with_invoices_is_a_conflict(api, company):
    from tests import builders

    customer = builders.customer(company)
    builders.invoice(company, customer)

    result = post_batch(api, "customers", [delete({"id": customer.public_id})])

    assert result["data"]["results"][0]["error"]["code"] == "CONFLICT"
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_a_user_without_permission_gets_permission_error_per_record(api, credentials):
    from django.contrib.auth.models import Permission

    from bigledger.models import ApiKey, hash_api_key

    user = ApiKey.objects.get(key_hash=hash_api_key(credentials.api_key)).user
    user.user_permissions.remove(Permission.objects.get(codename="delete_customer"))
    post_batch(api, "customers", [create({"name": "Keep me"})])

    result = post_batch(
        api,
        "customers",
        [delete({"customerNumber": "CUST-0001"}), create({"name": "Allowed"})],
    )

    first, second = result["data"]["results"]
    assert first["error"]["code"] == "PERMISSION_ERROR"
    assert second["status"] == "created"


# Money: Decimal with two places, exact JSON numbers.


@pytest.mark.parametrize(
    ("credit_limit", "code"),
    [
        ("10.001", "INVALID_AMOUNT"),
        ("-1", "INVALID_AMOUNT"),
        ('"abc"', "INVALID_AMOUNT"),
        ("true", "INVALID_AMOUNT"),
        ("1e30", "INVALID_AMOUNT"),
    ],
)
def test_money_with_bad_values_is_an_invalid_amount(api, credit_limit, code):
    body = '{"operations": [{"operation": "create", "data": {"name": "X", "creditLimit": %s}}]}'
    response = raw_post(api, body % credit_limit)

    assert response.json()["data"]["results"][0]["error"]["details"][0]["code"] == code


def test_money_is_exact_in_and_out(api, company):
    body = '{"operations": [{"operation": "create", "data": {"name": "X", "creditLimit": 0.10}}]}'

    response = raw_post(api, body)
    customer = Customer.objects.get(company=company)
    read = api.get(f"/v1/customers/{customer.public_id}")

    assert response.status_code == 200
    assert customer.credit_limit == Decimal("0.10")
    assert b'"creditLimit":0.10' in read.content


def test_tax_number_must_suit_the_country(api):
    result = post_batch(
        api,
        "customers",
        [
            create({"name": "MY ok", "taxNumber": "C2584563200"}),
            create({"name": "MY bad", "taxNumber": "12345"}),
            create({"name": "SG ok", "taxNumber": "201912345K", "address": {"country": "SG"}}),
        ],
    )

    statuses = [r["status"] for r in result["data"]["results"]]
    assert statuses == ["created", "failed", "created"]
    assert result["data"]["results"][1]["error"]["details"][0]["code"] == "INVALID_TAX_NUMBER"


def test_the_sync_batch_is_recorded_as_a_job(api, company):
    from batch.models import BatchJob

    result = post_batch(api, "customers", [create({"name": "A"}), create({"name": ""})])

    job = BatchJob.objects.get(public_id=result["data"]["batchId"])
    assert (job.company, job.entity, job.mode, job.status) == (
        company,
        "customers",
        "sync",
        "completed",
    )
    assert (job.total_records, job.successful_records, job.failed_records) == (2, 1, 1)
