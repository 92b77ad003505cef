"""POST /v1/batch/bills: create and update supplier bills, posted to the ledger."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bigledger.models import NumberSequence
from ledger import selectors
from ledger.models import AccountRole, Bill, JournalEntry, Status
from tests import builders
from tests.books import assert_books_sound, lines_of
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

D = Decimal


def bill_data(supplier, **overrides) -> dict:
    data = {
        "supplierId": supplier.public_id,
        "billDate": "2024-01-15",
        "reference": "PO-2024-001",
        "items": [
            {"description": "Widgets", "quantity": 5, "unitPrice": D("40.00"), "taxCode": "SST"}
        ],
    }
    return {**data, **overrides}


def test_bills_are_created_numbered_and_posted_to_payables(api, company):
    supplier = builders.supplier(company, payment_terms=14)
    widget = builders.item(company, "WIDGET-001")

    body = post_batch(
        api,
        "bills",
        [
            create(bill_data(supplier), "bill_1"),
            create(
                bill_data(
                    supplier,
                    supplierId=None,
                    supplierNumber=supplier.number,
                    items=[
                        {
                            "itemCode": "WIDGET-001",
                            "quantity": D("2.5"),
                            "unitPrice": D("10.00"),
                            "taxCode": "ZR",
                        }
                    ],
                    total=D("25.00"),
                ),
                "bill_2",
            ),
        ],
    )

    first, second = body["data"]["results"]
    assert first["data"]["number"] == first["data"]["billNumber"] == "BILL-000001"
    assert (first["data"]["total"], first["data"]["status"]) == (D("216.00"), "open")
    assert (second["data"]["billNumber"], second["data"]["total"]) == ("BILL-000002", D("25.00"))
    bill = Bill.objects.get(number="BILL-000001")
    assert (bill.supplier, bill.due_date) == (supplier, datetime.date(2024, 1, 29))
    assert lines_of(bill.journal_entry) == {
        ("5000", D("200.00"), D("0")),
        ("1400", D("16.00"), D("0")),
        ("2010", D("0"), D("216.00")),
    }
    [line] = Bill.objects.get(number="BILL-000002").lines.all()
    assert (line.item, line.description) == (widget, "Widget-001")
    assert -selectors.role_balance(company=company, role=AccountRole.PAYABLES) == D("241.00")
    assert_books_sound(company)


def test_supplier_rules(api, company, other_company):
    foreign = builders.supplier(other_company)
    inactive = builders.supplier(company, status=Status.INACTIVE)
    customer = builders.customer(company)

    body = post_batch(
        api,
        "bills",
        [
            create(bill_data(foreign)),
            create(bill_data(inactive)),
            create(bill_data(inactive, supplierId=customer.public_id)),
            create({**bill_data(inactive), "supplierId": None}),
        ],
    )

    missing, off, a_customer, none = (r["error"] for r in body["data"]["results"])
    assert (missing["code"], missing["field"]) == ("REFERENCE_ERROR", "supplierId")
    assert detail_codes(missing) == {("supplierId", "NOT_FOUND")}
    assert (off["code"], off["field"]) == ("VALIDATION_ERROR", "supplierId")
    assert detail_codes(off) == {("supplierId", "INACTIVE")}
    assert a_customer["code"] == "REFERENCE_ERROR"
    assert detail_codes(none) == {("supplierId", "REQUIRED")}
    assert Bill.objects.count() == 0


def test_bill_date_rules(api, company):
    supplier = builders.supplier(company)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()

    body = post_batch(
        api,
        "bills",
        [
            create(bill_data(supplier, billDate=tomorrow)),
            create(bill_data(supplier, dueDate="2024-01-01")),
            create({**bill_data(supplier), "billDate": None}),
        ],
    )

    future, early_due, no_date = (r["error"] for r in body["data"]["results"])
    assert (future["field"], detail_codes(future)) == ("billDate", {("billDate", "FUTURE_DATE")})
    assert detail_codes(early_due) == {("dueDate", "INVALID_DATE")}
    assert detail_codes(no_date) == {("billDate", "REQUIRED")}


def test_bill_lines_and_totals_are_checked(api, company):
    supplier = builders.supplier(company)

    body = post_batch(
        api,
        "bills",
        [
            create(bill_data(supplier, items=[])),
            create(bill_data(supplier, items=[{"quantity": 1, "unitPrice": 1, "taxCode": "SST"}])),
            create(bill_data(supplier, total=D("200.00"))),
            create(
                bill_data(
                    supplier,
                    items=[{"description": "x", "quantity": 1, "unitPrice": 0, "taxCode": "EX"}],
                )
            ),
        ],
    )

    no_lines, no_description, mismatch, zero = (r["error"] for r in body["data"]["results"])
    assert detail_codes(no_lines) == {("items", "REQUIRED")}
    assert detail_codes(no_description) == {("items[0].description", "REQUIRED")}
    assert (mismatch["field"], detail_codes(mismatch)) == ("total", {("total", "TOTAL_MISMATCH")})
    assert detail_codes(zero) == {("total", "INVALID_AMOUNT")}


def test_delete_is_unsupported(api, company):
    bill = builders.bill(company, builders.supplier(company))

    error = result_error(post_batch(api, "bills", [delete({"billNumber": bill.number})])["data"])

    assert error["code"] == "UNSUPPORTED_OPERATION"


def test_update_reverses_and_reposts_keeping_payables_right(api, company):
    supplier = builders.supplier(company)
    bill = builders.bill(company, supplier, [("5", "40.00", "SST")])
    old_entry = bill.journal_entry

    body = post_batch(
        api,
        "bills",
        [
            update(
                {
                    "billNumber": bill.number,
                    "billDate": "2024-01-10",
                    "items": [
                        {
                            "description": "More widgets",
                            "quantity": 10,
                            "unitPrice": D("40.00"),
                            "taxCode": "SST",
                        }
                    ],
                }
            )
        ],
    )

    [result] = body["data"]["results"]
    assert result["status"] == "updated"
    assert result["data"]["total"] == D("432.00")
    bill.refresh_from_db()
    assert (bill.date, bill.due_date, bill.total) == (
        datetime.date(2024, 1, 10),
        datetime.date(2024, 2, 9),
        D("432.00"),
    )
    reversal = JournalEntry.objects.get(number="JE-000002")
    assert reversal.date == old_entry.date
    assert lines_of(reversal) == {
        ("5000", D("0"), D("200.00")),
        ("1400", D("0"), D("16.00")),
        ("2010", D("216.00"), D("0")),
    }
    assert lines_of(bill.journal_entry) == {
        ("5000", D("400.00"), D("0")),
        ("1400", D("32.00"), D("0")),
        ("2010", D("0"), D("432.00")),
    }
    debit, credit = selectors.journal_totals(company=company)
    assert debit == credit
    assert -selectors.role_balance(company=company, role=AccountRole.PAYABLES) == D("432.00")
    assert selectors.open_bills_outstanding(company=company) == D("432.00")
    assert_books_sound(company)


def test_update_of_a_paid_bill_is_a_conflict(api, company):
    supplier = builders.supplier(company)
    bill = builders.bill(company, supplier)
    builders.payment(company, supplier, "100.00", [(bill, "100.00")])

    error = result_error(
        post_batch(api, "bills", [update({"id": bill.public_id, "notes": "x"})])["data"]
    )

    assert error["code"] == "CONFLICT"
    assert_books_sound(company)


def test_rollback_on_error_persists_nothing_and_consumes_no_numbers(api, company):
    supplier = builders.supplier(company)

    body = post_batch(
        api,
        "bills",
        [create(bill_data(supplier)), create(bill_data(supplier, supplierId="supp_nope"))],
        rollbackOnError=True,
    )

    assert body["data"]["status"] == "rolled_back"
    assert [r["status"] for r in body["data"]["results"]] == ["rolled_back", "failed"]
    assert Bill.objects.for_company(company).count() == 0
    assert JournalEntry.objects.for_company(company).count() == 0
    assert not NumberSequence.objects.filter(company=company, key__in=["BILL", "JE"]).exists()
    assert_books_sound(company)


def test_validate_only_persists_nothing(api, company):
    supplier = builders.supplier(company)

    body = post_batch(api, "bills", [create(bill_data(supplier))], validateOnly=True)

    assert body["data"]["results"][0]["status"] == "validated"
    assert Bill.objects.for_company(company).count() == 0
    assert not NumberSequence.objects.filter(company=company, key__in=["BILL", "JE"]).exists()
    assert_books_sound(company)


def two_line_bill(supplier, item, position: int) -> dict:
    return bill_data(
        supplier,
        reference=f"PO-{position}",
        items=[
            {"itemId": item.public_id, "quantity": 2, "unitPrice": D("10.00"), "taxCode": "SST"},
            {"description": "Freight", "quantity": 1, "unitPrice": D("5.00"), "taxCode": "ZR"},
        ],
    )


def test_query_count_does_not_grow_with_the_batch(api, company):
    suppliers = [builders.supplier(company), builders.supplier(company, name="Second")]
    item = builders.item(company)
    batch = [create(two_line_bill(suppliers[i % 2], item, i)) for i in range(100)]
    post_batch(api, "bills", batch[:1])

    creates = (
        count_queries(lambda: post_batch(api, "bills", batch[:1])),
        count_queries(lambda: post_batch(api, "bills", batch)),
    )
    numbers = list(Bill.objects.for_company(company).values_list("number", flat=True))
    line = {"description": "Changed", "quantity": 3, "unitPrice": D("7.00"), "taxCode": "SST"}
    updates = [update({"id": number, "items": [line, line]}) for number in numbers]
    changes = (
        count_queries(lambda: post_batch(api, "bills", updates[:1])),
        count_queries(lambda: post_batch(api, "bills", updates[1:101])),
    )

    assert creates[0] == creates[1]
    assert changes[0] == changes[1]
    assert Bill.objects.for_company(company).filter(total=D("45.36")).count() == 101
    assert_books_sound(company)


# Duplicate supplier references: a warning, the bill still goes in -----------------------------


def reference_warnings(result: dict) -> list[dict]:
    return [w for w in result.get("warnings", []) if w["code"] == "DUPLICATE_SUPPLIER_REFERENCE"]


def test_a_supplier_reference_used_on_a_stored_bill_is_a_warning(api, company):
    supplier, other = builders.supplier(company), builders.supplier(company, name="Other")
    stored = builders.bill(company, supplier)  # reference SO-1

    body = post_batch(
        api,
        "bills",
        [
            create(bill_data(supplier, reference=" so-1 ")),
            create(bill_data(other, reference="SO-1")),  # another supplier's reference
        ],
    )["data"]

    first, second = body["results"]
    assert first["status"] == "created"
    [warning] = reference_warnings(first)
    assert warning["field"] == "reference"
    assert stored.number in warning["message"]
    assert second["status"] == "created"
    assert "warnings" not in second
    assert body["summary"]["warnings"] == 1
    assert Bill.objects.for_company(company).count() == 3


def test_a_supplier_reference_used_earlier_in_the_batch_names_that_bill(api, company):
    supplier = builders.supplier(company)

    body = post_batch(
        api,
        "bills",
        [
            create(bill_data(supplier, reference="INV-77")),
            create(bill_data(supplier, reference="INV-78")),
            create(bill_data(supplier, reference="inv-77")),
        ],
    )["data"]

    first, second, third = body["results"]
    assert not reference_warnings(first) and not reference_warnings(second)
    [warning] = reference_warnings(third)
    assert f"bill {first['data']['number']}" in warning["message"]
    assert third["status"] == "created"
    assert body["summary"] == body["summary"] | {"created": 3, "warnings": 1}


def test_validate_only_warns_naming_the_earlier_operation(api, company):
    supplier = builders.supplier(company)
    same = bill_data(supplier, reference="INV-9")

    body = post_batch(api, "bills", [create(same), create(same)], validateOnly=True)["data"]

    [warning] = reference_warnings(body["results"][1])
    assert "operation 0" in warning["message"]
    assert Bill.objects.for_company(company).count() == 0


def test_an_update_warns_only_when_it_takes_a_used_reference(api, company):
    supplier = builders.supplier(company)
    first, second = builders.bill(company, supplier), builders.bill(company, supplier)
    Bill.objects.filter(pk=second.pk).update(reference="SO-2")

    body = post_batch(
        api,
        "bills",
        [
            update({"id": first.number, "notes": "checked"}),
            update({"id": second.number, "reference": "so-1"}),
        ],
    )["data"]

    kept, taken = body["results"]
    assert (kept["status"], taken["status"]) == ("updated", "updated")
    assert not reference_warnings(kept)
    [warning] = reference_warnings(taken)
    assert first.number in warning["message"]
