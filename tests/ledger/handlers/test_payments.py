"""POST /v1/batch/payments: customer receipts and supplier payments, allocated and posted."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from bigledger.models import NumberSequence
from ledger import selectors
from ledger.models import (
    AccountRole,
    Customer,
    DocumentStatus,
    JournalEntry,
    Payment,
    PaymentAllocation,
    PaymentDirection,
    Status,
    Supplier,
)
from tests import builders
from tests.books import assert_books_sound, lines_of
from tests.helpers import count_queries, create, detail_codes, post_batch, update

pytestmark = pytest.mark.django_db

D = Decimal


def receipt(customer, amount, allocations=(), **fields) -> dict:
    return {
        "customerId": customer.public_id,
        "paymentDate": "2024-01-20",
        "amount": D(amount),
        "method": "bank_transfer",
        "allocations": [{"invoiceId": ref, "amount": D(a)} for ref, a in allocations],
        **fields,
    }


def results_of(body) -> list[dict]:
    return body["data"]["results"]


def test_a_receipt_settles_invoices_and_keeps_the_rest_as_a_deposit(api, company):
    customer = builders.customer(company)
    first = builders.invoice(company, customer)  # 1080.00
    second = builders.invoice(company, customer)

    body = post_batch(
        api,
        "payments",
        [
            create(
                receipt(
                    customer,
                    "1500.00",
                    [(first.public_id, "1080.00"), (second.number, "400.00")],
                    reference="RCPT-1",
                    notes="January",
                ),
                "pay_1",
            )
        ],
    )

    [result] = results_of(body)
    assert result["status"] == "created"
    payment = Payment.objects.get()
    assert result["data"] == {
        "id": payment.public_id,
        "number": "PAY-000001",
        "amount": D("1500.00"),
        "unallocated": D("20.00"),
        "externalId": None,
    }
    assert (payment.direction, payment.customer, payment.method, payment.reference) == (
        PaymentDirection.RECEIPT,
        customer,
        "bank_transfer",
        "RCPT-1",
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.amount_paid) == (DocumentStatus.PAID, D("1080.00"))
    assert (second.status, second.amount_paid) == (DocumentStatus.PARTIALLY_PAID, D("400.00"))
    assert lines_of(payment.journal_entry) == {
        ("1010", D("1500.00"), D("0")),
        ("1100", D("0"), D("1480.00")),
        ("2200", D("0"), D("20.00")),
    }
    assert selectors.role_balance(company=company, role=AccountRole.RECEIVABLES) == D("680.00")
    assert_books_sound(company)


def test_a_supplier_payment_settles_bills(api, company):
    supplier = builders.supplier(company)
    bill = builders.bill(company, supplier)  # 216.00

    body = post_batch(
        api,
        "payments",
        [
            create(
                {
                    "supplierNumber": supplier.number,
                    "paymentDate": "2024-01-20",
                    "amount": D("216.00"),
                    "allocations": [{"billNumber": bill.number, "amount": D("216.00")}],
                }
            )
        ],
    )

    [result] = results_of(body)
    assert (result["status"], result["data"]["unallocated"]) == ("created", D("0.00"))
    bill.refresh_from_db()
    assert bill.status == DocumentStatus.PAID
    payment = Payment.objects.get()
    assert (payment.direction, payment.supplier) == (PaymentDirection.DISBURSEMENT, supplier)
    assert selectors.open_bills_outstanding(company=company) == D("0")
    assert_books_sound(company)


def test_exactly_one_party_is_required(api, company):
    customer, supplier = builders.customer(company), builders.supplier(company)
    neither = {"paymentDate": "2024-01-20", "amount": D("10.00")}

    body = post_batch(
        api,
        "payments",
        [
            create(neither),
            create({**neither, "customerId": customer.number, "supplierId": supplier.public_id}),
        ],
    )

    none, both = (r["error"] for r in results_of(body))
    assert (none["code"], none["field"]) == ("VALIDATION_ERROR", "customerId")
    assert detail_codes(none) == {("customerId", "REQUIRED")}
    assert (both["code"], both["field"]) == ("VALIDATION_ERROR", "supplierId")
    assert detail_codes(both) == {("supplierId", "INVALID_VALUE")}


def test_unknown_party_and_document_are_reference_errors(api, company, other_company):
    customer = builders.customer(company)
    foreign_customer = builders.customer(other_company)
    foreign_invoice = builders.invoice(other_company, foreign_customer)

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(foreign_customer, "10.00")),
            create(receipt(customer, "10.00", [(foreign_invoice.public_id, "10.00")])),
            create(receipt(customer, "10.00", [("INV-999999", "10.00")])),
        ],
    )

    party, document, by_number = (r["error"] for r in results_of(body))
    assert (party["code"], party["field"]) == ("REFERENCE_ERROR", "customerId")
    assert (document["code"], document["field"]) == ("REFERENCE_ERROR", "allocations[0].invoiceId")
    assert detail_codes(document) == {("allocations[0].invoiceId", "NOT_FOUND")}
    assert by_number["code"] == "REFERENCE_ERROR"
    assert Payment.objects.count() == 0


def test_an_inactive_party_is_refused(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer)
    supplier = builders.supplier(company)
    Customer.objects.filter(pk=customer.pk).update(status=Status.INACTIVE)
    Supplier.objects.filter(pk=supplier.pk).update(status=Status.INACTIVE)
    to_supplier = {"paymentDate": "2024-01-20", "amount": D("10.00")}

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customer, "10.00", [(invoice.public_id, "10.00")])),
            create({**to_supplier, "supplierNumber": supplier.number}),
        ],
    )

    receipt_error, payment_error = (r["error"] for r in results_of(body))
    assert (receipt_error["code"], receipt_error["field"]) == ("VALIDATION_ERROR", "customerId")
    assert detail_codes(receipt_error) == {("customerId", "INACTIVE")}
    assert detail_codes(payment_error) == {("supplierNumber", "INACTIVE")}
    assert Payment.objects.count() == 0
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0


def test_allocations_must_belong_to_the_party_and_match_its_kind(api, company):
    customer, other = builders.customer(company), builders.customer(company, name="Other")
    theirs = builders.invoice(company, other)
    bill = builders.bill(company, builders.supplier(company))

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customer, "10.00", [(theirs.public_id, "10.00")])),
            create(
                {
                    **receipt(customer, "10.00"),
                    "allocations": [{"billId": bill.public_id, "amount": D("10.00")}],
                }
            ),
        ],
    )

    foreign, wrong_kind = (r["error"] for r in results_of(body))
    assert (foreign["code"], foreign["field"]) == ("VALIDATION_ERROR", "allocations[0].invoiceId")
    assert detail_codes(foreign) == {("allocations[0].invoiceId", "INVALID_VALUE")}
    assert wrong_kind["code"] == "VALIDATION_ERROR"
    assert detail_codes(wrong_kind) == {
        ("allocations[0].billId", "INVALID_VALUE"),
        ("allocations[0].invoiceId", "REQUIRED"),
    }


def test_an_allocation_over_what_the_invoice_owes_is_over_allocated(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer)
    builders.payment(company, customer, "1000.00", [(invoice, "1000.00")])  # owes 80.00

    body = post_batch(
        api, "payments", [create(receipt(customer, "100.00", [(invoice.public_id, "80.01")]))]
    )

    [result] = results_of(body)
    error = result["error"]
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "allocations[0].amount")
    assert detail_codes(error) == {("allocations[0].amount", "OVER_ALLOCATED")}
    assert "80.00 outstanding" in error["message"]


def test_two_payments_in_one_batch_cannot_both_spend_one_invoice(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer)  # 1080.00

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customer, "700.00", [(invoice.public_id, "700.00")])),
            create(receipt(customer, "700.00", [(invoice.number, "700.00")])),
            create(receipt(customer, "380.00", [(invoice.number, "380.00")])),
        ],
    )

    first, second, third = results_of(body)
    assert first["status"] == third["status"] == "created"
    assert (second["error"]["code"], second["error"]["field"]) == (
        "VALIDATION_ERROR",
        "allocations[0].amount",
    )
    assert detail_codes(second["error"]) == {("allocations[0].amount", "OVER_ALLOCATED")}
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status) == (D("1080.00"), DocumentStatus.PAID)
    assert_books_sound(company)


def test_two_allocations_in_one_payment_to_one_invoice_are_counted_together(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer)

    body = post_batch(
        api,
        "payments",
        [
            create(
                receipt(
                    customer, "2000.00", [(invoice.number, "1000.00"), (invoice.number, "100.00")]
                )
            )
        ],
    )

    [result] = results_of(body)
    assert detail_codes(result["error"]) == {("allocations[1].amount", "OVER_ALLOCATED")}


def test_allocations_may_not_exceed_the_amount(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer)

    body = post_batch(
        api, "payments", [create(receipt(customer, "100.00", [(invoice.number, "100.01")]))]
    )

    [result] = results_of(body)
    error = result["error"]
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "allocations")
    assert detail_codes(error) == {("allocations", "OVER_ALLOCATED")}


def test_amount_and_date_rules(api, company):
    customer = builders.customer(company)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customer, "0.00")),
            create(receipt(customer, "1.005")),
            create(receipt(customer, "10.00", paymentDate=tomorrow)),
            create({**receipt(customer, "10.00"), "allocations": [{"invoiceId": "x"}]}),
        ],
    )

    zero, places, future, no_amount = (r["error"] for r in results_of(body))
    assert detail_codes(zero) == {("amount", "INVALID_AMOUNT")}
    assert detail_codes(places) == {("amount", "INVALID_AMOUNT")}
    assert (future["field"], detail_codes(future)) == (
        "paymentDate",
        {("paymentDate", "FUTURE_DATE")},
    )
    assert detail_codes(no_amount) == {("allocations[0].amount", "REQUIRED")}


def test_update_is_unsupported(api, company):
    customer = builders.customer(company)
    payment = builders.payment(company, customer, "10.00")

    body = post_batch(api, "payments", [update({"id": payment.public_id, "notes": "x"})])

    assert results_of(body)[0]["error"]["code"] == "UNSUPPORTED_OPERATION"


def test_rollback_on_error_persists_nothing_and_consumes_no_numbers(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer)

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customer, "100.00", [(invoice.number, "100.00")])),
            create(receipt(customer, "100.00", [(invoice.number, "5000.00")])),
        ],
        rollbackOnError=True,
    )

    assert body["data"]["status"] == "rolled_back"
    assert [r["status"] for r in results_of(body)] == ["rolled_back", "failed"]
    assert Payment.objects.for_company(company).count() == 0
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    assert JournalEntry.objects.for_company(company).count() == 1
    assert not NumberSequence.objects.filter(company=company, key="PAY").exists()
    assert NumberSequence.objects.get(company=company, key="JE").last_value == 1
    assert_books_sound(company)


def test_validate_only_persists_nothing(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer)

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customer, "700.00", [(invoice.number, "700.00")])),
            create(receipt(customer, "700.00", [(invoice.number, "700.00")])),
        ],
        validateOnly=True,
    )

    validated, over = results_of(body)
    assert validated["status"] == "validated"
    assert detail_codes(over["error"]) == {("allocations[0].amount", "OVER_ALLOCATED")}
    assert Payment.objects.for_company(company).count() == 0
    assert PaymentAllocation.objects.for_company(company).count() == 0
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    assert not NumberSequence.objects.filter(company=company, key="PAY").exists()
    assert_books_sound(company)


def test_query_count_does_not_grow_with_the_batch(api, company):
    customers = [builders.customer(company), builders.customer(company, name="Second")]
    invoices = [
        builders.invoice(company, customers[i % 2], [("1000", "100.00", "SST")]) for i in range(4)
    ]
    batch = [
        create(receipt(customers[i % 2], "150.00", [(invoices[i % 4].number, "100.00")]))
        for i in range(200)
    ]
    post_batch(api, "payments", batch[:1])  # the PAY sequence exists from here on

    one = count_queries(lambda: post_batch(api, "payments", batch[:1]))
    two_hundred = count_queries(lambda: post_batch(api, "payments", batch))

    assert one == two_hundred
    assert Payment.objects.for_company(company).count() == 202
    assert_books_sound(company)
