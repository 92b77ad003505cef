"""POST /v1/batch/items: create, update and delete items, read back through the API."""

from decimal import Decimal

import pytest
import simplejson

from inventory.models import Item, StockLevel
from ledger.models import BillLine, InvoiceLine, TaxCode
from tests import builders
from tests.helpers import (
    count_queries,
    create,
    delete,
    detail_codes,
    post_batch,
    result_error,
    update,
)

pytestmark = pytest.mark.django_db

MAX = 1000

WIDGET = {
    "itemCode": "WIDGET-001",
    "name": "Premium Widget",
    "description": "High-quality widget for industrial use",
    "category": "Widgets",
    "type": "inventory",
    "unitOfMeasure": "pieces",
    "costPrice": Decimal("25.00"),
    "sellingPrice": Decimal("50.00"),
    "taxCode": "SST",
    "reorderLevel": 100,
    "reorderQuantity": 500,
    "trackSerial": False,
    "trackBatch": False,
}
CONSULTING = {
    "itemCode": "SERVICE-001",
    "name": "Consulting Hour",
    "description": "Professional consulting services",
    "type": "service",
    "sellingPrice": Decimal("150.00"),
    "taxCode": "SST",
}


def items(api, *operations, **options) -> dict:
    return post_batch(api, "items", list(operations), **options)["data"]


def read_item(api, public_id) -> dict:
    response = api.get(f"/v1/items/{public_id}")
    assert response.status_code == 200, response.content
    return simplejson.loads(response.content, use_decimal=True)["data"]


# Create.


def test_the_api_example_creates_both_items_and_they_read_back(api, company):
    data = items(api, create(WIDGET, "item_001"), create(CONSULTING, "item_002"))

    assert [r["status"] for r in data["results"]] == ["created", "created"]
    widget_ref = data["results"][0]["data"]
    assert set(widget_ref) == {"id", "itemCode", "externalId"}
    assert widget_ref["id"].startswith("item_") and widget_ref["itemCode"] == "WIDGET-001"
    widget = read_item(api, widget_ref["id"])
    assert {key: widget[key] for key in WIDGET} == {
        **WIDGET,
        "reorderLevel": Decimal("100.0000"),
        "reorderQuantity": Decimal("500.0000"),
    }
    assert widget["active"] is True
    service = read_item(api, data["results"][1]["data"]["id"])
    assert (service["type"], service["unitOfMeasure"], service["costPrice"]) == (
        "service",
        "units",
        Decimal("0.00"),
    )
    assert Item.objects.for_company(company).count() == 2


def test_type_defaults_to_inventory_and_unit_of_measure_is_case_insensitive(api):
    data = items(api, create({"itemCode": "BOLT", "name": "Bolt", "unitOfMeasure": "Pieces"}))

    bolt = read_item(api, data["results"][0]["data"]["id"])
    assert (bolt["type"], bolt["unitOfMeasure"]) == ("inventory", "pieces")


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"name": "No code"}, "itemCode", "REQUIRED"),
        ({"itemCode": "  ", "name": "Blank code"}, "itemCode", "REQUIRED"),
        ({"itemCode": "X"}, "name", "REQUIRED"),
        ({"itemCode": "X", "name": "N" * 201}, "name", "MAX_LENGTH"),
        ({"itemCode": "X" * 51, "name": "Long code"}, "itemCode", "MAX_LENGTH"),
        ({"itemCode": "X", "name": "N", "type": "goods"}, "type", "INVALID_CHOICE"),
        (
            {"itemCode": "X", "name": "N", "unitOfMeasure": "furlongs"},
            "unitOfMeasure",
            "INVALID_CHOICE",
        ),
        ({"itemCode": "X", "name": "N", "costPrice": -1}, "costPrice", "INVALID_AMOUNT"),
        ({"itemCode": "X", "name": "N", "sellingPrice": "1.234"}, "sellingPrice", "INVALID_AMOUNT"),
        ({"itemCode": "X", "name": "N", "sellingPrice": "ten"}, "sellingPrice", "INVALID_AMOUNT"),
        ({"itemCode": "X", "name": "N", "reorderLevel": -1}, "reorderLevel", "INVALID_NUMBER"),
        (
            {"itemCode": "X", "name": "N", "reorderQuantity": -5},
            "reorderQuantity",
            "INVALID_NUMBER",
        ),
        ({"itemCode": "X", "name": "N", "trackSerial": "maybe"}, "trackSerial", "INVALID_TYPE"),
        ({"itemCode": "X", "name": "N", "trackBatch": 2}, "trackBatch", "INVALID_TYPE"),
        ({"itemCode": "X", "name": "N", "active": "sometimes"}, "active", "INVALID_TYPE"),
        ({"itemCode": "X", "name": "N", "colour": "red"}, "colour", "UNKNOWN_FIELD"),
    ],
)
def test_a_bad_field_is_a_validation_error_naming_it(api, company, data, field, code):
    error = result_error(items(api, create(data)))

    assert error["code"] == "VALIDATION_ERROR"
    assert error["field"] == field
    assert detail_codes(error) == {(field, code)}
    assert not Item.objects.for_company(company).exists()


def test_several_bad_fields_are_reported_together(api):
    error = result_error(items(api, create({"name": "", "costPrice": -1, "type": "goods"})))

    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"] == "Multiple validation errors"
    assert detail_codes(error) == {
        ("itemCode", "REQUIRED"),
        ("name", "REQUIRED"),
        ("costPrice", "INVALID_AMOUNT"),
        ("type", "INVALID_CHOICE"),
    }


def test_an_item_code_twice_in_one_batch_is_a_duplicate(api, company):
    data = items(api, create(WIDGET), create({**WIDGET, "name": "Copy"}))

    assert data["results"][0]["status"] == "created"
    error = result_error(data, 1)
    assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "itemCode")
    assert Item.objects.for_company(company).get().name == "Premium Widget"


def test_an_item_code_already_stored_is_a_duplicate(api, company):
    builders.item(company, "WIDGET-001")

    error = result_error(items(api, create(WIDGET)))

    assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "itemCode")


def test_item_codes_are_per_company(api, other_company):
    builders.item(other_company, "WIDGET-001")

    assert items(api, create(WIDGET))["results"][0]["status"] == "created"


def test_an_unknown_tax_code_is_a_reference_error(api):
    error = result_error(items(api, create({**WIDGET, "taxCode": "GST"})))

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "taxCode")


def test_another_companys_tax_code_is_a_reference_error(api, other_company):
    TaxCode.objects.create(company=other_company, code="OTHER", name="Other", rate=Decimal("6"))

    error = result_error(items(api, create({**WIDGET, "taxCode": "OTHER"})))

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "taxCode")


def test_a_tax_code_may_be_named_by_public_id(api, company):
    data = items(api, create({**WIDGET, "taxCode": builders.tax(company, "ST10").public_id}))

    assert read_item(api, data["results"][0]["data"]["id"])["taxCode"] == "ST10"


# Warnings.


def test_selling_below_cost_is_a_warning_not_a_failure(api):
    cheap = {**WIDGET, "costPrice": Decimal("60.00")}

    data = items(api, create(cheap, "cheap"), create({**CONSULTING, "costPrice": 500}))

    assert [r["status"] for r in data["results"]] == ["created", "created"]
    warnings = data["results"][0]["warnings"]
    assert [(w["code"], w["field"]) for w in warnings] == [("SELLING_BELOW_COST", "sellingPrice")]
    assert "warnings" not in data["results"][1]  # a service item has no stock cost
    assert data["summary"]["warnings"] == 1


def test_an_update_that_does_not_touch_prices_raises_no_warning(api, company):
    builders.item(company, "CHEAP", cost_price=Decimal("9.00"), selling_price=Decimal("5.00"))

    data = items(api, update({"itemCode": "CHEAP", "name": "Renamed"}))

    assert "warnings" not in data["results"][0]
    assert data["summary"]["warnings"] == 0


# Update.


def test_an_update_named_by_item_code_changes_only_what_it_sends(api, company):
    created = items(api, create(WIDGET))["results"][0]["data"]

    data = items(api, update({"itemCode": "WIDGET-001", "sellingPrice": "55.50"}))

    assert data["results"][0]["status"] == "updated"
    assert data["results"][0]["data"] == created
    widget = read_item(api, created["id"])
    assert (widget["sellingPrice"], widget["costPrice"], widget["name"]) == (
        Decimal("55.50"),
        Decimal("25.00"),
        "Premium Widget",
    )


def test_an_update_named_by_id_may_rename_the_item_code(api, company):
    widget = builders.item(company, "WIDGET-001")

    data = items(
        api,
        update({"id": widget.public_id, "itemCode": "WIDGET-100"}),
        update({"itemCode": "WIDGET-001", "name": "Gone"}),
        create({"itemCode": "WIDGET-001", "name": "A new widget"}),
    )

    assert [r["status"] for r in data["results"]] == ["updated", "failed", "created"]
    assert data["results"][0]["data"] == {
        "id": widget.public_id,
        "itemCode": "WIDGET-100",
        "externalId": None,
    }
    assert data["results"][1]["error"]["code"] == "NOT_FOUND"
    codes = dict(Item.objects.for_company(company).values_list("item_code", "name"))
    assert codes == {"WIDGET-100": "Widget-001", "WIDGET-001": "A new widget"}


def test_an_id_may_also_be_the_current_item_code(api, company):
    builders.item(company, "WIDGET-001")

    data = items(api, update({"id": "WIDGET-001", "category": "Gadgets"}))

    assert data["results"][0]["status"] == "updated"
    assert Item.objects.get(company=company).category == "Gadgets"


def test_an_update_after_a_create_of_the_same_item_in_one_batch_works(api, company):
    data = items(
        api,
        create(WIDGET),
        update({"itemCode": "WIDGET-001", "name": "Improved Widget", "taxCode": "ST5"}),
    )

    assert [r["status"] for r in data["results"]] == ["created", "updated"]
    widget = read_item(api, data["results"][0]["data"]["id"])
    assert (widget["name"], widget["taxCode"], widget["costPrice"]) == (
        "Improved Widget",
        "ST5",
        Decimal("25.00"),
    )
    assert Item.objects.for_company(company).count() == 1


def test_null_clears_an_optional_field_but_not_a_required_one(api, company):
    builders.item(company, "WIDGET-001", name="Widget", tax_code=builders.tax(company))

    data = items(
        api,
        update({"itemCode": "WIDGET-001", "taxCode": None, "category": None}),
        update({"itemCode": "WIDGET-001", "name": None}),
    )

    assert data["results"][0]["status"] == "updated"
    assert detail_codes(result_error(data, 1)) == {("name", "REQUIRED")}
    widget = Item.objects.get(company=company)
    assert (widget.tax_code, widget.category, widget.name) == (None, "", "Widget")


def test_an_update_to_a_taken_item_code_is_a_duplicate(api, company):
    builders.item(company, "A")
    b = builders.item(company, "B")

    error = result_error(items(api, update({"id": b.public_id, "itemCode": "A"})))

    assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "itemCode")


def test_a_failed_update_leaves_the_item_as_it_was_for_later_operations(api, company):
    builders.item(company, "WIDGET-001", name="Widget")

    data = items(
        api,
        update({"itemCode": "WIDGET-001", "name": "Bad", "taxCode": "NOPE"}),
        update({"itemCode": "WIDGET-001", "category": "Gadgets"}),
    )

    assert [r["status"] for r in data["results"]] == ["failed", "updated"]
    widget = Item.objects.get(company=company)
    assert (widget.name, widget.category, widget.tax_code) == ("Widget", "Gadgets", None)


def test_update_and_delete_of_an_unknown_item_are_not_found(api, other_company):
    theirs = builders.item(other_company, "THEIRS")

    data = items(
        api,
        update({"id": "item_nope", "name": "X"}),
        update({"id": theirs.public_id, "name": "X"}),
        delete({"itemCode": "THEIRS"}),
    )

    assert [result_error(data, i)["code"] for i in range(3)] == ["NOT_FOUND"] * 3
    assert Item.objects.get(pk=theirs.pk).name == "Theirs"


def test_an_update_without_an_identifier_is_a_validation_error(api):
    error = result_error(items(api, update({"name": "Nameless"})))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "id")
    assert detail_codes(error) == {("id", "REQUIRED")}


# Delete.


def test_delete_removes_an_item_nobody_uses(api, company):
    widget = builders.item(company, "WIDGET-001")
    spare = builders.item(company, "SPARE")
    StockLevel.objects.create(company=company, item=spare, location=builders.warehouse(company))

    data = items(api, delete({"id": widget.public_id}), delete({"itemCode": "SPARE"}))

    assert [r["status"] for r in data["results"]] == ["deleted", "deleted"]
    assert data["results"][0]["data"] == {
        "id": widget.public_id,
        "itemCode": "WIDGET-001",
        "externalId": None,
    }
    assert api.get(f"/v1/items/{widget.public_id}").status_code == 404
    assert not Item.objects.for_company(company).exists()


def _stock(company, item):
    builders.adjust_stock(company, item, "increase", "5", "10.00")


def _invoice_line(company, item):
    invoice = builders.invoice(company, builders.customer(company))
    InvoiceLine.objects.filter(invoice=invoice).update(item=item)


def _bill_line(company, item):
    bill = builders.bill(company, builders.supplier(company))
    BillLine.objects.filter(bill=bill).update(item=item)


@pytest.mark.parametrize("use", [_stock, _invoice_line, _bill_line])
def test_delete_of_an_item_in_use_is_a_conflict(api, company, use):
    widget = builders.item(company, "WIDGET-001")
    use(company, widget)

    data = items(api, delete({"itemCode": "WIDGET-001"}), create({"itemCode": "NEW", "name": "N"}))

    error = result_error(data, 0)
    assert error["code"] == "CONFLICT"
    assert data["results"][1]["status"] == "created"
    assert Item.objects.filter(pk=widget.pk).exists()


def test_a_deleted_item_code_may_be_created_again_in_the_same_batch(api, company):
    old = builders.item(company, "WIDGET-001")

    data = items(api, delete({"itemCode": "WIDGET-001"}), create(WIDGET))

    assert [r["status"] for r in data["results"]] == ["deleted", "created"]
    assert Item.objects.get(company=company).public_id != old.public_id


# Options.


def test_validate_only_persists_nothing(api, company):
    builders.item(company, "OLD", name="Old")

    data = items(
        api,
        create(WIDGET),
        update({"itemCode": "OLD", "name": "New"}),
        create(WIDGET),
        validateOnly=True,
    )

    assert [r["status"] for r in data["results"]] == ["validated", "validated", "failed"]
    assert data["results"][2]["error"]["code"] == "DUPLICATE_ERROR"
    assert list(Item.objects.for_company(company).values_list("item_code", "name")) == [
        ("OLD", "Old")
    ]


def test_more_than_1000_items_is_too_large(api, company):
    operations = [create({"itemCode": f"I{i}", "name": "N"}) for i in range(MAX + 1)]

    body = post_batch(api, "items", operations, status=400)

    assert body["error"]["code"] == "BATCH_TOO_LARGE"
    assert not Item.objects.for_company(company).exists()


# Set-based: the queries do not grow with the batch.


def item_data(i: int) -> dict:
    return {**WIDGET, "itemCode": f"ITEM-{i:05d}", "name": f"Item {i}"}


def queries_for(api, operations) -> int:
    def run():
        data = items(api, *operations)
        assert data["failedRecords"] == 0, data["results"][0]

    return count_queries(run)


def test_create_update_and_delete_cost_the_same_queries_for_1_and_1000(api, company):
    items(api, create(item_data(-1)))  # warm the key's last-used stamp

    create_one = queries_for(api, [create(item_data(0))])
    create_max = queries_for(api, [create(item_data(i)) for i in range(1, MAX + 1)])
    update_one = queries_for(api, [update({"itemCode": "ITEM-00000", "taxCode": "ST5"})])
    update_max = queries_for(
        api,
        [
            update({"itemCode": f"ITEM-{i:05d}", "sellingPrice": i, "taxCode": "ST5"})
            for i in range(1, MAX + 1)
        ],
    )
    delete_one = queries_for(api, [delete({"itemCode": "ITEM-00000"})])
    delete_max = queries_for(
        api, [delete({"itemCode": f"ITEM-{i:05d}"}) for i in range(1, MAX + 1)]
    )

    assert create_one == create_max
    assert update_one == update_max
    assert delete_one == delete_max
    assert Item.objects.for_company(company).count() == 1
    print(f"items queries: create {create_max}, update {update_max}, delete {delete_max}")
