"""Syncing stock adjustments by another system's ids: their own externalId (kept, returned,
unique per company, also against a concurrent batch) and the item named by its external id."""

from decimal import Decimal

import pytest

from inventory.handlers.adjustments import StockAdjustmentHandler
from inventory.models import StockAdjustment, StockLevel
from tests import builders
from tests.books import assert_books_balance
from tests.helpers import count_queries, create, detail_codes, post_batch, result_error

pytestmark = pytest.mark.django_db

ENTITY = "stock-adjustments"


def adjustment(kind="increase", quantity="10", **fields) -> dict:
    body = {
        "locationCode": "WH",
        "adjustmentType": kind,
        "quantity": Decimal(quantity),
        "reason": "Stock count",
        **fields,
    }
    if kind == "increase":
        body.setdefault("unitCost", Decimal("2.00"))
    return body


def post(api, *data, **options) -> dict:
    return post_batch(api, ENTITY, [create(body) for body in data], **options)["data"]


def statuses(body) -> list[str]:
    return [result["status"] for result in body["results"]]


@pytest.fixture
def widget(company):
    return builders.item(company, "WIDGET-001", external_id="erp-widget")


def on_hand(item) -> Decimal:
    return StockLevel.objects.get(item=item).quantity


def test_an_adjustment_names_its_item_by_external_id_and_keeps_its_own(api, company, widget):
    body = post(
        api,
        adjustment(itemExternalId="erp-widget", externalId="count-1"),
        adjustment(itemCode="WIDGET-001"),
    )

    first, second = body["results"]
    assert statuses(body) == ["created", "created"]
    assert first["data"]["externalId"] == "count-1"
    assert second["data"]["externalId"] is None
    stored = StockAdjustment.objects.get(public_id=first["data"]["id"])
    assert (stored.item, stored.external_id) == (widget, "count-1")
    assert on_hand(widget) == Decimal("20")
    assert_books_balance(company)


def test_an_adjustment_external_id_stored_or_taken_earlier_in_the_batch_is_a_duplicate(
    api, company, widget
):
    post(api, adjustment(itemCode="WIDGET-001", externalId="count-1"))

    body = post(
        api,
        adjustment(itemCode="WIDGET-001", externalId="count-1"),
        adjustment(itemCode="WIDGET-001", externalId="count-2"),
        adjustment(itemCode="WIDGET-001", externalId="count-2"),
        continueOnError=True,
    )

    assert statuses(body) == ["failed", "created", "failed"]
    for index in (0, 2):
        error = result_error(body, index)
        assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "externalId")
        assert detail_codes(error) == {("externalId", "DUPLICATE")}
    assert on_hand(widget) == Decimal("20")


def test_an_unknown_item_external_id_is_a_reference_error_naming_the_field(api, company, widget):
    """Our item code is not an external id: the namespaces are apart."""
    error = result_error(post(api, adjustment(itemExternalId="WIDGET-001")))

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "itemExternalId")
    assert detail_codes(error) == {("itemExternalId", "NOT_FOUND")}


def test_an_item_code_and_external_id_naming_different_items_are_invalid(api, company, widget):
    builders.item(company, "GADGET-002")

    error = result_error(post(api, adjustment(itemCode="GADGET-002", itemExternalId="erp-widget")))

    assert error["code"] == "VALIDATION_ERROR"
    assert detail_codes(error) == {("itemExternalId", "INVALID_VALUE")}


def test_an_adjustment_names_no_item_at_all(api, company, widget):
    error = result_error(post(api, adjustment()))

    assert detail_codes(error) == {("itemId", "REQUIRED")}
    assert "itemExternalId" in error["details"][0]["message"]


def test_an_external_id_another_batch_stored_meanwhile_fails_alone_and_stock_is_recounted(
    api, company, widget, monkeypatch
):
    """The lost increase brought the stock a later decrease of the batch counted on: that
    decrease now fails too, and the rest are written with what is really on hand."""
    rival = builders.adjust_stock(company, widget, "increase", "1", "2.00")  # 1 on hand
    original_load = StockAdjustmentHandler.load

    def load_then_lose_the_race(self, records):
        original_load(self, records)
        # What a concurrent batch commits between this batch's read and its write.
        StockAdjustment.objects.filter(pk=rival.pk).update(external_id="count-9")

    monkeypatch.setattr(StockAdjustmentHandler, "load", load_then_lose_the_race)

    body = post(
        api,
        adjustment(itemCode="WIDGET-001", quantity="5", externalId="count-8"),
        adjustment(itemCode="WIDGET-001", quantity="10", externalId="count-9"),
        adjustment("decrease", "12", itemCode="WIDGET-001"),
        adjustment("decrease", "2", itemCode="WIDGET-001"),
        continueOnError=True,
    )

    assert statuses(body) == ["created", "failed", "failed", "created"]
    assert result_error(body, 1)["code"] == "DUPLICATE_ERROR"
    assert detail_codes(result_error(body, 2)) == {("quantity", "INSUFFICIENT_STOCK")}
    assert [body["results"][i]["data"]["quantityOnHand"] for i in (0, 3)] == [
        Decimal("6"),
        Decimal("4"),
    ]
    assert on_hand(widget) == Decimal("4")
    assert_books_balance(company)


def test_adjustments_by_item_external_ids_cost_the_same_queries_for_1_and_500(api, company):
    for n in range(5):
        builders.item(company, f"ITEM-{n}", external_id=f"erp-{n}")

    def batch(first, count):
        return [
            create(adjustment(itemExternalId=f"erp-{n % 5}", externalId=f"count-{n}"))
            for n in range(first, first + count)
        ]

    post_batch(api, ENTITY, batch(0, 5))  # the number sequences, stock levels, key stamp

    one = count_queries(lambda: post_batch(api, ENTITY, batch(5, 1)))
    full = count_queries(lambda: post_batch(api, ENTITY, batch(6, 500)))

    assert one == full
    assert StockAdjustment.objects.filter(company=company).count() == 506
    assert_books_balance(company)
