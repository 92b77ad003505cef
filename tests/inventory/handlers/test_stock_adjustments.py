"""POST /v1/batch/stock-adjustments: stock moved in request order, costed and posted."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import (
    AdjustmentType,
    ItemType,
    Location,
    StockAdjustment,
    StockLevel,
    StockMovement,
)
from ledger.models import JournalEntry, JournalSource
from tests import builders
from tests.books import assert_books_balance
from tests.helpers import create, detail_codes, post_batch, result_error

pytestmark = pytest.mark.django_db

ENTITY = "stock-adjustments"


def increase(item="WIDGET-001", quantity="100", unit_cost="25.00", **fields) -> dict:
    return {
        "itemId": item,
        "locationId": "WH",
        "adjustmentType": "increase",
        "quantity": Decimal(quantity),
        "unitCost": Decimal(unit_cost),
        "reason": "Stock count correction",
        "reference": "SC-2024-001",
        **fields,
    }


def decrease(item="WIDGET-001", quantity="50", **fields) -> dict:
    return {
        "itemId": item,
        "locationId": "WH",
        "adjustmentType": "decrease",
        "quantity": Decimal(quantity),
        "reason": "Damaged goods write-off",
        "reference": "WO-2024-001",
        **fields,
    }


def post(api, *data, **options) -> dict:
    return post_batch(api, ENTITY, [create(body) for body in data], **options)["data"]


def only_result(api, data, **options) -> dict:
    return post(api, data, **options)["results"][0]


def on_hand(item) -> Decimal:
    return StockLevel.objects.get(item=item).quantity


def assert_nothing_moved(api, company) -> None:
    """No adjustment, movement, level, posting or number was kept: the next is ADJ-000001."""
    assert not StockAdjustment.objects.filter(company=company).exists()
    assert not StockMovement.objects.filter(company=company).exists()
    assert not StockLevel.objects.filter(company=company).exists()
    assert not JournalEntry.objects.filter(company=company).exists()
    assert_books_balance(company)
    result = only_result(api, increase())
    assert result["data"]["number"] == "ADJ-000001"
    entry = JournalEntry.objects.get(company=company)
    assert entry.number == "JE-000001"
    assert_books_balance(company)


@pytest.fixture
def widget(company):
    return builders.item(company, "WIDGET-001")


# The API's example ----------------------------------------------------------------------------


def test_the_api_example_increases_then_decreases_at_the_average_cost(api, company, widget):
    gadget = builders.item(company, "GADGET-002")
    builders.adjust_stock(company, gadget, AdjustmentType.INCREASE, "80", "2.00")
    example = [
        create(
            increase(widget.public_id, locationId=builders.warehouse(company).public_id), "adj_001"
        ),
        create(
            decrease(gadget.public_id, locationId=builders.warehouse(company).public_id), "adj_002"
        ),
    ]

    body = post_batch(api, ENTITY, example)["data"]

    assert body["status"] == "completed"
    assert body["summary"]["created"] == 2
    first, second = body["results"]
    assert first["referenceId"] == "adj_001"
    assert first["data"]["id"].startswith("adj_")
    assert first["data"] == {
        "id": first["data"]["id"],
        "number": "ADJ-000002",
        "quantityOnHand": Decimal("100"),
        "unitCost": Decimal("25"),
        "value": Decimal("2500.00"),
        "externalId": None,
    }
    assert second["data"] | {"id": None} == {
        "id": None,
        "number": "ADJ-000003",
        "quantityOnHand": Decimal("30"),
        "unitCost": Decimal("2"),
        "value": Decimal("100.00"),
        "externalId": None,
    }
    adjustment = StockAdjustment.objects.get(public_id=first["data"]["id"])
    assert (adjustment.reason, adjustment.reference) == ("Stock count correction", "SC-2024-001")
    assert adjustment.date == timezone.localdate()
    assert adjustment.journal_entry.source == JournalSource.STOCK_ADJUSTMENT
    assert (on_hand(widget), on_hand(gadget)) == (Decimal("100"), Decimal("30"))
    assert_books_balance(company)


def test_an_increase_then_a_decrease_of_the_same_stock_work_in_one_batch(api, company, widget):
    body = post(api, increase(), decrease())

    assert [r["status"] for r in body["results"]] == ["created", "created"]
    assert [r["data"]["quantityOnHand"] for r in body["results"]] == [100, 50]
    assert body["results"][1]["data"]["unitCost"] == Decimal("25.00")
    assert body["results"][1]["data"]["value"] == Decimal("1250.00")
    assert on_hand(widget) == Decimal("50")
    assert StockLevel.objects.get(item=widget).value == Decimal("1250.00")
    assert_books_balance(company)


def test_item_and_location_are_named_by_code_too(api, company, widget):
    data = increase(itemCode="WIDGET-001", locationCode="WH")
    del data["itemId"], data["locationId"]

    result = only_result(api, data)

    assert result["status"] == "created"
    assert on_hand(widget) == Decimal("100")


def test_the_moving_average_cost_follows_increases(api, company, widget):
    body = post(
        api,
        increase(quantity="10", unit_cost="1.00"),
        increase(quantity="30", unit_cost="2.1234"),
        decrease(quantity="20"),
    )

    out = body["results"][2]["data"]
    # (10 × 1.00 + 30 × 2.1234 = 73.70) / 40 = 1.8425 a unit.
    assert (out["unitCost"], out["value"], out["quantityOnHand"]) == (
        Decimal("1.8425"),
        Decimal("36.85"),
        Decimal("20"),
    )
    assert_books_balance(company)


def test_the_last_unit_out_takes_the_remaining_value(api, company, widget):
    post(api, increase(quantity="3", unit_cost="0.3333"), decrease(quantity="3"))

    level = StockLevel.objects.get(item=widget)
    assert (level.quantity, level.value) == (Decimal("0"), Decimal("0.00"))
    assert_books_balance(company)


# Stock on hand --------------------------------------------------------------------------------


def test_a_decrease_beyond_stock_on_hand_is_insufficient_stock(api, company, widget):
    builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "5", "1.00")

    error = result_error(post(api, decrease(quantity="5.0001")))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "quantity")
    assert detail_codes(error) == {("quantity", "INSUFFICIENT_STOCK")}
    assert "5 of WIDGET-001 on hand" in error["message"]
    assert on_hand(widget) == Decimal("5")
    assert_books_balance(company)


def test_two_decreases_that_together_exceed_stock_fail_at_the_second(api, company, widget):
    builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "10", "1.00")

    body = post(api, decrease(quantity="6"), decrease(quantity="6"), decrease(quantity="4"))

    assert [r["status"] for r in body["results"]] == ["created", "failed", "created"]
    error = result_error(body, 1)
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "quantity")
    assert detail_codes(error) == {("quantity", "INSUFFICIENT_STOCK")}
    assert body["results"][2]["data"]["quantityOnHand"] == 0
    assert on_hand(widget) == Decimal("0")
    assert_books_balance(company)


def test_a_decrease_before_the_increase_that_would_cover_it_fails(api, company, widget):
    body = post(api, decrease(quantity="1"), increase(quantity="1"))

    assert [r["status"] for r in body["results"]] == ["failed", "created"]
    assert detail_codes(result_error(body, 0)) == {("quantity", "INSUFFICIENT_STOCK")}
    assert_books_balance(company)


def test_stock_is_kept_per_location(api, company, widget):
    Location.objects.create(company=company, code="SHOP", name="Shop")

    body = post(api, increase(quantity="5"), decrease(quantity="1", locationId="SHOP"))

    assert detail_codes(result_error(body, 1)) == {("quantity", "INSUFFICIENT_STOCK")}


def test_validate_only_checks_stock_without_creating_levels(api, company, widget):
    body = post(
        api,
        increase(quantity="2"),
        decrease(quantity="2"),
        decrease(quantity="1"),
        validateOnly=True,
    )

    assert [r["status"] for r in body["results"]] == ["validated", "validated", "failed"]
    assert detail_codes(result_error(body, 2)) == {("quantity", "INSUFFICIENT_STOCK")}
    assert_nothing_moved(api, company)


# Fields ---------------------------------------------------------------------------------------


def test_an_increase_needs_a_unit_cost(api, widget):
    data = increase()
    del data["unitCost"]

    error = result_error(post(api, data))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "unitCost")
    assert detail_codes(error) == {("unitCost", "REQUIRED")}


@pytest.mark.parametrize("cost", ["-0.01", "1.23456"])
def test_a_bad_unit_cost_is_an_invalid_amount(api, widget, cost):
    error = result_error(post(api, increase(unit_cost=cost)))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "unitCost")
    assert detail_codes(error) == {("unitCost", "INVALID_AMOUNT")}


def test_a_zero_unit_cost_moves_stock_without_a_posting(api, company, widget):
    result = only_result(api, increase(unit_cost="0"))

    assert result["data"]["value"] == Decimal("0.00")
    assert on_hand(widget) == Decimal("100")
    assert not JournalEntry.objects.filter(company=company).exists()
    assert_books_balance(company)


def test_a_unit_cost_on_a_decrease_is_ignored_with_a_warning(api, company, widget):
    body = post(api, increase(unit_cost="4.00"), decrease(quantity="1", unitCost=Decimal("9")))

    result = body["results"][1]
    assert result["status"] == "created"
    assert result["data"]["unitCost"] == Decimal("4")
    assert result["warnings"][0]["field"] == "unitCost"
    assert body["summary"]["warnings"] == 1


@pytest.mark.parametrize("quantity", ["0", "-1", "1.00001"])
def test_quantity_must_be_positive(api, widget, quantity):
    error = result_error(post(api, increase(quantity=quantity)))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "quantity")
    assert detail_codes(error) == {("quantity", "INVALID_NUMBER")}


def test_the_adjustment_type_is_increase_or_decrease(api, widget):
    error = result_error(post(api, increase(adjustmentType="transfer")))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "adjustmentType")
    assert detail_codes(error) == {("adjustmentType", "INVALID_CHOICE")}


@pytest.mark.parametrize("reason", [None, "  "])
def test_a_reason_is_required(api, widget, reason):
    data = increase(reason=reason)
    if reason is None:
        del data["reason"]

    error = result_error(post(api, data))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "reason")
    assert detail_codes(error) == {("reason", "REQUIRED")}


def test_item_and_location_are_required(api):
    data = increase()
    del data["itemId"], data["locationId"]

    error = result_error(post(api, data))

    assert error["code"] == "VALIDATION_ERROR"
    assert [(d["field"], d["code"]) for d in error["details"]] == [
        ("itemId", "REQUIRED"),
        ("locationId", "REQUIRED"),
    ]


def test_an_adjustment_may_be_back_dated_but_not_future_dated(api, company, widget):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    body = post(api, increase(date="2024-01-15"), increase(date=tomorrow.isoformat()))

    assert StockAdjustment.objects.get(company=company).date == datetime.date(2024, 1, 15)
    future = result_error(body, 1)
    assert (future["code"], future["field"]) == ("VALIDATION_ERROR", "date")
    assert detail_codes(future) == {("date", "FUTURE_DATE")}
    invalid = result_error(post(api, increase(date="2024-13-01")))
    assert detail_codes(invalid) == {("date", "INVALID_DATE")}


def test_a_company_that_allows_future_dates_may_future_date_an_adjustment(api, company, widget):
    company.allow_future_dates = True
    company.save(update_fields=["allow_future_dates"])
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    body = post(api, increase(date=tomorrow.isoformat()))

    assert body["results"][0]["status"] == "created"
    assert StockAdjustment.objects.get(company=company).date == tomorrow


# References -----------------------------------------------------------------------------------


def test_an_unknown_item_is_a_reference_error(api, company):
    error = result_error(post(api, increase("item_nope")))

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "itemId")
    assert detail_codes(error) == {("itemId", "NOT_FOUND")}


def test_an_unknown_item_code_names_its_own_field(api, company):
    data = increase(itemCode="NOPE")
    del data["itemId"]

    error = result_error(post(api, data))

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "itemCode")
    assert detail_codes(error) == {("itemCode", "NOT_FOUND")}


def test_an_unknown_location_is_a_reference_error(api, widget):
    error = result_error(post(api, increase(locationId="loc_nope")))

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "locationId")
    assert detail_codes(error) == {("locationId", "NOT_FOUND")}


def test_another_companys_item_and_location_do_not_exist(api, company, other_company):
    theirs = builders.item(other_company, "THEIRS")
    their_warehouse = builders.warehouse(other_company)

    error = result_error(
        post(api, increase(theirs.public_id, locationId=their_warehouse.public_id))
    )

    assert error["code"] == "REFERENCE_ERROR"
    assert [d["field"] for d in error["details"]] == ["itemId", "locationId"]
    assert not StockLevel.objects.exists()


def test_item_id_and_item_code_must_agree(api, company, widget):
    builders.item(company, "OTHER")

    error = result_error(post(api, increase(widget.public_id, itemCode="OTHER")))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "itemCode")
    assert detail_codes(error) == {("itemCode", "INVALID_VALUE")}


def test_an_inactive_item_is_refused(api, company):
    builders.item(company, "OLD", active=False)

    error = result_error(post(api, increase("OLD")))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "itemId")
    assert detail_codes(error) == {("itemId", "INACTIVE")}


@pytest.mark.parametrize("kind", [ItemType.SERVICE, ItemType.NON_INVENTORY])
def test_only_inventory_items_hold_stock(api, company, kind):
    builders.item(company, "HOUR", type=kind)

    error = result_error(post(api, increase("HOUR")))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "itemId")
    assert detail_codes(error) == {("itemId", "INVALID_VALUE")}
    assert not StockLevel.objects.filter(company=company).exists()


def test_an_inactive_location_is_refused(api, company, widget):
    Location.objects.filter(company=company, code="WH").update(active=False)

    error = result_error(post(api, increase()))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "locationId")
    assert detail_codes(error) == {("locationId", "INACTIVE")}


# Operations and batches -----------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_adjustments_are_create_only(api, widget, operation):
    body = post_batch(api, ENTITY, [{"operation": operation, "data": increase()}])["data"]

    assert body["results"][0]["error"]["code"] == "UNSUPPORTED_OPERATION"


def test_more_than_500_adjustments_is_too_large(api, widget):
    body = post_batch(api, ENTITY, [create(increase())] * 501, status=400)

    assert body["error"]["code"] == "BATCH_TOO_LARGE"


def test_a_partial_failure_moves_the_good_records_with_gap_free_numbers(api, company, widget):
    body = post(api, increase(), decrease(quantity="500"), decrease(quantity="40"))

    assert [r["status"] for r in body["results"]] == ["created", "failed", "created"]
    assert [r["data"]["number"] for r in body["results"] if r["success"]] == [
        "ADJ-000001",
        "ADJ-000002",
    ]
    assert on_hand(widget) == Decimal("60")
    assert_books_balance(company)


def test_stop_on_first_error_keeps_what_came_before(api, company, widget):
    body = post(api, increase(), increase("NOPE"), decrease(), continueOnError=False)

    assert [r["status"] for r in body["results"]] == ["created", "failed", "skipped"]
    assert on_hand(widget) == Decimal("100")
    assert_books_balance(company)


def test_rollback_on_error_moves_nothing_when_one_record_fails(api, company, widget):
    body = post(api, increase(), decrease(quantity="500"), decrease(), rollbackOnError=True)

    assert body["status"] == "rolled_back"
    assert [r["status"] for r in body["results"]] == ["rolled_back", "failed", "rolled_back"]
    assert body["results"][0]["error"]["code"] == "ROLLED_BACK"
    assert_nothing_moved(api, company)


def test_a_failed_batch_leaves_stock_and_books_sound(api, company, widget):
    builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "1", "3.00")

    body = post(api, decrease(quantity="2"), increase("NOPE"))

    assert body["failedRecords"] == 2
    assert on_hand(widget) == Decimal("1")
    assert StockAdjustment.objects.filter(company=company).count() == 1
    assert_books_balance(company)


# Queries --------------------------------------------------------------------------------------

ITEMS = ["A-1", "B-2", "C-3", "D-4", "E-5"]


def mixed_batch(size: int) -> list[dict]:
    """Each item rises then falls in turn, named by id or code; never below zero."""
    batch = []
    for i in range(size):
        code = ITEMS[i % len(ITEMS)]
        rising = (i // len(ITEMS)) % 2 == 0
        batch.append(increase(code, "3", "1.10") if rising else decrease(code, "2"))
    return batch


def queries_for(api, operations: list[dict]) -> int:
    with CaptureQueriesContext(connection) as queries:
        body = post(api, *operations)
    assert body["successfulRecords"] == len(operations), body["results"]
    return len(queries)


def test_a_full_batch_costs_the_same_queries_as_one_adjustment(api, company):
    for code in ITEMS:
        builders.item(company, code)
    post(api, *mixed_batch(len(ITEMS)))  # the number sequences, stock levels, key stamp

    one = queries_for(api, mixed_batch(1))
    full = queries_for(api, mixed_batch(500))

    assert one == full
    assert StockAdjustment.objects.filter(company=company).count() == 506
    assert_books_balance(company)


# Values too large to keep -----------------------------------------------------------------------


def test_an_increase_worth_more_than_the_maximum_amount_is_refused_beside_good_ones(
    api, company, widget
):
    huge = increase(quantity="99999999999999.9999", unit_cost="99999999999999")

    body = post(api, huge, increase())

    error = result_error(body, 0)
    assert detail_codes(error) == {("unitCost", "INVALID_AMOUNT")}
    assert "999999999999.99" in error["details"][0]["message"]
    assert body["results"][1]["status"] == "created"
    assert on_hand(widget) == Decimal("100.0000")
    assert_books_balance(company)


def test_an_increase_that_would_push_the_average_cost_past_its_column_is_refused(
    api, company, widget
):
    # 0.0001 at 99999999999999.9999 is worth 10000000000.00 once rounded to the cent: an
    # average cost of 10^14, one more than a Decimal(18, 4) holds.
    body = post(api, increase(quantity="0.0001", unit_cost="99999999999999.9999"), increase())

    error = result_error(body, 0)
    assert detail_codes(error) == {("unitCost", "INVALID_AMOUNT")}
    assert body["results"][1]["status"] == "created"
    assert on_hand(widget) == Decimal("100.0000")


def test_a_date_outside_the_calendar_the_api_takes_is_an_invalid_date(api, widget):
    error = result_error(post(api, increase(date="0001-01-01")))

    assert detail_codes(error) == {("date", "INVALID_DATE")}
