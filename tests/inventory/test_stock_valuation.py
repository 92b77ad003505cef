"""GET /v1/reports/stock-valuation: stock on hand per item and location, valued."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from tests.helpers import create, json_of, post_batch, staff_user


def _post(api, entity, *records) -> list[dict]:
    data = post_batch(api, entity, [create(record) for record in records])["data"]
    assert data["failedRecords"] == 0, data["results"]
    return [result["data"] for result in data["results"]]


def _adjust(api, item_code, kind, quantity, unit_cost=None, location="WH") -> None:
    record = {
        "itemCode": item_code,
        "locationCode": location,
        "adjustmentType": kind,
        "quantity": quantity,
        "reason": "count",
    }
    if unit_cost is not None:
        record["unitCost"] = unit_cost
    _post(api, "stock-adjustments", record)


def _valuation(api) -> dict:
    response = api.get("/v1/reports/stock-valuation")
    assert response.status_code == 200, response.content
    return json_of(response)["data"]


@pytest.fixture
def stocked(api):
    _post(
        api,
        "items",
        {"itemCode": "BOLT", "name": "Bolt"},
        {"itemCode": "NUT", "name": "Nut"},
        {"itemCode": "GONE", "name": "Sold out"},
    )
    _adjust(api, "NUT", "increase", "4", "2.50")
    _adjust(api, "BOLT", "increase", "10", "1.00")
    _adjust(api, "BOLT", "increase", "10", "2.00")
    _adjust(api, "BOLT", "decrease", "5")
    _adjust(api, "GONE", "increase", "3", "9.99")
    _adjust(api, "GONE", "decrease", "3")


def test_stock_valuation_lists_each_item_at_each_location_with_its_average_cost(api, stocked):
    report = _valuation(api)

    rows = [
        (row["itemCode"], row["locationCode"], row["quantity"], row["averageCost"], row["value"])
        for row in report["items"]
    ]
    assert rows == [
        ("BOLT", "WH", Decimal("15.0000"), Decimal("1.5000"), Decimal("22.50")),
        ("NUT", "WH", Decimal("4.0000"), Decimal("2.5000"), Decimal("10.00")),
    ]
    assert report["items"][0]["itemId"].startswith("item_")
    assert report["items"][0]["locationId"].startswith("loc_")
    assert report["total"] == Decimal("32.50")


def test_stock_valuation_total_equals_the_inventory_account(api, stocked):
    trial_balance = json_of(api.get("/v1/reports/trial-balance"))["data"]

    inventory = {row["code"]: row["debit"] for row in trial_balance["accounts"]}["1200"]
    assert inventory == _valuation(api)["total"]


def test_stock_valuation_of_a_company_without_stock_is_empty(api):
    assert _valuation(api) == {"items": [], "total": Decimal("0.00")}


def test_stock_valuation_is_as_of_now_and_refuses_an_as_of_date(api):
    response = api.get("/v1/reports/stock-valuation", {"asOf": "2024-01-01"})

    assert response.status_code == 400
    error = json_of(response)["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "asOf"


def test_stock_valuation_needs_the_view_permission_on_stock_levels(api, credentials):
    staff_user(credentials).user_permissions.remove(
        Permission.objects.get(codename="view_stocklevel")
    )

    response = api.get("/v1/reports/stock-valuation")

    assert response.status_code == 403
    assert "inventory.view_stocklevel" in json_of(response)["error"]["message"]


def test_the_schema_documents_the_stock_valuation(api):
    schema = api.get("/v1/schema", {"format": "json"}).json()

    assert "/v1/reports/stock-valuation/" in schema["paths"]
    row = schema["components"]["schemas"]["StockValuationRow"]["properties"]
    assert set(row) >= {"itemCode", "locationCode", "quantity", "averageCost", "value"}
