"""Every document posts a balanced entry, and the books agree with the documents."""

from decimal import Decimal

import pytest

from inventory.models import AdjustmentType
from ledger import selectors
from ledger.models import AccountRole, DocumentStatus, JournalEntry, JournalSource
from tests import builders
from tests.books import assert_books_sound, lines_of

pytestmark = pytest.mark.django_db


def test_an_invoice_posts_receivables_sales_and_output_tax(company):
    invoice = builders.invoice(company, builders.customer(company), [("10", "100.00", "SST")])

    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (
        Decimal("1000.00"),
        Decimal("80.00"),
        Decimal("1080.00"),
    )
    assert invoice.journal_entry.source == JournalSource.INVOICE
    assert lines_of(invoice.journal_entry) == {
        ("1100", Decimal("1080.00"), Decimal("0")),
        ("4000", Decimal("0"), Decimal("1000.00")),
        ("2100", Decimal("0"), Decimal("80.00")),
    }


def test_tax_is_rounded_per_line_to_the_cent(company):
    invoice = builders.invoice(
        company, builders.customer(company), [("3", "0.35", "SST"), ("1", "12.34", "ST5")]
    )

    # 1.05 × 8% = 0.084 → 0.08; 12.34 × 5% = 0.617 → 0.62
    assert invoice.tax_total == Decimal("0.70")
    assert invoice.total == Decimal("14.09")


def test_a_zero_rated_invoice_posts_no_tax_line(company):
    invoice = builders.invoice(company, builders.customer(company), [("2", "50.00", "ZR")])

    assert lines_of(invoice.journal_entry) == {
        ("1100", Decimal("100.00"), Decimal("0")),
        ("4000", Decimal("0"), Decimal("100.00")),
    }


def test_a_bill_posts_purchases_input_tax_and_payables(company):
    bill = builders.bill(company, builders.supplier(company), [("5", "40.00", "SST")])

    assert lines_of(bill.journal_entry) == {
        ("5000", Decimal("200.00"), Decimal("0")),
        ("1400", Decimal("16.00"), Decimal("0")),
        ("2010", Decimal("0"), Decimal("216.00")),
    }


def test_a_receipt_settles_invoices_and_keeps_the_rest_as_a_deposit(company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer, [("1", "100.00", "ZR")])

    payment = builders.payment(company, customer, "150.00", [(invoice, "60.00")])

    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status) == (
        Decimal("60.00"),
        DocumentStatus.PARTIALLY_PAID,
    )
    assert lines_of(payment.journal_entry) == {
        ("1010", Decimal("150.00"), Decimal("0")),
        ("1100", Decimal("0"), Decimal("60.00")),
        ("2200", Decimal("0"), Decimal("90.00")),
    }
    assert_books_sound(company)


def test_paying_a_bill_in_full_marks_it_paid(company):
    supplier = builders.supplier(company)
    bill = builders.bill(company, supplier, [("1", "100.00", "SST")])

    builders.payment(company, supplier, "108.00", [(bill, "108.00")])

    bill.refresh_from_db()
    assert bill.status == DocumentStatus.PAID
    assert_books_sound(company)


def test_an_allocation_above_what_is_owed_is_refused_and_writes_nothing(company):
    from ledger.services.payments import OverAllocation

    customer = builders.customer(company)
    invoice = builders.invoice(company, customer, [("1", "100.00", "ZR")])

    with pytest.raises(OverAllocation):
        builders.payment(company, customer, "200.00", [(invoice, "100.01")])

    invoice.refresh_from_db()
    assert invoice.amount_paid == 0
    assert JournalEntry.objects.for_company(company).count() == 1


def test_stock_adjustments_post_at_cost_and_keep_the_moving_average(company):
    widget = builders.item(company, "WIDGET-001")

    first = builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "100", "25.00")
    builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "100", "35.00")
    out = builders.adjust_stock(company, widget, AdjustmentType.DECREASE, "50")

    level = widget.stock_levels.get()
    assert level.quantity == Decimal("150")
    assert level.average_cost == Decimal("30.0000")
    assert level.value == Decimal("4500.00")
    assert out.unit_cost == Decimal("30.0000")
    assert lines_of(first.journal_entry) == {
        ("1200", Decimal("2500.00"), Decimal("0")),
        ("5100", Decimal("0"), Decimal("2500.00")),
    }
    assert lines_of(out.journal_entry) == {
        ("5100", Decimal("1500.00"), Decimal("0")),
        ("1200", Decimal("0"), Decimal("1500.00")),
    }
    assert selectors.role_balance(company=company, role=AccountRole.INVENTORY) == level.value


def test_the_last_unit_out_takes_the_remaining_value(company):
    widget = builders.item(company, "WIDGET-002")
    builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "3", "10.00")
    builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "1", "10.01")

    builders.adjust_stock(company, widget, AdjustmentType.DECREASE, "1")
    builders.adjust_stock(company, widget, AdjustmentType.DECREASE, "3")

    level = widget.stock_levels.get()
    assert (level.quantity, level.value) == (0, Decimal("0.00"))
    assert selectors.role_balance(company=company, role=AccountRole.INVENTORY) == 0


def test_a_decrease_below_stock_on_hand_is_refused(company):
    from inventory.services import InsufficientStock

    widget = builders.item(company, "WIDGET-003")
    builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "5", "1.00")

    with pytest.raises(InsufficientStock):
        builders.adjust_stock(company, widget, AdjustmentType.DECREASE, "6")

    assert widget.stock_levels.get().quantity == 5


def test_trial_balance_totals_agree_after_a_mix_of_documents(company, other_company):
    customer, supplier = builders.customer(company), builders.supplier(company)
    invoice = builders.invoice(company, customer, [("3", "333.33", "SST"), ("1", "0.01", "ST5")])
    bill = builders.bill(company, supplier, [("7", "12.35", "ST10")])
    builders.payment(company, customer, "500.00", [(invoice, "400.00")])
    builders.payment(company, supplier, "20.00", [(bill, "20.00")])
    builders.journal(company, "6000", "1620", "5000.00")
    widget = builders.item(company, "W-1")
    builders.adjust_stock(company, widget, AdjustmentType.INCREASE, "10", "2.50")
    builders.adjust_stock(company, widget, AdjustmentType.DECREASE, "4")
    builders.invoice(other_company, builders.customer(other_company), [("1", "9.99", "SST")])

    balance = selectors.trial_balance(company=company)

    assert balance.total_debit == balance.total_credit
    assert balance.total_debit > 0
    assert {row.account.company_id for row in balance.rows} == {company.pk}
    assert_books_sound(company)
    assert_books_sound(other_company)
