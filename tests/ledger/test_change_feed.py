"""Keeping another system in step through the read API: externalId on every synced entity,
the change feed (?updatedSince=, paged by cursor) and the deletions feed (/v1/{entity}/deleted).
"""

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from bigledger.models import Membership, Tombstone
from bigledger.tenancy import issue_api_key
from inventory.models import Item
from ledger.models import Customer
from tests import builders
from tests.helpers import (
    api_client_for,
    create,
    delete,
    json_of,
    listed_ids,
    make_company,
    post_batch,
)

SYNCED_LISTS = {
    "customers": lambda company: builders.customer(company),
    "suppliers": lambda company: builders.supplier(company),
    "accounts": lambda company: builders.account(company, "6000"),
    "journal-entries": lambda company: builders.journal(company, "6000", "1620", "10.00"),
    "invoices": lambda company: builders.invoice(company, builders.customer(company)),
    "bills": lambda company: builders.bill(company, builders.supplier(company)),
    "payments": lambda company: builders.payment(company, builders.customer(company), "5.00"),
    "items": lambda company: builders.item(company),
    "stock-adjustments": lambda company: builders.adjust_stock(
        company, builders.item(company), "increase", "1", "2.00"
    ),
}


@pytest.fixture(autouse=True)
def _no_margin(settings):
    """These tests read what they just wrote; the production margin is tested on its own."""
    settings.CHANGE_FEED_MARGIN_SECONDS = 0


def since(moment) -> dict:
    return {"updatedSince": moment.isoformat()}


def walk(api, path: str, params: dict, page_size: int) -> tuple[list[str], str]:
    """Every row a client reads walking the feed page by page to its end, and the cursor it
    keeps to continue later."""
    seen, params = [], {**params, "pageSize": page_size}
    while True:
        payload = json_of(api.get(path, params))
        assert len(payload["data"]) <= page_size
        seen += [row["id"] for row in payload["data"]]
        pagination = payload["pagination"]
        if pagination["nextCursor"] is None:
            return seen, pagination["resumeCursor"]
        params = {"cursor": pagination["nextCursor"], "pageSize": page_size}


def rename(customer: Customer, name: str) -> None:
    customer.name = name
    customer.save()


def customers(company, count: int) -> list[Customer]:
    return [builders.customer(company, name=f"Customer {i}") for i in range(count)]


# externalId in the read API -------------------------------------------------------------------


@pytest.mark.parametrize("entity", sorted(SYNCED_LISTS))
def test_every_synced_entity_shows_and_filters_by_external_id_exactly(api, company, entity):
    row = SYNCED_LISTS[entity](company)
    type(row).objects.filter(pk=row.pk).update(external_id="ERP-Row-1")

    [shown] = json_of(api.get(f"/v1/{entity}", {"externalId": "ERP-Row-1"}))["data"]
    detail = json_of(api.get(f"/v1/{entity}/{row.public_id}"))["data"]

    assert shown["id"] == detail["id"] == row.public_id
    assert shown["externalId"] == detail["externalId"] == "ERP-Row-1"
    assert shown["updatedAt"] == detail["updatedAt"] is not None
    assert listed_ids(api.get(f"/v1/{entity}", {"externalId": "erp-row-1"})) == []


def test_a_record_without_an_external_id_shows_null(api, company):
    customer = builders.customer(company)

    assert json_of(api.get(f"/v1/customers/{customer.public_id}"))["data"]["externalId"] is None


# The change feed ------------------------------------------------------------------------------


def test_the_feed_lists_rows_changed_since_a_moment_in_change_order(api, company):
    old, recent, renamed = customers(company, 3)
    Customer.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))
    moment = timezone.now() - timedelta(days=1)
    rename(renamed, "Renamed Customer")

    payload = json_of(api.get("/v1/customers", since(moment)))

    assert [row["id"] for row in payload["data"]] == [recent.public_id, renamed.public_id]
    assert payload["pagination"]["nextCursor"] is None
    assert set(payload["pagination"]) == {"pageSize", "nextCursor", "resumeCursor"}


def test_a_row_waits_out_the_margin_before_the_feed_shows_it(api, company, settings):
    settings.CHANGE_FEED_MARGIN_SECONDS = 1
    start = timezone.now() - timedelta(minutes=1)
    builders.customer(company, name="Fresh")

    at_once = json_of(api.get("/v1/customers", since(start)))["data"]
    time.sleep(1.1)
    later = json_of(api.get("/v1/customers", since(start)))["data"]

    assert (len(at_once), [row["name"] for row in later]) == (0, ["Fresh"])


def test_the_feed_accepts_an_offset_other_than_utc(api, company):
    customer = builders.customer(company)
    local = timezone.localtime(customer.updated_at)  # Asia/Kuala_Lumpur, +08:00

    assert listed_ids(api.get("/v1/customers", since(local))) == [customer.public_id]
    assert listed_ids(api.get("/v1/customers", since(local + timedelta(microseconds=1)))) == []


def test_a_walk_in_small_pages_sees_every_row_once_even_when_many_share_a_moment(api, company):
    moment = timezone.now()
    rows = customers(company, 7)
    Customer.objects.filter(pk__in=[row.pk for row in rows[2:6]]).update(updated_at=moment)

    seen, _ = walk(api, "/v1/customers", since(moment), page_size=2)

    assert sorted(seen) == sorted(row.public_id for row in rows)
    assert len(seen) == len(set(seen))


def test_a_client_sees_each_change_once_while_rows_change_around_it(api, company):
    start = timezone.now()
    first, second, third, fourth, fifth = customers(company, 5)

    page = json_of(api.get("/v1/customers", {**since(start), "pageSize": 2}))
    rename(first, "First, renamed after it was read")
    rename(fourth, "Fourth, renamed before it was read")
    rest, resume = walk(api, "/v1/customers", {"cursor": page["pagination"]["nextCursor"]}, 2)

    assert [row["id"] for row in page["data"]] + rest == [
        first.public_id,
        second.public_id,
        third.public_id,
        fifth.public_id,
        first.public_id,  # again, after its change
        fourth.public_id,  # once, where its change put it
    ]
    assert walk(api, "/v1/customers", {"cursor": resume}, 2)[0] == []
    rename(second, "Second, renamed tomorrow")
    assert walk(api, "/v1/customers", {"cursor": resume}, 2)[0] == [second.public_id]


def test_an_empty_page_keeps_the_position_it_was_asked_for(api, company):
    moment = timezone.now()
    empty = json_of(api.get("/v1/customers", since(moment)))
    customer = builders.customer(company)

    assert empty["data"] == [] and empty["pagination"]["nextCursor"] is None
    resumed = api.get("/v1/customers", {"cursor": empty["pagination"]["resumeCursor"]})
    assert listed_ids(resumed) == [customer.public_id]


def test_other_filters_combine_with_the_feed(api, company):
    moment = timezone.now()
    builders.customer(company, name="Active")
    dormant = builders.customer(company, name="Dormant", status="inactive")

    listed = api.get("/v1/customers", {**since(moment), "status": "inactive"})

    assert listed_ids(listed) == [dormant.public_id]


def test_the_feed_shows_only_the_callers_company(api, other_api, company, other_company):
    moment = timezone.now()
    ours = builders.customer(company)
    builders.customer(other_company)

    assert listed_ids(api.get("/v1/customers", since(moment))) == [ours.public_id]


def test_without_updated_since_the_list_pages_by_number_as_before(api, company):
    customers(company, 3)

    pagination = json_of(api.get("/v1/customers", {"pageSize": 2}))["pagination"]

    assert pagination["page"] == 1 and pagination["totalPages"] == 2
    assert "nextCursor" not in pagination


def test_a_feed_page_costs_the_same_queries_for_two_rows_or_ten(api, company):
    acme = builders.customer(company)
    moment = timezone.now()
    builders.invoice(company, acme)
    builders.invoice(company, acme)
    api.get("/v1/invoices")  # the first request records the key's last use: warm it up

    with CaptureQueriesContext(connection) as two:
        assert len(json_of(api.get("/v1/invoices", since(moment)))["data"]) == 2
    for _ in range(8):
        builders.invoice(company, acme, lines=(("1", "10.00", "SST"), ("2", "5.00", "ZR")))
    with CaptureQueriesContext(connection) as ten:
        assert len(json_of(api.get("/v1/invoices", since(moment)))["data"]) == 10

    assert len(ten) == len(two), [query["sql"] for query in ten.captured_queries]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"updatedSince": "yesterday"}, "updatedSince"),
        ({"updatedSince": "2025-01-31T00:00:00"}, "updatedSince"),  # no offset: which zone?
        ({"updatedSince": "2025-01-31T00:00:00 08:00"}, "updatedSince"),  # an unencoded +
        ({"updatedSince": "0001-01-01T00:00:00+14:00"}, "updatedSince"),  # before year 1 in UTC
        ({"updatedSince": "2025-13-01T00:00:00Z"}, "updatedSince"),
        ({"updatedSince": "9999-12-31T23:59:59-14:00"}, "updatedSince"),  # after 9999 in UTC
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "%00"}, "cursor"),
        ({"cursor": ""}, "cursor"),
    ],
)
def test_a_bad_updated_since_or_cursor_is_a_validation_error(api, params, field):
    response = api.get("/v1/customers", params)

    assert response.status_code == 400, response.content
    error = json_of(response)["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in error["details"]] == [field]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"])
def test_the_first_and_last_representable_instants_are_answered(api, company, moment):
    builders.customer(company).delete()

    assert api.get("/v1/customers", {"updatedSince": moment}).status_code == 200
    assert api.get("/v1/customers/deleted", {"since": moment}).status_code == 200


def test_a_cursor_of_one_list_is_refused_by_another(api, company):
    builders.customer(company)
    cursor = json_of(api.get("/v1/customers", since(timezone.now())))["pagination"]
    deleted = json_of(api.get("/v1/customers/deleted"))["pagination"]

    for path, other in [
        ("/v1/items", cursor["resumeCursor"]),
        ("/v1/customers", deleted["resumeCursor"]),
        ("/v1/customers/deleted", cursor["resumeCursor"]),
    ]:
        response = api.get(path, {"cursor": other})
        assert response.status_code == 400, (path, response.content)
        assert json_of(response)["error"]["details"][0]["field"] == "cursor"


# A transaction still open while the client reads ----------------------------------------------


class OpenTransaction(threading.Thread):
    """Another connection that renames a customer and holds its transaction open until
    released, as a long batch would."""

    def __init__(self, customer_id: int):
        super().__init__(daemon=True)
        self.customer_id = customer_id
        self.written, self.release = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic():
                customer = Customer.objects.select_for_update().get(pk=self.customer_id)
                rename(customer, "Renamed in a long transaction")
                self.written.set()
                assert self.release.wait(timeout=30)
        finally:
            connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_row_committed_late_with_an_earlier_stamp_is_not_skipped():
    credentials = make_company()
    api = api_client_for(credentials)
    start = timezone.now()
    late, quick = customers(credentials.company, 2)
    long_batch = OpenTransaction(late.pk)
    long_batch.start()
    assert long_batch.written.wait(timeout=30)
    rename(quick, "Renamed and committed at once")  # stamped after `late`, committed before

    first_walk, resume = walk(api, "/v1/customers", since(start), page_size=1)
    long_batch.release.set()
    long_batch.join(timeout=30)
    second_walk, _ = walk(api, "/v1/customers", {"cursor": resume}, page_size=1)

    late.refresh_from_db()
    quick.refresh_from_db()
    assert late.updated_at < quick.updated_at
    assert quick.public_id not in first_walk  # held back: older work was still open
    assert second_walk == [late.public_id, quick.public_id]


# Deletions ------------------------------------------------------------------------------------


def test_deletions_by_batch_and_by_the_orm_are_listed_in_order(api, company):
    moment = timezone.now()
    kept, by_batch, by_orm = customers(company, 3)
    Customer.objects.filter(pk=by_batch.pk).update(external_id="CRM-2")
    item = builders.item(company, "GADGET-002")
    Item.objects.filter(pk=item.pk).update(external_id="ERP-ITEM-9")

    post_batch(api, "customers", [delete({"id": by_batch.public_id})])
    by_orm.delete()
    post_batch(api, "items", [delete({"externalId": "ERP-ITEM-9"})])

    gone = json_of(api.get("/v1/customers/deleted", {"since": moment.isoformat()}))
    assert [(row["id"], row["externalId"]) for row in gone["data"]] == [
        (by_batch.public_id, "CRM-2"),
        (by_orm.public_id, None),
    ]
    assert gone["data"][0]["deletedAt"] <= gone["data"][1]["deletedAt"]
    assert gone["pagination"]["nextCursor"] is None
    [item_gone] = json_of(api.get("/v1/items/deleted", {"since": moment.isoformat()}))["data"]
    assert (item_gone["id"], item_gone["externalId"]) == (item.public_id, "ERP-ITEM-9")
    assert listed_ids(api.get("/v1/customers")) == [kept.public_id]


def test_deletions_page_by_cursor_from_since(api, company):
    created = [builders.item(company, f"ITEM-{i}") for i in range(5)]
    moment = timezone.now()
    for item in created[:4]:
        item.delete()
    Tombstone.objects.filter(public_id=created[0].public_id).update(
        deleted_at=moment - timedelta(seconds=1)
    )

    seen, resume = walk(api, "/v1/items/deleted", {"since": moment.isoformat()}, page_size=2)
    created[4].delete()

    assert seen == [item.public_id for item in created[1:4]]
    assert walk(api, "/v1/items/deleted", {"cursor": resume}, 2)[0] == [created[4].public_id]
    assert len(walk(api, "/v1/items/deleted", {}, 2)[0]) == 5


def test_deletions_are_scoped_to_the_company_and_need_the_view_permission(api, other_api, company):
    builders.customer(company).delete()
    stranger = get_user_model().objects.create_user(username="no-permissions", password="pw-1")
    Membership.objects.create(user=stranger, company=company)
    _, key = issue_api_key(company=company, user=stranger)

    assert len(json_of(api.get("/v1/customers/deleted"))["data"]) == 1
    assert json_of(other_api.get("/v1/customers/deleted"))["data"] == []
    without_permission = APIClient()
    without_permission.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = without_permission.get("/v1/customers/deleted")
    assert response.status_code == 403, response.content
    assert json_of(response)["error"]["code"] == "PERMISSION_ERROR"


def test_a_bad_since_is_a_validation_error(api):
    response = api.get("/v1/customers/deleted", {"since": "last week"})

    assert response.status_code == 400
    assert json_of(response)["error"]["details"][0]["field"] == "since"


def test_a_created_customer_appears_in_the_feed_and_a_deleted_one_in_deletions(api, company):
    moment = {"since": timezone.now().isoformat()}
    [result] = post_batch(api, "customers", [create({"name": "Fresh"})])["data"]["results"]
    created = result["data"]

    assert listed_ids(api.get("/v1/customers", {"updatedSince": moment["since"]})) == [
        created["id"]
    ]
    post_batch(api, "customers", [delete({"id": created["id"]})])
    assert listed_ids(api.get("/v1/customers/deleted", moment)) == [created["id"]]
    assert listed_ids(api.get("/v1/customers", {"updatedSince": moment["since"]})) == []
