"""Invoices and bills kept in step with another system (docs/api.md): externalId, update by
externalId, upsert, unchanged updates that write nothing, and references by external id."""

import threading
from decimal import Decimal

import pytest
import simplejson
from django.db import connection

from inventory.models import ItemType, StockMovement
from ledger.handlers.documents import TradeDocumentHandler
from ledger.models import Bill, Invoice, JournalEntry
from tests import builders
from tests.books import assert_books_sound
from tests.helpers import (
    api_client_for,
    count_queries,
    create,
    detail_codes,
    make_company,
    post_batch,
    result_error,
    update,
)

pytestmark = pytest.mark.django_db

D = Decimal


def upsert(data, reference_id=None) -> dict:
    return {**create(data, reference_id), "operation": "upsert"}


def line(quantity=5, price="200.00", **extra) -> dict:
    data = {"quantity": quantity, "unitPrice": D(price), "taxCode": "SST", **extra}
    if not any(key.startswith("item") for key in extra):
        data.setdefault("description", "Consulting Services")
    return data


def invoice_data(customer, *lines, **extra) -> dict:
    return {
        "customerId": customer.public_id,
        "invoiceDate": "2024-01-15",
        "dueDate": "2024-02-14",
        "items": list(lines) or [line()],
        **extra,
    }


def bill_data(supplier, *lines, **extra) -> dict:
    return {
        "supplierId": supplier.public_id,
        "billDate": "2024-01-15",
        "dueDate": "2024-02-14",
        "items": list(lines) or [line(price="40.00")],
        **extra,
    }


def statuses(body) -> list[str]:
    return [result["status"] for result in body["data"]["results"]]


def invoices(company):
    return Invoice.objects.for_company(company)


def entries(company) -> int:
    return JournalEntry.objects.for_company(company).count()


# externalId on create and in results.


def test_a_create_keeps_its_external_id_and_every_result_carries_one(api, company):
    customer = builders.customer(company)

    body = post_batch(
        api,
        "invoices",
        [create(invoice_data(customer, externalId="ERP-1")), create(invoice_data(customer))],
    )

    first, second = body["data"]["results"]
    assert (first["data"]["externalId"], second["data"]["externalId"]) == ("ERP-1", None)
    assert invoices(company).get(public_id=first["data"]["id"]).external_id == "ERP-1"
    assert invoices(company).get(public_id=second["data"]["id"]).external_id is None


def test_a_taken_external_id_is_a_duplicate_whether_stored_or_earlier_in_the_batch(api, company):
    customer = builders.customer(company)
    post_batch(api, "invoices", [create(invoice_data(customer, externalId="ERP-1"))])

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, externalId="ERP-1")),
            create(invoice_data(customer, externalId="ERP-2")),
            create(invoice_data(customer, externalId="ERP-2")),
            create(invoice_data(customer, externalId="erp-2")),  # case-sensitive: another id
        ],
        continueOnError=True,
    )

    assert statuses(body) == ["failed", "created", "failed", "created"]
    for index in (0, 2):
        error = result_error(body["data"], index)
        assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "externalId")
    assert invoices(company).count() == 3


def test_an_update_may_not_take_an_external_id_another_invoice_holds(api, company):
    customer = builders.customer(company)
    post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, externalId="ERP-1")),
            create(invoice_data(customer, externalId="ERP-2")),
        ],
    )

    body = post_batch(api, "invoices", [update({"id": "INV-000002", "externalId": "ERP-1"})])

    error = result_error(body["data"])
    assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "externalId")
    assert invoices(company).get(number="INV-000002").external_id == "ERP-2"


# Update by externalId.


def test_an_update_names_its_invoice_by_external_id(api, company):
    customer = builders.customer(company)
    post_batch(api, "invoices", [create(invoice_data(customer, externalId="ERP-1"))])
    invoice = invoices(company).get()

    body = post_batch(
        api,
        "invoices",
        [
            update({"externalId": "ERP-1", "notes": "by external id"}),
            update({"externalId": "ERP-404", "notes": "x"}),
            update({"id": invoice.public_id, "externalId": "ERP-NEW"}),
        ],
        continueOnError=True,
    )

    assert statuses(body) == ["updated", "failed", "updated"]
    error = result_error(body["data"], 1)
    assert (error["code"], error["field"]) == ("NOT_FOUND", "externalId")
    assert body["data"]["results"][2]["data"]["externalId"] == "ERP-NEW"
    invoice.refresh_from_db()
    assert (invoice.notes, invoice.external_id) == ("by external id", "ERP-NEW")


def test_an_update_names_neither_nothing_nor_another_number(api, company):
    customer = builders.customer(company)
    post_batch(api, "invoices", [create(invoice_data(customer, externalId="ERP-1"))])

    body = post_batch(
        api,
        "invoices",
        [
            update({"notes": "x"}),
            update({"externalId": "ERP-1", "invoiceNumber": "INV-999999", "notes": "x"}),
        ],
        continueOnError=True,
    )

    assert detail_codes(result_error(body["data"], 0)) == {("id", "REQUIRED")}
    assert detail_codes(result_error(body["data"], 1)) == {("invoiceNumber", "INVALID_VALUE")}


# Upsert.


def test_an_upsert_creates_then_updates_by_external_id(api, company):
    customer = builders.customer(company)

    first = post_batch(api, "invoices", [upsert(invoice_data(customer, externalId="ERP-1"))])
    second = post_batch(
        api, "invoices", [upsert(invoice_data(customer, externalId="ERP-1", notes="changed"))]
    )

    assert (statuses(first), statuses(second)) == (["created"], ["updated"])
    assert (first["data"]["summary"]["created"], second["data"]["summary"]["updated"]) == (1, 1)
    [created], [updated] = first["data"]["results"], second["data"]["results"]
    assert created["data"]["id"] == updated["data"]["id"]
    assert invoices(company).get().notes == "changed"
    assert entries(company) == 1  # a note is not worth a reversal
    assert_books_sound(company)


def test_an_upsert_matches_by_invoice_number_and_an_unmatched_one_keeps_it(api, company):
    customer = builders.customer(company)

    first = post_batch(api, "invoices", [upsert(invoice_data(customer, invoiceNumber="LEG-1"))])
    second = post_batch(
        api,
        "invoices",
        [upsert(invoice_data(customer, line(quantity=2), invoiceNumber="LEG-1"))],
    )

    assert (statuses(first), statuses(second)) == (["created"], ["updated"])
    invoice = invoices(company).get()
    assert (invoice.number, invoice.total) == ("LEG-1", D("432.00"))
    assert entries(company) == 3  # the first entry, its reversal and the new one
    assert_books_sound(company)


def test_options_match_on_names_the_key_an_upsert_is_matched_by(api, company):
    customer = builders.customer(company)
    post_batch(
        api, "invoices", [create(invoice_data(customer, invoiceNumber="LEG-1", externalId="A"))]
    )
    data = invoice_data(customer, invoiceNumber="LEG-1", externalId="B")

    by_external = post_batch(api, "invoices", [upsert(data)], matchOn=["externalId"])
    by_number = post_batch(api, "invoices", [upsert(data)], matchOn=["invoiceNumber"])
    refused = post_batch(api, "invoices", [upsert(data)], status=400, matchOn=["email"])

    error = result_error(by_external["data"])  # B matched nothing; LEG-1 cannot be created
    assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "invoiceNumber")
    assert statuses(by_number) == ["updated"]
    assert invoices(company).get().external_id == "B"
    assert refused["error"]["details"][0]["field"] == "options.matchOn"


def test_an_unmatched_upsert_must_carry_what_a_create_needs(api, company):
    customer = builders.customer(company)

    body = post_batch(
        api, "invoices", [upsert({"customerId": customer.public_id, "externalId": "ERP-1"})]
    )

    assert detail_codes(result_error(body["data"])) == {
        ("invoiceDate", "REQUIRED"),
        ("items", "REQUIRED"),
    }
    assert not invoices(company).exists()


def test_an_upsert_by_an_unknown_id_is_not_found(api, company):
    customer = builders.customer(company)

    body = post_batch(api, "invoices", [upsert(invoice_data(customer, id="inv_unknown"))])

    error = result_error(body["data"])
    assert (error["code"], error["field"]) == ("NOT_FOUND", "id")


def test_a_matched_upsert_of_a_paid_invoice_is_a_conflict_unless_it_changes_nothing(api, company):
    customer = builders.customer(company)
    data = invoice_data(customer, externalId="ERP-1")
    post_batch(api, "invoices", [create(data)])
    invoice = invoices(company).get()
    builders.payment(company, customer, "1080.00", [(invoice, "1080.00")])
    before = entries(company)

    body = post_batch(
        api,
        "invoices",
        [upsert(data), upsert({**data, "notes": "late change"})],
        continueOnError=True,
    )

    assert statuses(body) == ["unchanged", "failed"]
    assert result_error(body["data"], 1)["code"] == "CONFLICT"
    assert body["data"]["results"][0]["data"]["status"] == "paid"
    assert entries(company) == before
    assert_books_sound(company)


def test_two_upserts_of_one_key_in_a_batch_update_what_the_first_creates(api, company):
    customer = builders.customer(company)
    stock = builders.stocked_item(company, quantity="60")

    body = post_batch(
        api,
        "invoices",
        [
            upsert(
                invoice_data(customer, line(quantity=5, itemCode=stock.item_code), externalId="E")
            ),
            upsert(
                invoice_data(customer, line(quantity=8, itemCode=stock.item_code), externalId="E")
            ),
            upsert(
                invoice_data(customer, line(quantity=8, itemCode=stock.item_code), externalId="E")
            ),
            update({"externalId": "E", "notes": "last"}),
        ],
    )

    assert statuses(body) == ["created", "updated", "unchanged", "updated"]
    assert body["data"]["summary"]["unchanged"] == 1
    ids = {result["data"]["id"] for result in body["data"]["results"]}
    invoice = invoices(company).get()
    assert ids == {invoice.public_id}
    assert (invoice.notes, invoice.external_id) == ("last", "E")
    assert [line.quantity for line in invoice.lines.all()] == [D("8")]
    assert StockMovement.objects.filter(item=stock, quantity__lt=0).count() == 1
    assert stock.stock_levels.get().quantity == D("52")
    assert entries(company) == 2  # the stock adjustment's and the invoice's, posted once
    assert_books_sound(company)


def test_a_number_kept_by_an_upsert_names_the_invoice_for_the_next_one(api, company):
    customer = builders.customer(company)

    body = post_batch(
        api,
        "invoices",
        [
            upsert(invoice_data(customer, invoiceNumber="LEG-7")),
            upsert({"invoiceNumber": "LEG-7", "externalId": "ERP-7"}),
        ],
    )

    assert statuses(body) == ["created", "updated"]
    assert invoices(company).get().external_id == "ERP-7"


def test_validate_only_upserts_write_nothing(api, company):
    customer = builders.customer(company)

    body = post_batch(
        api, "invoices", [upsert(invoice_data(customer, externalId="E"))], validateOnly=True
    )

    assert statuses(body) == ["validated"]
    assert not invoices(company).exists()


# Unchanged.


def test_an_identical_update_is_unchanged_and_writes_nothing(api, company):
    customer = builders.customer(company)
    stock = builders.stocked_item(company)
    data = invoice_data(
        customer,
        line(quantity=2, price="25.00", itemCode=stock.item_code),  # at the default location
        line(quantity=1, price="10.00", description="Delivery"),
        reference="SO-1",
        externalId="ERP-1",
    )
    post_batch(api, "invoices", [create(data)])
    invoice = invoices(company).get()
    before = (entries(company), StockMovement.objects.count(), invoice.updated_at)
    same_numbers = {
        **data,
        "items": [
            {**data["items"][0], "quantity": "2.000", "unitPrice": "25.0"},
            data["items"][1],
        ],
    }

    body = post_batch(
        api,
        "invoices",
        [
            update({**data, "id": invoice.public_id}),
            upsert(data),
            update({"externalId": "ERP-1", **same_numbers}),
            update({"externalId": "ERP-1", "customerNumber": customer.number}),
        ],
    )

    assert statuses(body) == ["unchanged"] * 4
    assert body["data"]["summary"]["unchanged"] == 4
    assert body["data"]["results"][0]["data"]["id"] == invoice.public_id
    invoice.refresh_from_db()
    assert (entries(company), StockMovement.objects.count(), invoice.updated_at) == before
    assert_books_sound(company)


def test_an_update_that_changes_anything_is_updated(api, company):
    customer = builders.customer(company)
    data = invoice_data(customer, externalId="ERP-1")
    post_batch(api, "invoices", [create(data)])
    invoice = invoices(company).get()
    changed_price = {**data, "items": [line(price="200.01")]}

    body = post_batch(
        api,
        "invoices",
        [
            update({**changed_price, "externalId": "ERP-1"}),
            update({"externalId": "ERP-1", "dueDate": "2024-02-20"}),
        ],
    )

    assert statuses(body) == ["updated", "updated"]
    invoice.refresh_from_db()
    assert invoice.total == D("1080.05")
    assert_books_sound(company)


# References by external id.


def test_customer_item_and_account_are_named_by_their_external_ids(api, company):
    customer = builders.customer(company, external_id="CRM-7")
    service = builders.item(company, "SVC", type=ItemType.SERVICE, external_id="PIM-1")
    account = builders.account(company, "4100")
    account.external_id = "GL-4100"
    account.save()

    body = post_batch(
        api,
        "invoices",
        [
            create(
                {
                    "customerExternalId": "CRM-7",
                    "invoiceDate": "2024-01-15",
                    "items": [
                        line(itemExternalId="PIM-1", accountExternalId="GL-4100"),
                    ],
                }
            )
        ],
    )

    assert statuses(body) == ["created"]
    invoice = invoices(company).get()
    [invoice_line] = invoice.lines.all()
    assert (invoice.customer, invoice_line.item, invoice_line.account) == (
        customer,
        service,
        account,
    )
    assert_books_sound(company)


def test_unknown_or_conflicting_external_references_are_reported(api, company):
    customer = builders.customer(company, external_id="CRM-7")
    other = builders.customer(company, name="Other")

    body = post_batch(
        api,
        "invoices",
        [
            create(
                {
                    "customerExternalId": "CRM-404",
                    "invoiceDate": "2024-01-15",
                    "items": [line(itemExternalId="PIM-404")],
                }
            ),
            create(invoice_data(other, customerExternalId="CRM-7")),
            create(invoice_data(customer, customerExternalId="CRM-7")),
        ],
        continueOnError=True,
    )

    missing = result_error(body["data"], 0)
    assert missing["code"] == "REFERENCE_ERROR"
    assert detail_codes(missing) == {
        ("customerExternalId", "NOT_FOUND"),
        ("items[0].itemExternalId", "NOT_FOUND"),
    }
    assert detail_codes(result_error(body["data"], 1)) == {("customerExternalId", "INVALID_VALUE")}
    assert statuses(body)[2] == "created"


# Queries.


def test_upsert_query_count_does_not_grow_with_the_batch(api, company):
    customers = [builders.customer(company), builders.customer(company, name="Second")]
    item = builders.item(company, type=ItemType.SERVICE)

    def upserts(keys, quantity):
        return [
            upsert(
                invoice_data(
                    customers[key % 2],
                    line(quantity=quantity, itemCode=item.item_code),
                    line(quantity=1, price="5.00"),
                    externalId=f"ERP-{key}",
                )
            )
            for key in keys
        ]

    post_batch(api, "invoices", upserts([0, 100], 1))  # sequences exist, two to update
    post_batch(api, "invoices", upserts(range(101, 111), 1))

    two = count_queries(lambda: post_batch(api, "invoices", upserts([100, 1], 2)))
    twenty = count_queries(
        lambda: post_batch(api, "invoices", upserts([*range(101, 111), *range(2, 12)], 2))
    )

    assert two == twenty
    assert invoices(company).count() == 1 + 1 + 10 + 1 + 10
    assert_books_sound(company)


# Concurrent upserts.


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_the_same_keys_create_each_once_and_all_succeed(monkeypatch):
    credentials = make_company()
    customer = builders.customer(credentials.company)
    both_loading = threading.Barrier(2)
    original_load = TradeDocumentHandler.load

    def load_together(self, records):
        both_loading.wait(timeout=20)
        return original_load(self, records)

    monkeypatch.setattr(TradeDocumentHandler, "load", load_together)
    keys = ["A", "B", "C"]
    bodies = [
        {
            "operations": [
                upsert(invoice_data(customer, externalId=key, notes=f"batch {n}"))
                for key in (keys if n == 0 else reversed(keys))
            ]
        }
        for n in range(2)
    ]
    responses = [None, None]

    def post(position):
        try:
            responses[position] = api_client_for(credentials).post(
                "/v1/batch/invoices",
                simplejson.dumps(bodies[position]),
                content_type="application/json",
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [response.status_code for response in responses] == [200, 200]
    results = [r for response in responses for r in response.json()["data"]["results"]]
    assert all(result["success"] for result in results), results
    assert sorted(result["status"] for result in results) == ["created"] * 3 + ["updated"] * 3
    stored = invoices(credentials.company)
    assert sorted(stored.values_list("external_id", flat=True)) == keys
    assert_books_sound(credentials.company)


@pytest.mark.django_db(transaction=True)
def test_an_external_id_a_concurrent_batch_took_fails_alone_and_the_rest_is_written(monkeypatch):
    credentials = make_company()
    company = credentials.company
    customer = builders.customer(company)
    taken, kept = builders.invoice(company, customer), builders.invoice(company, customer)
    both_validated, winner_committed = threading.Barrier(2), threading.Event()
    original_write = TradeDocumentHandler.write

    def write_after_the_winner(self, records):
        if not getattr(self, "_waited", False):
            self._waited = True
            both_validated.wait(timeout=20)
            if len(records) == 2:  # the losing batch writes once the winner committed
                winner_committed.wait(timeout=20)
        return original_write(self, records)

    monkeypatch.setattr(TradeDocumentHandler, "write", write_after_the_winner)
    new_lines = [line(quantity=1, price="300.00")]
    responses = {}

    def post(name, operations, then=None):
        try:
            responses[name] = api_client_for(credentials).post(
                "/v1/batch/invoices",
                simplejson.dumps({"operations": operations}),
                content_type="application/json",
            )
        finally:
            connection.close()
            if then:
                then.set()

    threads = [
        threading.Thread(
            target=post,
            args=("winner", [create(invoice_data(customer, externalId="E"))], winner_committed),
        ),
        threading.Thread(
            target=post,
            args=(
                "loser",
                [
                    update({"id": taken.public_id, "externalId": "E", "items": new_lines}),
                    update({"id": kept.public_id, "items": new_lines}),
                ],
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    results = responses["loser"].json()["data"]["results"]
    assert [r["status"] for r in results] == ["failed", "updated"]
    assert (results[0]["error"]["code"], results[0]["error"]["field"]) == (
        "DUPLICATE_ERROR",
        "externalId",
    )
    taken.refresh_from_db()
    kept.refresh_from_db()
    assert (taken.external_id, taken.total, kept.total) == (None, D("1080.00"), D("324.00"))
    assert_books_sound(company)  # the retried update reversed the entry it replaced


@pytest.mark.django_db(transaction=True)
def test_an_upsert_skipped_after_a_write_time_conflict_leaves_what_the_batch_creates(monkeypatch):
    credentials = make_company()
    customer = builders.customer(credentials.company)
    both_validated, winner_committed = threading.Barrier(2), threading.Event()
    original_write = TradeDocumentHandler.write

    def write_after_the_winner(self, records):
        if not getattr(self, "_waited", False):
            self._waited = True
            both_validated.wait(timeout=20)
            if len(records) == 3:
                winner_committed.wait(timeout=20)
        return original_write(self, records)

    monkeypatch.setattr(TradeDocumentHandler, "write", write_after_the_winner)
    stopping = {
        "operations": [
            upsert(invoice_data(customer, externalId="KEPT", notes="first")),
            create(invoice_data(customer, externalId="RACE")),
            upsert(invoice_data(customer, externalId="KEPT", notes="skipped")),
        ],
        "options": {"continueOnError": False},
    }
    winner = {"operations": [create(invoice_data(customer, externalId="RACE"))]}
    responses = {}

    def post(name, body, then=None):
        try:
            responses[name] = api_client_for(credentials).post(
                "/v1/batch/invoices", simplejson.dumps(body), content_type="application/json"
            )
        finally:
            connection.close()
            if then:
                then.set()

    threads = [
        threading.Thread(target=post, args=("winner", winner, winner_committed)),
        threading.Thread(target=post, args=("stopping", stopping)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    results = responses["stopping"].json()["data"]["results"]
    assert [r["status"] for r in results] == ["created", "failed", "skipped"]
    assert results[1]["error"]["code"] == "DUPLICATE_ERROR"
    assert invoices(credentials.company).get(external_id="KEPT").notes == "first"
    assert_books_sound(credentials.company)


# Bills share the paths.


def test_bills_upsert_update_by_external_id_and_stay_unchanged(api, company):
    supplier = builders.supplier(company, external_id="SRM-1")
    data = bill_data(supplier, externalId="AP-1", reference="SUP-INV-1")
    data.pop("supplierId")
    data["supplierExternalId"] = "SRM-1"

    first = post_batch(api, "bills", [upsert(data)])
    bill = Bill.objects.for_company(company).get()
    before = (entries(company), bill.updated_at)
    again = post_batch(api, "bills", [upsert(data), update({"externalId": "AP-1", **data})])
    changed = post_batch(api, "bills", [update({"externalId": "AP-1", "notes": "checked"})])
    taken = post_batch(api, "bills", [create({**data, "reference": "SUP-INV-2"})])

    assert (statuses(first), statuses(again), statuses(changed)) == (
        ["created"],
        ["unchanged", "unchanged"],
        ["updated"],
    )
    assert first["data"]["results"][0]["data"]["externalId"] == "AP-1"
    assert "warnings" not in again["data"]["results"][0]  # its own reference, not a duplicate
    error = result_error(taken["data"])
    assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "externalId")
    bill.refresh_from_db()
    assert bill.notes == "checked"
    assert entries(company) == before[0]
    assert_books_sound(company)


def test_two_bill_upserts_of_one_key_in_a_batch_are_one_bill(api, company):
    supplier = builders.supplier(company)

    body = post_batch(
        api,
        "bills",
        [
            upsert(bill_data(supplier, billNumber="SUP-9", reference="R-1")),
            upsert(bill_data(supplier, line(price="50.00"), billNumber="SUP-9", reference="R-1")),
        ],
    )

    assert statuses(body) == ["created", "updated"]
    assert [r.get("warnings") for r in body["data"]["results"]] == [None, None]
    bill = Bill.objects.for_company(company).get()
    assert (bill.number, bill.total) == ("SUP-9", D("270.00"))
    assert_books_sound(company)
