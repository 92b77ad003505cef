"""POST /v1/batch as a client meets it: Idempotency-Key and rate limits as on the other batch
endpoints, the batch listed with the jobs under entity "batch", malformed envelopes refused,
permissions checked per operation, and "$ref:" wherever an id of another record is taken."""

import pytest
import simplejson

from batch.models import BatchJob
from ledger.models import Account, Bill, Customer, Invoice, Payment
from tests import builders
from tests.batch.engine.test_composite import (
    TODAY,
    by_reference,
    customer,
    invoice,
    op,
    payment,
    post_composite,
)
from tests.bigledger.test_permissions import member
from tests.books import assert_books_sound

WINDOW_START = 1_900_000_020.0  # the middle of a rate-limit window, as in test_rate_limits


@pytest.fixture
def frozen_clock(monkeypatch):
    now = {"t": WINDOW_START + 5}
    monkeypatch.setattr("batch.api.ratelimit.clock", lambda: now["t"])
    return now


def send(api, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    payload = body if isinstance(body, str) else simplejson.dumps(body)
    return api.post("/v1/batch", payload, content_type="application/json", **headers)


def migration(name="Acme") -> dict:
    return {"operations": [customer("c1", name=name), invoice("i1", "c1")]}


def limit_headers(response) -> tuple[int, int, int]:
    return tuple(
        int(response[name])
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
    )


# Idempotency-Key ------------------------------------------------------------------------------


def test_the_same_key_replays_the_first_answer_and_processes_nothing(api, company, frozen_clock):
    first = send(api, migration(), key="migration-1")
    again = send(api, migration(), key="migration-1")

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert limit_headers(again) == limit_headers(first)
    assert Customer.objects.for_company(company).count() == 1
    assert Invoice.objects.for_company(company).count() == 1
    assert BatchJob.objects.for_company(company).count() == 1


def test_the_same_key_with_another_body_is_422_and_processes_nothing(api, company, frozen_clock):
    send(api, migration(), key="migration-1")

    other = send(api, migration(name="Other"), key="migration-1")

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert list(Customer.objects.for_company(company).values_list("name", flat=True)) == ["Acme"]


def test_a_key_used_on_an_entity_batch_is_not_replayed_for_the_composite_one(api, frozen_clock):
    single = {"operations": [{"operation": "create", "data": {"name": "Acme"}}]}
    api.post(
        "/v1/batch/customers",
        simplejson.dumps(single),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="shared",
    )

    assert send(api, migration(), key="shared").status_code == 422


# Rate limits ----------------------------------------------------------------------------------


def test_every_answer_carries_the_rate_limit_headers(api, frozen_clock):
    processed = send(api, migration())
    refused = send(api, "{not json")

    assert processed.status_code == 200
    assert limit_headers(processed) == (10, 9, 55)
    assert refused.status_code == 400
    assert limit_headers(refused) == (10, 8, 55)


def test_the_request_past_the_batch_rate_limit_is_429_and_processes_nothing(
    api, company, settings, frozen_clock
):
    settings.BATCH_RATE_LIMIT = "2/min"
    assert [send(api, migration(f"C{n}")).status_code for n in range(2)] == [200, 200]

    refused = send(api, migration("Too many"))

    assert refused.status_code == 429
    assert refused["Retry-After"] == "55"
    assert refused.json()["error"]["details"][0]["policy"] == "batch"
    assert not Customer.objects.for_company(company).filter(name="Too many").exists()
    assert BatchJob.objects.for_company(company).count() == 2


def test_more_than_100_operations_count_as_a_large_batch(api, frozen_clock):
    body = {
        "operations": [customer(f"c{n}", name=f"C{n}") for n in range(101)],
        "options": {"validateOnly": True},
    }

    response = send(api, body)

    assert response.status_code == 200, response.content
    assert limit_headers(response)[:2] == (5, 4)


# Listed with the jobs -------------------------------------------------------------------------


def test_the_batch_is_listed_with_the_jobs_under_entity_batch(api, company):
    answer = post_composite(api, [customer("bad", name=""), customer("c1"), invoice("i1", "c1")])
    batch_id = answer["data"]["batchId"]

    listed = api.get("/v1/batch/jobs", {"entity": "batch"}).json()
    detail = api.get(f"/v1/batch/jobs/{batch_id}").json()["data"]
    results = api.get(f"/v1/batch/jobs/{batch_id}/results").json()["data"]["results"]
    failed = api.get(f"/v1/batch/jobs/{batch_id}/results", {"status": "failed"}).json()

    assert [job["jobId"] for job in listed["data"]] == [batch_id]
    assert (detail["entity"], detail["mode"], detail["status"]) == ("batch", "sync", "completed")
    assert detail["progress"]["totalRecords"] == 3
    assert detail["progress"]["failedRecords"] == 1
    assert results == answer["data"]["results"]
    assert [(r["entity"], r["status"]) for r in results] == [
        ("customers", "failed"),
        ("customers", "created"),
        ("invoices", "created"),
    ]
    assert [r["referenceId"] for r in failed["data"]["results"]] == ["bad"]


# Malformed envelopes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "named"),
    [
        ({**customer("c1"), "entites": "customers"}, "entites"),
        ({**customer("c1"), "group": {"name": "g1"}}, "group"),
        ({**customer("c1"), "group": True}, "group"),
    ],
)
def test_a_malformed_operation_refuses_the_request(api, company, operation, named):
    answer = post_composite(api, [customer("c0"), operation], status=400)

    assert answer["error"]["code"] == "INVALID_REQUEST"
    assert named in answer["error"]["message"]
    assert not Customer.objects.for_company(company).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"operations": []},
        {"operations": [customer("c1")], "extra": 1},
        {"operations": [customer("c1")], "options": {"dryRun": True}},
        {"operations": [customer("c1"), customer("c1", name="Again")]},
        [customer("c1")],
    ],
)
def test_a_malformed_envelope_is_400(api, company, body):
    response = send(api, body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("INVALID_REQUEST", "DUPLICATE_REFERENCE_ID")
    assert not Customer.objects.for_company(company).exists()


def test_an_operation_without_an_entity_fails_alone_on_entity(api, company):
    nameless = {"operation": "create", "referenceId": "x", "data": {"name": "Nobody"}}

    answer = post_composite(api, [nameless, customer("c1")])

    first, second = answer["data"]["results"]
    assert (first["status"], first["error"]["code"]) == ("failed", "VALIDATION_ERROR")
    assert first["error"]["details"][0]["field"] == "entity"
    assert first["error"]["details"][0]["code"] == "INVALID_CHOICE"
    assert (second["entity"], second["status"]) == ("customers", "created")


# Permissions ----------------------------------------------------------------------------------


def test_a_user_without_add_invoice_fails_only_the_invoice_operations(company):
    api = member(company, "ledger.add_customer", "ledger.add_payment")
    operations = [
        customer("c1"),
        invoice("i1", "c1"),
        invoice("i2", "c1"),
        payment("p1", "i1", "10.00", "c1"),
        customer("c2", name="Beta"),
    ]

    answer = post_composite(api, operations)

    results = by_reference(answer)
    assert [results[ref]["error"]["code"] for ref in ("i1", "i2")] == ["PERMISSION_ERROR"] * 2
    assert results["p1"]["error"]["code"] == "DEPENDENCY_FAILED"  # it waited for i1
    assert (results["c1"]["status"], results["c2"]["status"]) == ("created", "created")
    assert not Invoice.objects.for_company(company).exists()


# $ref in nested fields ------------------------------------------------------------------------


def supplier(reference_id, name="Parts Co"):
    return op("suppliers", reference_id, {"name": name})


def test_refs_stand_in_nested_fields_of_bills_payments_and_accounts(api, company):
    operations = [
        op(
            "payments",
            "pay1",
            {
                "supplierId": "$ref:s1",
                "paymentDate": TODAY,
                "amount": "54.00",
                "allocations": [{"billId": "$ref:b1", "amount": "54.00"}],
            },
        ),
        op(
            "bills",
            "b1",
            {
                "supplierId": "$ref:s1",
                "billDate": TODAY,
                "items": [
                    {
                        "accountId": "$ref:leaf",
                        "description": "Parts",
                        "quantity": 1,
                        "unitPrice": "50.00",
                        "taxCode": "SST",
                    }
                ],
            },
        ),
        op("accounts", "leaf", {"code": "6995", "name": "Parts", "type": "expense"}),
        op(
            "accounts",
            "head",
            {"code": "6900", "name": "Migration costs", "type": "expense"},
        ),
        supplier("s1"),
    ]
    operations[2]["data"]["parentId"] = "$ref:head"

    answer = post_composite(api, operations)

    results = by_reference(answer)
    assert {ref: r["status"] for ref, r in results.items()} == dict.fromkeys(results, "created")
    leaf = Account.objects.for_company(company).get(code="6995")
    assert leaf.parent.public_id == results["head"]["data"]["id"]
    bill = Bill.objects.for_company(company).get()
    assert bill.public_id == results["b1"]["data"]["id"]
    assert bill.lines.get().account == leaf
    assert bill.supplier.public_id == results["s1"]["data"]["id"]
    assert bill.amount_paid == 54
    paid = Payment.objects.for_company(company).get()
    assert paid.allocations.get().bill == bill
    assert_books_sound(company)


# Upserts --------------------------------------------------------------------------------------


def test_an_upsert_carries_refs_and_is_matched_on_a_second_run(api, company):
    operations = [
        op("customers", "c1", {"externalId": "crm-1", "name": "Acme"}, operation="upsert"),
        op(
            "invoices",
            "i1",
            {
                "externalId": "shop-1",
                "customerId": "$ref:c1",
                "invoiceDate": TODAY,
                "items": [
                    {"description": "Work", "quantity": 1, "unitPrice": "100.00", "taxCode": "SST"}
                ],
            },
            operation="upsert",
        ),
    ]

    first = by_reference(post_composite(api, operations))
    again = by_reference(post_composite(api, operations))

    assert (first["c1"]["status"], first["i1"]["status"]) == ("created", "created")
    assert (again["c1"]["status"], again["i1"]["status"]) == ("unchanged", "unchanged")
    assert again["i1"]["data"]["id"] == first["i1"]["data"]["id"]
    stored = Invoice.objects.for_company(company).get()
    assert stored.customer.external_id == "crm-1"
    assert_books_sound(company)


def test_a_ref_to_an_upsert_that_changed_nothing_still_resolves(api, company):
    known = builders.customer(company, name="Acme", external_id="crm-1")
    operations = [
        op("customers", "c1", {"externalId": "crm-1", "name": "Acme"}, operation="upsert"),
        invoice("i1", "c1"),
    ]

    answer = post_composite(api, operations)

    results = by_reference(answer)
    assert results["c1"]["status"] == "unchanged"
    assert results["c1"]["data"]["id"] == known.public_id
    assert results["i1"]["status"] == "created"
    assert Invoice.objects.for_company(company).get().customer == known
