"""Invoices, bills, payments and journal entries with values at the edges: numbers in local
formats, dates at the end of the calendar, amounts too large to add up. Each is its record's
error; the good records beside it are written, sync or async."""

import datetime
from decimal import Decimal

import pytest

from ledger.models import Bill, Invoice, JournalEntry, Payment
from tests import builders
from tests.books import assert_books_sound
from tests.helpers import create, detail_codes, finished, post_batch, result_error, submit, update

D = Decimal
MAX_AMOUNT = D("999999999999.99")


def line(quantity=1, unit_price="10.00") -> dict:
    return {
        "description": "Service",
        "quantity": quantity,
        "unitPrice": unit_price,
        "taxCode": "SST",
    }


def invoice_data(customer, **overrides) -> dict:
    return {
        "customerId": customer.public_id,
        "invoiceDate": "2024-01-15",
        "items": [line()],
        **overrides,
    }


def bill_data(supplier, **overrides) -> dict:
    return {
        "supplierId": supplier.public_id,
        "billDate": "2024-01-15",
        "items": [line()],
        **overrides,
    }


def allow_future_dates(company) -> None:
    company.allow_future_dates = True
    company.save(update_fields=["allow_future_dates"])


# Numbers in local formats ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_quantity_and_price_with_decimal_commas_are_refused_not_read_as_thousands(api, company):
    customer = builders.customer(company)
    data = invoice_data(customer, items=[line(quantity="1,5", unit_price="2,50")])

    error = result_error(post_batch(api, "invoices", [create(data)])["data"])

    assert detail_codes(error) == {
        ("items[0].quantity", "INVALID_NUMBER"),
        ("items[0].unitPrice", "INVALID_AMOUNT"),
    }
    messages = {detail["field"]: detail["message"] for detail in error["details"]}
    assert "'1,5'" in messages["items[0].quantity"]
    assert "'2,50'" in messages["items[0].unitPrice"]
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_plain_decimal_strings_are_still_taken(api, company):
    data = invoice_data(builders.customer(company), items=[line(quantity="1.5", unit_price="2.50")])

    body = post_batch(api, "invoices", [create(data)])

    assert body["data"]["results"][0]["status"] == "created"
    assert Invoice.objects.get().subtotal == D("3.75")


# Dates at the end of the calendar -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("future_dates", [False, True])
def test_an_invoice_dated_9999_is_its_records_error_and_its_neighbours_are_written(
    api, company, future_dates
):
    if future_dates:
        allow_future_dates(company)
    customer = builders.customer(company, payment_terms=30)
    operations = [
        create(invoice_data(customer, invoiceDate="9999-12-31"), "year-9999"),
        create(invoice_data(customer), "good"),
    ]

    body = post_batch(api, "invoices", operations)

    bad, good = body["data"]["results"]
    assert bad["error"]["code"] == "VALIDATION_ERROR"
    assert ("invoiceDate", "INVALID_DATE") in detail_codes(bad["error"])
    assert good["status"] == "created"
    assert Invoice.objects.count() == 1


@pytest.mark.django_db
def test_a_bill_dated_9999_is_its_records_error_and_its_neighbours_are_written(api, company):
    allow_future_dates(company)
    supplier = builders.supplier(company, payment_terms=30)
    operations = [
        create(bill_data(supplier, billDate="9999-12-31")),
        create(bill_data(supplier, billDate="2024-01-15", dueDate="9999-12-31")),
        create(bill_data(supplier)),
    ]

    body = post_batch(api, "bills", operations)

    first, second, third = body["data"]["results"]
    assert ("billDate", "INVALID_DATE") in detail_codes(first["error"])
    assert ("dueDate", "INVALID_DATE") in detail_codes(second["error"])
    assert third["status"] == "created"
    assert Bill.objects.count() == 1


@pytest.mark.django_db
def test_an_update_of_a_legacy_document_at_the_calendars_end_is_a_record_error(api, company):
    """A row written before dates were bounded: moving it to another customer would put its
    due date past the last day Python can hold."""
    customer = builders.customer(company)
    other = builders.customer(company, name="Other", payment_terms=30)
    legacy = builders.invoice(company, customer)
    Invoice.objects.filter(pk=legacy.pk).update(
        date=datetime.date(9999, 12, 31), due_date=datetime.date(9999, 12, 31)
    )
    fine = builders.invoice(company, customer)

    body = post_batch(
        api,
        "invoices",
        [
            update({"id": legacy.number, "customerId": other.public_id}),
            update({"id": fine.number, "customerId": other.public_id}),
        ],
    )

    moved_legacy, moved_fine = body["data"]["results"]
    assert moved_legacy["error"]["code"] == "VALIDATION_ERROR"
    assert ("dueDate", "INVALID_DATE") in detail_codes(moved_legacy["error"])
    assert moved_fine["status"] == "updated"


@pytest.mark.django_db
def test_a_payment_or_journal_entry_dated_9999_is_its_records_error(api, company):
    allow_future_dates(company)
    customer = builders.customer(company)
    payment = {"customerId": customer.public_id, "amount": 10}
    journal_lines = [
        {"accountCode": "6000", "debit": D("5.00")},
        {"accountCode": "1620", "credit": D("5.00")},
    ]

    paid = post_batch(api, "payments", [create({**payment, "paymentDate": "9999-12-31"})])
    posted = post_batch(
        api, "journal-entries", [create({"date": "9999-12-31", "lines": journal_lines})]
    )

    assert ("paymentDate", "INVALID_DATE") in detail_codes(result_error(paid["data"]))
    assert ("date", "INVALID_DATE") in detail_codes(result_error(posted["data"]))
    assert not Payment.objects.exists() and not JournalEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_async_invoice_dated_9999_fails_alone_and_the_job_completes(api, company, celery_worker):
    allow_future_dates(company)
    customer = builders.customer(company, payment_terms=30)
    operations = [
        create(invoice_data(customer), "before"),
        create(invoice_data(customer, invoiceDate="9999-12-31"), "year-9999"),
        create(invoice_data(customer), "after"),
    ]

    status = finished(api, submit(api, "invoices", operations)["jobId"])

    assert status["status"] == "completed"
    assert status["progress"]["successfulRecords"] == 2
    assert status["progress"]["failedRecords"] == 1
    assert Invoice.objects.count() == 2


# Amounts too large to add up ------------------------------------------------------------------


@pytest.mark.django_db
def test_journal_lines_over_the_maximum_amount_are_refused_and_the_trial_balance_reads(
    api, company
):
    huge = D("9999999999999999.99")
    entry = {
        "date": "2024-01-15",
        "lines": [{"accountCode": "6000", "debit": huge}, {"accountCode": "1620", "credit": huge}],
    }

    body = post_batch(api, "journal-entries", [create(entry), create(entry)])

    for result in body["data"]["results"]:
        assert ("lines[0].debit", "INVALID_AMOUNT") in detail_codes(result["error"])
    assert not JournalEntry.objects.exists()
    assert api.get("/v1/reports/trial-balance").status_code == 200


@pytest.mark.django_db
def test_a_line_whose_amount_is_over_the_maximum_is_refused_not_a_crash(api, company):
    customer = builders.customer(company)
    huge_line = line(quantity=D("99999999999999"), unit_price=MAX_AMOUNT)
    operations = [create(invoice_data(customer, items=[huge_line])), create(invoice_data(customer))]

    body = post_batch(api, "invoices", operations)

    bad, good = body["data"]["results"]
    assert ("items[0].unitPrice", "INVALID_AMOUNT") in detail_codes(bad["error"])
    assert good["status"] == "created"
    assert_books_sound(company)


@pytest.mark.django_db
def test_a_document_whose_total_is_over_the_maximum_is_refused(api, company):
    supplier = builders.supplier(company)
    half = line(quantity=1, unit_price=D("600000000000.00"))
    operations = [create(bill_data(supplier, items=[half, half])), create(bill_data(supplier))]

    body = post_batch(api, "bills", operations)

    bad, good = body["data"]["results"]
    assert ("total", "INVALID_AMOUNT") in detail_codes(bad["error"])
    assert good["status"] == "created"
    assert Bill.objects.get().number == "BILL-000001"


@pytest.mark.django_db
def test_a_payment_over_the_maximum_amount_is_refused(api, company):
    customer = builders.customer(company)
    payment = {
        "customerId": customer.public_id,
        "paymentDate": "2024-01-15",
        "amount": MAX_AMOUNT + D("0.01"),
    }

    error = result_error(post_batch(api, "payments", [create(payment)])["data"])

    assert detail_codes(error) == {("amount", "INVALID_AMOUNT")}
