"""Reading inventory back: items with stock on hand, locations and stock adjustments."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import builders
from tests.helpers import json_of, listed_ids


@pytest.fixture
def widget(company):
    return builders.item(
        company,
        "WIDGET-001",
        name="Premium Widget",
        cost_price=Decimal("25.00"),
        selling_price=Decimal("50.00"),
        tax_code=builders.tax(company),
    )


@pytest.mark.parametrize("entity", ["items", "locations", "stock-adjustments"])
@pytest.mark.parametrize("slash", ["", "/"])
def test_every_inventory_list_answers_a_paged_envelope(api, widget, entity, slash):
    response = api.get(f"/v1/{entity}{slash}")

    assert response.status_code == 200
    payload = json_of(response)
    assert payload["success"] is True
    assert isinstance(payload["data"], list)
    assert set(payload["pagination"]) >= {"page", "pageSize", "totalRecords", "totalPages"}


def test_item_detail_shows_stock_on_hand_per_location(api, company, widget):
    builders.adjust_stock(company, widget, "increase", "10", "25.00")
    builders.adjust_stock(company, widget, "decrease", "4")
    warehouse = builders.warehouse(company)

    response = api.get(f"/v1/items/{widget.public_id}")

    assert response.status_code == 200
    data = json_of(response)["data"]
    assert data["id"] == widget.public_id
    assert data["itemCode"] == "WIDGET-001"
    assert data["taxCode"] == "SST"
    assert data["costPrice"] == Decimal("25.00")
    assert data["quantityOnHand"] == Decimal("6.0000")
    assert data["stock"] == [
        {
            "locationId": warehouse.public_id,
            "locationCode": "WH",
            "quantity": Decimal("6.0000"),
            "averageCost": Decimal("25.0000"),
            "value": Decimal("150.00"),
        }
    ]
    assert b'"value":150.00' in response.content


def test_item_without_stock_has_zero_on_hand(api, widget):
    data = json_of(api.get(f"/v1/items/{widget.public_id}/"))["data"]

    assert data["stock"] == []
    assert data["quantityOnHand"] == Decimal("0")


def test_items_filter_by_item_code(api, company, widget):
    builders.item(company, "GADGET-002")

    assert listed_ids(api.get("/v1/items", {"itemCode": "WIDGET-001"})) == [widget.public_id]


def test_another_company_cannot_retrieve_or_list_an_item(api, other_api, widget):
    response = other_api.get(f"/v1/items/{widget.public_id}")

    assert response.status_code == 404
    assert json_of(response)["error"]["code"] == "NOT_FOUND"
    assert listed_ids(other_api.get("/v1/items")) == []
    assert listed_ids(api.get("/v1/items")) == [widget.public_id]


def test_locations_filter_by_code(api, company):
    response = api.get("/v1/locations", {"code": "WH"})

    assert listed_ids(response) == [builders.warehouse(company).public_id]


def test_stock_adjustment_detail_shows_item_location_value_and_posting(api, company, widget):
    adjustment = builders.adjust_stock(company, widget, "increase", "10", "25.00")

    data = json_of(api.get(f"/v1/stock-adjustments/{adjustment.public_id}"))["data"]

    assert data == {
        "id": adjustment.public_id,
        "externalId": None,
        "number": adjustment.number,
        "date": "2024-01-15",
        "itemId": widget.public_id,
        "itemCode": "WIDGET-001",
        "locationId": builders.warehouse(company).public_id,
        "adjustmentType": "increase",
        "quantity": Decimal("10.0000"),
        "unitCost": Decimal("25.0000"),
        "value": Decimal("250.00"),
        "reason": "count",
        "reference": "",
        "journalEntryId": data["journalEntryId"],
        "createdAt": data["createdAt"],
        "updatedAt": data["updatedAt"],
    }
    assert data["journalEntryId"].startswith("je_")


def test_item_list_costs_the_same_queries_for_one_or_five_items(api, company, widget):
    builders.adjust_stock(company, widget, "increase", "1", "1.00")
    api.get("/v1/items")  # the first request records the key's last use: warm it up

    with CaptureQueriesContext(connection) as one:
        assert api.get("/v1/items").status_code == 200
    for number in range(2, 6):
        extra = builders.item(company, f"ITEM-{number:03d}", tax_code=builders.tax(company))
        builders.adjust_stock(company, extra, "increase", "2", "3.00")
    with CaptureQueriesContext(connection) as five:
        response = api.get("/v1/items")

    assert len(json_of(response)["data"]) == 5
    assert len(five) == len(one), [query["sql"] for query in five.captured_queries]
