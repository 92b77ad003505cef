"""POST /v1/batch/invoices: create and update invoices, posted to the ledger."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bigledger.models import NumberSequence
from inventory.models import ItemType
from ledger import selectors
from ledger.models import AccountRole, Customer, Invoice, InvoiceLine, JournalEntry, Status
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


def invoice_data(customer, **overrides) -> dict:
    data = {
        "customerId": customer.public_id,
        "invoiceDate": "2024-01-15",
        "dueDate": "2024-02-14",
        "items": [
            {
                "description": "Consulting Services",
                "quantity": 5,
                "unitPrice": D("200.00"),
                "taxCode": "SST",
            }
        ],
    }
    return {**data, **overrides}


def only_result(body) -> dict:
    [result] = body["data"]["results"]
    return result


def test_the_api_example_creates_two_numbered_posted_invoices(api, company):
    first, second = builders.customer(company), builders.customer(company, name="Tech Solutions")
    service = builders.item(
        company, "SERVICE-001", name="Professional Services", type=ItemType.SERVICE
    )
    body = post_batch(
        api,
        "invoices",
        [
            create(
                {
                    "customerId": first.public_id,
                    "invoiceDate": "2024-01-15",
                    "dueDate": "2024-02-14",
                    "reference": "SO-2024-001",
                    "items": [
                        {
                            "itemId": service.public_id,
                            "description": "Professional Services",
                            "quantity": 10,
                            "unitPrice": D("100.00"),
                            "taxCode": "SST",
                        }
                    ],
                    "notes": "Bulk generated invoice",
                },
                "inv_batch_001",
            ),
            create(
                {
                    "customerId": second.public_id,
                    "invoiceDate": "2024-01-15",
                    "dueDate": "2024-02-14",
                    "items": [
                        {
                            "description": "Consulting Services",
                            "quantity": 5,
                            "unitPrice": D("200.00"),
                            "taxCode": "SST",
                        }
                    ],
                },
                "inv_batch_002",
            ),
        ],
        continueOnError=True,
        **{"async": False},
    )

    data = body["data"]
    assert (data["status"], data["successfulRecords"], data["summary"]["created"]) == (
        "completed",
        2,
        2,
    )
    results = data["results"]
    assert [r["referenceId"] for r in results] == ["inv_batch_001", "inv_batch_002"]
    assert [r["status"] for r in results] == ["created", "created"]
    assert results[0]["data"]["number"] == results[0]["data"]["invoiceNumber"] == "INV-000001"
    assert results[1]["data"]["invoiceNumber"] == "INV-000002"
    assert [r["data"]["total"] for r in results] == [D("1080.00"), D("1080.00")]
    assert [r["data"]["status"] for r in results] == ["open", "open"]
    invoice = Invoice.objects.get(public_id=results[0]["data"]["id"])
    assert (invoice.customer, invoice.reference, invoice.notes) == (
        first,
        "SO-2024-001",
        "Bulk generated invoice",
    )
    assert invoice.due_date == datetime.date(2024, 2, 14)
    [line] = invoice.lines.all()
    assert (line.item, line.quantity, line.amount, line.tax_amount) == (
        service,
        D("10"),
        D("1000.00"),
        D("80.00"),
    )
    assert lines_of(invoice.journal_entry) == {
        ("1100", D("1080.00"), D("0")),
        ("4000", D("0"), D("1000.00")),
        ("2100", D("0"), D("80.00")),
    }
    assert_books_sound(company)


def test_customer_and_item_are_found_by_number_and_code(api, company):
    customer = builders.customer(company)
    builders.item(company, "WIDGET-001", name="Premium Widget", type=ItemType.NON_INVENTORY)
    body = post_batch(
        api,
        "invoices",
        [
            create(
                {
                    "customerNumber": customer.number,
                    "invoiceDate": "2024-01-15",
                    "items": [
                        {
                            "itemCode": "WIDGET-001",
                            "quantity": D("1.5"),
                            "unitPrice": 20,
                            "taxCode": "ZR",
                        }
                    ],
                }
            ),
            create(invoice_data(customer, customerId=customer.number)),
        ],
    )

    assert [r["status"] for r in body["data"]["results"]] == ["created", "created"]
    invoice = Invoice.objects.get(number="INV-000001")
    [line] = invoice.lines.all()
    assert (line.description, invoice.total) == ("Premium Widget", D("30.00"))


def test_due_date_defaults_to_invoice_date_plus_payment_terms(api, company):
    customer = builders.customer(company, payment_terms=45)
    data = invoice_data(customer)
    del data["dueDate"]

    post_batch(api, "invoices", [create(data)])

    assert Invoice.objects.get().due_date == datetime.date(2024, 2, 29)


def test_due_date_before_invoice_date_is_invalid(api, company):
    body = post_batch(
        api, "invoices", [create(invoice_data(builders.customer(company), dueDate="2024-01-14"))]
    )

    error = result_error(body["data"])
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "dueDate")
    assert detail_codes(error) == {("dueDate", "INVALID_DATE")}


def test_unknown_or_foreign_customer_is_a_reference_error(api, company, other_company):
    foreign = builders.customer(other_company)
    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(foreign)),
            create({**invoice_data(foreign), "customerId": None, "customerNumber": "CUST-9999"}),
        ],
    )

    first, second = body["data"]["results"]
    assert first["error"]["code"] == "REFERENCE_ERROR"
    assert first["error"]["field"] == "customerId"
    assert first["error"]["message"] == f"Customer '{foreign.public_id}' does not exist."
    assert detail_codes(first["error"]) == {("customerId", "NOT_FOUND")}
    assert (second["error"]["code"], second["error"]["field"]) == (
        "REFERENCE_ERROR",
        "customerNumber",
    )
    assert Invoice.objects.count() == 0


def test_a_customer_is_required(api, company):
    data = invoice_data(builders.customer(company))
    del data["customerId"]

    error = result_error(post_batch(api, "invoices", [create(data)])["data"])

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "customerId")
    assert detail_codes(error) == {("customerId", "REQUIRED")}


def test_inactive_customer_is_refused(api, company):
    customer = builders.customer(company, status=Status.INACTIVE)

    error = result_error(post_batch(api, "invoices", [create(invoice_data(customer))])["data"])

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "customerId")
    assert detail_codes(error) == {("customerId", "INACTIVE")}


def test_future_date_is_refused_unless_the_company_allows_it(api, company):
    customer = builders.customer(company)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    data = invoice_data(customer, invoiceDate=tomorrow, dueDate=tomorrow)

    error = result_error(post_batch(api, "invoices", [create(data)])["data"])
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "invoiceDate")
    assert detail_codes(error) == {("invoiceDate", "FUTURE_DATE")}

    company.allow_future_dates = True
    company.save(update_fields=["allow_future_dates"])
    body = post_batch(api, "invoices", [create(data)])
    assert only_result(body)["status"] == "created"


def test_an_invalid_date_is_reported(api, company):
    data = invoice_data(builders.customer(company), invoiceDate="2024-02-30")

    error = result_error(post_batch(api, "invoices", [create(data)])["data"])

    assert detail_codes(error) == {("invoiceDate", "INVALID_DATE")}


def test_at_least_one_line_is_required(api, company):
    error = result_error(
        post_batch(api, "invoices", [create(invoice_data(builders.customer(company), items=[]))])[
            "data"
        ]
    )

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "items")
    assert detail_codes(error) == {("items", "REQUIRED")}


def test_line_fields_are_checked_with_their_paths(api, company):
    customer = builders.customer(company)
    lines = [
        {"quantity": 1, "unitPrice": 10, "taxCode": "SST"},
        {"description": "x", "quantity": 0, "unitPrice": 10, "taxCode": "SST"},
        {"description": "x", "quantity": D("1.00001"), "unitPrice": 10, "taxCode": "SST"},
        {"description": "x", "quantity": 1, "unitPrice": D("-1.00"), "taxCode": "SST"},
        {"description": "x", "quantity": 1, "unitPrice": D("1.001"), "taxCode": "SST"},
        {"description": "x", "quantity": 1, "unitPrice": 10},
    ]

    error = result_error(
        post_batch(api, "invoices", [create(invoice_data(customer, items=lines))])["data"]
    )

    assert error["code"] == "VALIDATION_ERROR"
    assert detail_codes(error) == {
        ("items[1].quantity", "INVALID_NUMBER"),
        ("items[2].quantity", "INVALID_NUMBER"),
        ("items[3].unitPrice", "INVALID_AMOUNT"),
        ("items[4].unitPrice", "INVALID_AMOUNT"),
        ("items[5].taxCode", "REQUIRED"),
    }

    # Once the fields parse, a line with neither item nor description is refused.
    error = result_error(
        post_batch(api, "invoices", [create(invoice_data(customer, items=lines[:1]))])["data"]
    )
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "items[0].description")
    assert detail_codes(error) == {("items[0].description", "REQUIRED")}


def test_unknown_item_and_tax_code_are_reference_errors(api, company):
    customer = builders.customer(company)
    lines = [
        {"itemId": "item_nope", "quantity": 1, "unitPrice": 10, "taxCode": "SST"},
        {"description": "x", "quantity": 1, "unitPrice": 10, "taxCode": "GST"},
    ]

    error = result_error(
        post_batch(api, "invoices", [create(invoice_data(customer, items=lines))])["data"]
    )

    assert error["code"] == "REFERENCE_ERROR"
    assert detail_codes(error) == {
        ("items[0].itemId", "NOT_FOUND"),
        ("items[1].taxCode", "NOT_FOUND"),
    }


def test_a_zero_total_is_refused(api, company):
    lines = [{"description": "Free sample", "quantity": 1, "unitPrice": 0, "taxCode": "SST"}]

    error = result_error(
        post_batch(
            api, "invoices", [create(invoice_data(builders.customer(company), items=lines))]
        )["data"]
    )

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "total")
    assert detail_codes(error) == {("total", "INVALID_AMOUNT")}


def test_a_client_total_must_match_the_computed_one(api, company):
    customer = builders.customer(company)
    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, total=D("1000.00"))),
            create(
                invoice_data(
                    customer, subtotal=D("1000.00"), taxTotal=D("80.00"), total=D("1080.00")
                )
            ),
            create(invoice_data(customer, taxTotal=D("80.01"))),
        ],
    )

    mismatch, matching, tax_mismatch = body["data"]["results"]
    assert (mismatch["error"]["code"], mismatch["error"]["field"]) == (
        "VALIDATION_ERROR",
        "total",
    )
    assert detail_codes(mismatch["error"]) == {("total", "TOTAL_MISMATCH")}
    assert matching["status"] == "created"
    assert detail_codes(tax_mismatch["error"]) == {("taxTotal", "TOTAL_MISMATCH")}


def test_credit_limit_warning_counts_open_invoices_and_earlier_ones_in_the_batch(api, company):
    customer = builders.customer(company, credit_limit=D("2000.00"))
    builders.invoice(company, customer, [("10", "100.00", "SST")])  # owes 1080.00
    relaxed = builders.customer(company, name="No Limit")
    half = [{"description": "Half", "quantity": 1, "unitPrice": D("500.00"), "taxCode": "SST"}]

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, items=half)),  # 1620.00: within the limit
            create(invoice_data(relaxed, items=half)),
            create(invoice_data(customer, items=half)),  # 2160.00: over
        ],
    )

    within, unlimited, over = body["data"]["results"]
    assert [r["status"] for r in (within, unlimited, over)] == ["created"] * 3
    assert "warnings" not in within and "warnings" not in unlimited
    [warning] = over["warnings"]
    assert warning["code"] == "CREDIT_LIMIT_EXCEEDED"
    assert "2160.00" in warning["message"]
    assert body["data"]["summary"]["warnings"] == 1


def test_delete_is_unsupported(api, company):
    invoice = builders.invoice(company, builders.customer(company))

    error = result_error(post_batch(api, "invoices", [delete({"id": invoice.public_id})])["data"])

    assert error["code"] == "UNSUPPORTED_OPERATION"
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_update_replaces_lines_reverses_the_old_posting_and_posts_anew(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer, [("10", "100.00", "SST")])
    old_entry = invoice.journal_entry
    _, credit_before = selectors.journal_totals(company=company)

    body = post_batch(
        api,
        "invoices",
        [
            update(
                {
                    "id": invoice.public_id,
                    "reference": "SO-CHANGED",
                    "items": [
                        {
                            "description": "A",
                            "quantity": 2,
                            "unitPrice": D("50.00"),
                            "taxCode": "SST",
                        },
                        {
                            "description": "B",
                            "quantity": 1,
                            "unitPrice": D("300.00"),
                            "taxCode": "ZR",
                        },
                    ],
                }
            )
        ],
    )

    result = only_result(body)
    assert result["status"] == "updated"
    assert result["data"] == {
        "id": invoice.public_id,
        "number": invoice.number,
        "invoiceNumber": invoice.number,
        "total": D("408.00"),
        "status": "open",
        "externalId": None,
    }
    invoice.refresh_from_db()
    assert (invoice.subtotal, invoice.tax_total, invoice.total, invoice.reference) == (
        D("400.00"),
        D("8.00"),
        D("408.00"),
        "SO-CHANGED",
    )
    assert [line.description for line in invoice.lines.all()] == ["A", "B"]
    assert InvoiceLine.objects.filter(invoice=invoice).count() == 2
    old_entry.refresh_from_db()  # never edited
    assert lines_of(old_entry) == {
        ("1100", D("1080.00"), D("0")),
        ("4000", D("0"), D("1000.00")),
        ("2100", D("0"), D("80.00")),
    }
    reversal = JournalEntry.objects.get(number="JE-000002")
    assert lines_of(reversal) == {
        ("1100", D("0"), D("1080.00")),
        ("4000", D("1000.00"), D("0")),
        ("2100", D("80.00"), D("0")),
    }
    assert invoice.journal_entry.number == "JE-000003"
    assert lines_of(invoice.journal_entry) == {
        ("1100", D("408.00"), D("0")),
        ("4000", D("0"), D("400.00")),
        ("2100", D("0"), D("8.00")),
    }
    debit, credit = selectors.journal_totals(company=company)
    assert debit == credit == credit_before + D("1080.00") + D("408.00")
    assert selectors.role_balance(company=company, role=AccountRole.RECEIVABLES) == D("408.00")
    assert selectors.open_invoices_outstanding(company=company) == D("408.00")
    assert_books_sound(company)


def test_update_of_header_only_keeps_lines_and_posting(api, company):
    invoice = builders.invoice(company, builders.customer(company), [("3", "0.35", "SST")])

    body = post_batch(
        api,
        "invoices",
        [update({"invoiceNumber": invoice.number, "notes": "Call first", "dueDate": "2024-03-01"})],
    )

    assert only_result(body)["status"] == "updated"
    invoice.refresh_from_db()
    assert (invoice.notes, invoice.due_date, invoice.total) == (
        "Call first",
        datetime.date(2024, 3, 1),
        D("1.13"),
    )
    [line] = invoice.lines.all()
    assert (line.quantity, line.unit_price, line.tax_amount) == (D("3"), D("0.35"), D("0.08"))
    assert JournalEntry.objects.for_company(company).count() == 1
    assert_books_sound(company)


def test_update_moves_customer_and_date_and_due_date_follows(api, company):
    invoice = builders.invoice(company, builders.customer(company))
    other = builders.customer(company, name="Other", payment_terms=10)

    body = post_batch(
        api,
        "invoices",
        [update({"id": invoice.number, "customerId": other.number, "invoiceDate": "2024-01-20"})],
    )

    assert only_result(body)["status"] == "updated"
    invoice.refresh_from_db()
    assert (invoice.customer, invoice.date, invoice.due_date) == (
        other,
        datetime.date(2024, 1, 20),
        datetime.date(2024, 1, 30),
    )
    assert invoice.journal_entry.date == datetime.date(2024, 1, 20)
    assert JournalEntry.objects.for_company(company).count() == 3
    assert_books_sound(company)


def test_two_updates_of_one_invoice_in_a_batch_apply_in_order(api, company):
    invoice = builders.invoice(company, builders.customer(company))
    line = {"description": "A", "quantity": 1, "unitPrice": D("100.00"), "taxCode": "SST"}

    body = post_batch(
        api,
        "invoices",
        [
            update({"id": invoice.public_id, "items": [line]}),
            update({"id": invoice.public_id, "notes": "second", "total": D("108.00")}),
        ],
    )

    assert [r["status"] for r in body["data"]["results"]] == ["updated", "updated"]
    invoice.refresh_from_db()
    assert (invoice.total, invoice.notes) == (D("108.00"), "second")
    assert JournalEntry.objects.for_company(company).count() == 3
    assert_books_sound(company)


def test_update_of_a_paid_or_partly_paid_invoice_is_a_conflict(api, company):
    customer = builders.customer(company)
    paid = builders.invoice(company, customer)
    partly = builders.invoice(company, customer)
    builders.payment(company, customer, "1090.00", [(paid, "1080.00"), (partly, "10.00")])

    body = post_batch(
        api,
        "invoices",
        [update({"id": paid.public_id, "notes": "x"}), update({"id": partly.number, "notes": "y"})],
    )

    assert [r["error"]["code"] for r in body["data"]["results"]] == ["CONFLICT", "CONFLICT"]
    partly.refresh_from_db()
    assert partly.notes == ""
    assert_books_sound(company)


def test_update_of_an_unknown_invoice_is_not_found(api, company, other_company):
    foreign = builders.invoice(other_company, builders.customer(other_company))

    body = post_batch(
        api,
        "invoices",
        [update({"id": foreign.public_id, "notes": "x"}), update({"notes": "x"})],
    )

    missing, unnamed = body["data"]["results"]
    assert (missing["error"]["code"], missing["error"]["field"]) == ("NOT_FOUND", "id")
    assert (unnamed["error"]["code"], unnamed["error"]["field"]) == ("VALIDATION_ERROR", "id")


def test_rollback_on_error_persists_nothing_and_consumes_no_numbers(api, company):
    customer = builders.customer(company)
    existing = builders.invoice(company, customer)
    line = {"description": "A", "quantity": 1, "unitPrice": D("10.00"), "taxCode": "SST"}

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer)),
            update({"id": existing.public_id, "items": [line]}),
            create(invoice_data(customer, customerId="cust_missing")),
        ],
        rollbackOnError=True,
    )

    data = body["data"]
    assert data["status"] == "rolled_back"
    assert [r["status"] for r in data["results"]] == ["rolled_back", "rolled_back", "failed"]
    assert data["results"][0]["error"]["code"] == "ROLLED_BACK"
    assert Invoice.objects.for_company(company).count() == 1
    existing.refresh_from_db()
    assert existing.total == D("1080.00")
    assert JournalEntry.objects.for_company(company).count() == 1
    assert sequences(company) == {"INV": 1, "JE": 1}
    assert_books_sound(company)

    body = post_batch(api, "invoices", [create(invoice_data(customer))])
    assert only_result(body)["data"]["number"] == "INV-000002"
    assert Invoice.objects.get(number="INV-000002").journal_entry.number == "JE-000002"


def test_validate_only_persists_nothing(api, company):
    customer = builders.customer(company)
    existing = builders.invoice(company, customer)

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer)),
            update({"id": existing.public_id, "notes": "x", "total": D("1080.00")}),
            create(invoice_data(customer, dueDate="2000-01-01")),
        ],
        validateOnly=True,
    )

    assert [r["status"] for r in body["data"]["results"]] == ["validated", "validated", "failed"]
    assert Invoice.objects.for_company(company).count() == 1
    existing.refresh_from_db()
    assert existing.notes == ""
    assert JournalEntry.objects.for_company(company).count() == 1
    assert sequences(company) == {"INV": 1, "JE": 1}
    assert_books_sound(company)


def test_continue_on_error_false_skips_the_rest(api, company):
    customer = builders.customer(company)

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer)),
            create(invoice_data(customer, items=[])),
            create(invoice_data(customer)),
        ],
        continueOnError=False,
    )

    assert [r["status"] for r in body["data"]["results"]] == ["created", "failed", "skipped"]
    assert Invoice.objects.for_company(company).count() == 1
    assert_books_sound(company)


def sequences(company) -> dict[str, int]:
    rows = NumberSequence.objects.filter(company=company, key__in=["INV", "JE"])
    return dict(rows.values_list("key", "last_value"))


def two_line_invoice(customer, item, position: int) -> dict:
    return invoice_data(
        customer,
        reference=f"SO-{position}",
        items=[
            {"itemId": item.public_id, "quantity": 2, "unitPrice": D("10.00"), "taxCode": "SST"},
            {"description": "Delivery", "quantity": 1, "unitPrice": D("5.00"), "taxCode": "ZR"},
        ],
    )


def test_create_query_count_does_not_grow_with_the_batch(api, company):
    customers = [
        builders.customer(company, credit_limit=D("100000.00")),
        builders.customer(company, name="Second"),
    ]
    item = builders.item(company, type=ItemType.SERVICE)  # stock lines: test_stock_documents
    batch = [create(two_line_invoice(customers[i % 2], item, i)) for i in range(100)]
    post_batch(api, "invoices", batch[:1])  # the number sequences exist from here on

    one = count_queries(lambda: post_batch(api, "invoices", batch[:1]))
    hundred = count_queries(lambda: post_batch(api, "invoices", batch))

    assert one == hundred
    assert Invoice.objects.for_company(company).count() == 102
    assert_books_sound(company)


def test_update_query_count_does_not_grow_with_the_batch(api, company):
    customers = [
        builders.customer(company, credit_limit=D("100000.00")),
        builders.customer(company, name="Second"),
    ]
    item = builders.item(company, type=ItemType.SERVICE)
    invoices = [create(two_line_invoice(customers[i % 2], item, i)) for i in range(101)]
    post_batch(api, "invoices", invoices[:1])
    post_batch(api, "invoices", invoices[1:])
    numbers = list(
        Invoice.objects.for_company(company).order_by("number").values_list("number", flat=True)
    )
    changed = {"description": "Changed", "quantity": 3, "unitPrice": D("7.00"), "taxCode": "SST"}

    def updates(chosen):
        return [
            update({"invoiceNumber": number, "items": [changed, changed], "notes": "updated"})
            for number in chosen
        ]

    one = count_queries(lambda: post_batch(api, "invoices", updates(numbers[:1])))
    hundred = count_queries(lambda: post_batch(api, "invoices", updates(numbers[1:])))

    assert one == hundred
    assert set(Invoice.objects.for_company(company).values_list("total", flat=True)) == {D("45.36")}
    assert Customer.objects.for_company(company).count() == 2
    assert_books_sound(company)
