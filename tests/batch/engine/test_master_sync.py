"""Syncing master data by another system's ids: externalId, upsert, matchOn, unchanged
updates and deletes, and upserts of one key racing in two batches."""

import contextlib
import threading

import pytest
import simplejson
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bigledger.models import Tombstone
from inventory.models import Item
from ledger.handlers.parties import CustomerHandler
from ledger.models import Account, Customer
from tests.helpers import (
    api_client_for,
    count_queries,
    create,
    delete,
    make_company,
    post_batch,
    result_error,
    update,
)


def upsert(data, reference_id=None) -> dict:
    return {**create(data, reference_id), "operation": "upsert"}


def statuses(result) -> list[str]:
    return [record["status"] for record in result["data"]["results"]]


# externalId ---------------------------------------------------------------------------------


def test_external_id_is_kept_returned_and_names_the_record_for_update_and_delete(api, company):
    created = post_batch(api, "customers", [create({"name": "Acme", "externalId": "crm-1"})])
    assert created["data"]["results"][0]["data"]["externalId"] == "crm-1"

    updated = post_batch(api, "customers", [update({"externalId": "crm-1", "name": "Acme Bhd"})])
    assert statuses(updated) == ["updated"]
    assert Customer.objects.get(company=company, external_id="crm-1").name == "Acme Bhd"

    deleted = post_batch(api, "customers", [delete({"externalId": "crm-1"})])
    assert statuses(deleted) == ["deleted"]
    assert not Customer.objects.filter(company=company).exists()


def test_external_ids_are_unique_per_company_case_sensitive_and_not_across_companies(
    api, other_api
):
    result = post_batch(
        api,
        "customers",
        [
            create({"name": "A", "externalId": "X-1"}),
            create({"name": "B", "externalId": "x-1"}),  # another case: another id
            create({"name": "C", "externalId": "X-1"}),
        ],
    )
    assert statuses(result) == ["created", "created", "failed"]
    error = result_error(result["data"], 2)
    assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "externalId")

    elsewhere = post_batch(other_api, "customers", [create({"name": "A", "externalId": "X-1"})])
    assert statuses(elsewhere) == ["created"]


def test_an_external_id_over_255_characters_is_refused(api):
    result = post_batch(
        api, "items", [create({"itemCode": "I", "name": "I", "externalId": "e" * 256})]
    )

    error = result_error(result["data"])
    assert error["details"][0]["field"] == "externalId"
    assert error["details"][0]["code"] == "MAX_LENGTH"


def test_an_update_may_set_or_clear_the_external_id_named_by_id(api, company):
    created = post_batch(api, "items", [create({"itemCode": "W-1", "name": "Widget"})])
    item_id = created["data"]["results"][0]["data"]["id"]

    post_batch(api, "items", [update({"id": item_id, "externalId": "shop-9"})])
    assert Item.objects.get(public_id=item_id).external_id == "shop-9"

    post_batch(api, "items", [update({"id": item_id, "externalId": ""})])
    assert Item.objects.get(public_id=item_id).external_id is None


# Upsert -------------------------------------------------------------------------------------


def test_upsert_creates_when_nothing_matches_and_updates_when_its_external_id_does(api, company):
    first = post_batch(api, "customers", [upsert({"externalId": "crm-7", "name": "Acme"})])
    assert statuses(first) == ["created"]
    assert first["data"]["summary"]["created"] == 1

    second = post_batch(
        api, "customers", [upsert({"externalId": "crm-7", "creditLimit": "5000.00"})]
    )
    assert statuses(second) == ["updated"]
    customer = Customer.objects.get(company=company, external_id="crm-7")
    assert (customer.name, customer.credit_limit) == ("Acme", 5000)  # only what it carried
    assert Customer.objects.filter(company=company).count() == 1


def test_an_unmatched_upsert_must_carry_what_a_create_needs(api, company):
    result = post_batch(
        api, "customers", [upsert({"externalId": "crm-8", "phone": "+60123456789"})]
    )

    error = result_error(result["data"])
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0] == {
        "field": "name",
        "message": "name is required.",
        "code": "REQUIRED",
    }
    assert not Customer.objects.filter(company=company).exists()


def test_upsert_matches_by_natural_key_and_links_the_external_id(api, company):
    post_batch(api, "items", [create({"itemCode": "W-1", "name": "Widget"})])

    result = post_batch(
        api, "items", [upsert({"itemCode": "W-1", "externalId": "shop-1", "name": "Widget v2"})]
    )

    assert statuses(result) == ["updated"]
    item = Item.objects.get(company=company)
    assert (item.external_id, item.name) == ("shop-1", "Widget v2")


def test_upsert_by_an_id_that_does_not_exist_is_not_found(api):
    result = post_batch(api, "customers", [upsert({"id": "cust_nothere", "name": "X"})])

    assert result_error(result["data"])["code"] == "NOT_FOUND"


def test_upsert_cannot_create_a_customer_by_a_number_bigledger_gives(api, company):
    result = post_batch(api, "customers", [upsert({"customerNumber": "CUST-0042", "name": "X"})])

    error = result_error(result["data"])
    assert (error["code"], error["field"]) == ("NOT_FOUND", "customerNumber")
    assert not Customer.objects.filter(company=company).exists()


def test_two_upserts_of_one_key_in_a_batch_create_then_update(api, company):
    result = post_batch(
        api,
        "accounts",
        [
            upsert({"externalId": "gl-1", "code": "6990", "name": "Rent", "type": "expense"}),
            upsert({"externalId": "gl-1", "name": "Office rent"}),
        ],
    )

    assert statuses(result) == ["created", "updated"]
    account = Account.objects.get(company=company, external_id="gl-1")
    assert (account.code, account.name) == ("6990", "Office rent")


def test_match_on_email_finds_the_customer_case_insensitively(api, company):
    post_batch(api, "customers", [create({"name": "Acme", "email": "ap@acme.com"})])

    result = post_batch(
        api,
        "customers",
        [upsert({"email": "AP@acme.com", "externalId": "crm-1", "phone": "+60123456789"})],
        matchOn=["email"],
    )

    assert statuses(result) == ["updated"]
    customer = Customer.objects.get(company=company)
    assert (customer.external_id, customer.phone) == ("crm-1", "+60123456789")


def test_match_on_a_field_the_entity_cannot_match_on_is_refused(api):
    result = post_batch(api, "customers", [upsert({"name": "X"})], status=400, matchOn=["name"])

    assert result["error"]["code"] == "INVALID_REQUEST"
    assert "matchOn" in result["error"]["message"]


def test_upsert_needs_both_add_and_change_permission(credentials, company):
    user = get_user_model().objects.get(username=credentials.username)
    user.user_permissions.remove(*user.user_permissions.filter(codename="change_customer"))
    api = api_client_for(credentials)

    result = post_batch(api, "customers", [upsert({"externalId": "c", "name": "X"})])

    assert result_error(result["data"])["code"] == "PERMISSION_ERROR"


def test_upserts_cost_the_same_queries_for_5_or_50_records(api, company):
    def batch(size, offset):
        return [
            upsert({"externalId": f"e{offset + n}", "name": f"N{n}", "email": f"{offset + n}@x.co"})
            for n in range(size)
        ]

    post_batch(api, "customers", batch(50, 0))  # half of the next batches exist
    small = count_queries(lambda: post_batch(api, "customers", batch(5, 48)))
    large = count_queries(lambda: post_batch(api, "customers", batch(50, 25)))

    assert small == large


# Unchanged ----------------------------------------------------------------------------------


def test_an_update_that_changes_nothing_is_unchanged_and_writes_nothing(api, company):
    post_batch(
        api,
        "customers",
        [
            create(
                {"name": "Acme", "externalId": "crm-1", "creditLimit": "5000", "paymentTerms": 30}
            )
        ],
    )
    before = Customer.objects.get(company=company)

    result = post_batch(
        api,
        "customers",
        [
            upsert(
                {
                    "externalId": "crm-1",
                    "name": "Acme",
                    "creditLimit": "5000.00",
                    "paymentTerms": 30,
                }
            )
        ],
    )

    assert statuses(result) == ["unchanged"]
    record = result["data"]["results"][0]
    assert record["success"] is True
    assert record["data"]["id"] == before.public_id
    summary = result["data"]["summary"]
    assert (summary["unchanged"], summary["updated"]) == (1, 0)
    assert result["data"]["successfulRecords"] == 1
    assert Customer.objects.get(company=company).updated_at == before.updated_at


def test_an_unchanged_batch_sends_no_write_to_the_database(api, company):
    rows = [
        {"externalId": f"e{n}", "itemCode": f"I-{n}", "name": f"Item {n}", "costPrice": "1.50"}
        for n in range(20)
    ]
    post_batch(api, "items", [upsert(row) for row in rows])

    with CaptureQueriesContext(connection) as queries:
        result = post_batch(api, "items", [upsert(row) for row in rows])

    assert set(statuses(result)) == {"unchanged"}
    writes = [
        query["sql"]
        for query in queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "COPY"))
        and "inventory_item" in query["sql"]
    ]
    assert writes == []


def test_a_delete_of_a_record_already_deleted_is_unchanged(api, company):
    post_batch(api, "customers", [create({"name": "Gone", "externalId": "crm-9"})])
    first = post_batch(api, "customers", [delete({"externalId": "crm-9"})])
    customer_id = first["data"]["results"][0]["data"]["id"]

    again = post_batch(
        api, "customers", [delete({"externalId": "crm-9"}), delete({"id": customer_id})]
    )

    assert statuses(again) == ["unchanged", "unchanged"]
    assert again["data"]["results"][0]["data"] == {"id": customer_id, "externalId": "crm-9"}
    assert again["data"]["summary"]["unchanged"] == 2
    assert Tombstone.objects.filter(company=company, public_id=customer_id).count() == 1


def test_a_delete_of_an_external_id_never_seen_is_still_not_found(api):
    result = post_batch(api, "customers", [delete({"externalId": "never"})])

    error = result_error(result["data"])
    assert (error["code"], error["field"]) == ("NOT_FOUND", "externalId")


def test_a_record_recreated_after_deletion_is_deleted_again(api, company):
    post_batch(api, "items", [create({"itemCode": "A", "name": "A", "externalId": "x"})])
    post_batch(api, "items", [delete({"externalId": "x"})])
    post_batch(api, "items", [create({"itemCode": "A", "name": "A", "externalId": "x"})])

    result = post_batch(api, "items", [delete({"externalId": "x"})])

    assert statuses(result) == ["deleted"]
    assert not Item.objects.filter(company=company).exists()


# Concurrency ----------------------------------------------------------------------------------


def post_concurrently(clients, entity, bodies) -> list:
    responses = [None] * len(clients)

    def post(position):
        try:
            responses[position] = clients[position].post(
                f"/v1/batch/{entity}",
                simplejson.dumps(bodies[position]),
                content_type="application/json",
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_key_make_one_record_and_every_result_succeeds(monkeypatch):
    credentials = make_company()
    clients = [api_client_for(credentials) for _ in range(2)]
    inside = threading.Barrier(2, timeout=5)
    original_load = CustomerHandler.load

    def load_together(self, records):
        # Both batches reach load before either looks: the lock must order them.
        with contextlib.suppress(threading.BrokenBarrierError):
            inside.wait()
        return original_load(self, records)

    monkeypatch.setattr(CustomerHandler, "load", load_together)
    bodies = [
        {"operations": [upsert({"externalId": "crm-1", "name": name})]}
        for name in ("First", "Second")
    ]

    responses = post_concurrently(clients, "customers", bodies)

    assert [response.status_code for response in responses] == [200, 200]
    results = [response.json()["data"]["results"][0] for response in responses]
    assert sorted(result["status"] for result in results) == ["created", "updated"]
    assert Customer.objects.filter(company=credentials.company).count() == 1


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_upsert_batches_over_overlapping_keys_never_duplicate():
    credentials = make_company()
    clients = [api_client_for(credentials) for _ in range(4)]
    bodies = [
        {
            "operations": [
                upsert({"externalId": f"k{i}", "itemCode": f"I-{i}", "name": f"v{n}"})
                for i in range(n * 10, n * 10 + 40)
            ]
        }
        for n in range(4)
    ]

    responses = post_concurrently(clients, "items", bodies)

    assert [response.status_code for response in responses] == [200] * 4
    outcomes = {
        record["status"] for response in responses for record in response.json()["data"]["results"]
    }
    assert outcomes <= {"created", "updated", "unchanged"}
    assert Item.objects.filter(company=credentials.company).count() == 70
