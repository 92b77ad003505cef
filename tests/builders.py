"""Small builders for arranging tests through the real services."""

import datetime
from decimal import Decimal

from django.db import transaction

from bigledger.numbers import allocate_numbers
from inventory.models import Item, Location
from inventory.services import AdjustmentDraft, create_stock_adjustments
from ledger.models import Account, Customer, Supplier, TaxCode
from ledger.services.documents import (
    TradeDocumentDraft,
    TradeLineDraft,
    create_bills,
    create_invoices,
)
from ledger.services.journals import JournalDraft, LineDraft, post_journal_entries
from ledger.services.payments import AllocationDraft, PaymentDraft, create_payments

TODAY = datetime.date(2024, 1, 15)


@transaction.atomic
def customer(company, name="Acme Corporation", email="", **fields) -> Customer:
    (number,) = allocate_numbers(company=company, prefix="CUST", width=4, count=1)
    return Customer.objects.create(company=company, number=number, name=name, email=email, **fields)


@transaction.atomic
def supplier(company, name="Widget Supplies", email="", **fields) -> Supplier:
    (number,) = allocate_numbers(company=company, prefix="SUPP", width=4, count=1)
    return Supplier.objects.create(company=company, number=number, name=name, email=email, **fields)


def item(company, code="WIDGET-001", **fields) -> Item:
    fields.setdefault("name", code.title())
    return Item.objects.create(company=company, item_code=code, **fields)


def stocked_item(company, code="STOCK-001", quantity="60", unit_cost="10.00", **fields) -> Item:
    """An inventory item with `quantity` on hand in the warehouse at `unit_cost`."""
    stock_item = item(company, code, **fields)
    adjust_stock(company, stock_item, "increase", quantity, unit_cost)
    return stock_item


def account(company, code) -> Account:
    return Account.objects.get(company=company, code=code)


def tax(company, code="SST") -> TaxCode:
    return TaxCode.objects.get(company=company, code=code)


def warehouse(company) -> Location:
    return Location.objects.get(company=company, code="WH")


def _document_draft(company, party, lines, date=TODAY):
    return TradeDocumentDraft(
        party=party,
        date=date,
        due_date=date + datetime.timedelta(days=30),
        reference="SO-1",
        lines=[
            TradeLineDraft(quantity=Decimal(q), unit_price=Decimal(p), tax_code=tax(company, t))
            for q, p, t in lines
        ],
    )


@transaction.atomic
def invoice(company, party, lines=(("10", "100.00", "SST"),)):
    return create_invoices(company=company, drafts=[_document_draft(company, party, lines)])[0]


@transaction.atomic
def bill(company, party, lines=(("5", "40.00", "SST"),)):
    return create_bills(company=company, drafts=[_document_draft(company, party, lines)])[0]


@transaction.atomic
def payment(company, party, amount, allocations=()):
    draft = PaymentDraft(
        party=party,
        date=TODAY,
        amount=Decimal(amount),
        allocations=[AllocationDraft(document=d, amount=Decimal(a)) for d, a in allocations],
    )
    return create_payments(company=company, drafts=[draft])[0]


@transaction.atomic
def journal(company, debit_code, credit_code, amount):
    amount = Decimal(amount)
    draft = JournalDraft(
        date=TODAY,
        reference="JE-REF",
        lines=[
            LineDraft(account(company, debit_code), debit=amount),
            LineDraft(account(company, credit_code), credit=amount),
        ],
    )
    return post_journal_entries(company=company, drafts=[draft])[0]


@transaction.atomic
def adjust_stock(company, stock_item, kind, quantity, unit_cost=None):
    draft = AdjustmentDraft(
        item=stock_item,
        location=warehouse(company),
        adjustment_type=kind,
        quantity=Decimal(quantity),
        unit_cost=None if unit_cost is None else Decimal(unit_cost),
        reason="count",
        date=TODAY,
    )
    return create_stock_adjustments(company=company, drafts=[draft])[0]
