"""After any mix of batches — good, partly failed, rolled back, validate-only — the books
balance, receivables equal what open invoices owe, and stock equals its movements."""

from decimal import Decimal

import pytest

from ledger import selectors
from ledger.models import AccountRole
from tests.books import assert_books_sound
from tests.helpers import create, post_batch, update

pytestmark = pytest.mark.django_db


def assert_invariants(api, company):
    """The books are sound, and the trial balance the API reports balances too."""
    assert_books_sound(company)
    report = api.get("/v1/reports/trial-balance").json()["data"]
    assert report["totalDebit"] == report["totalCredit"]


def invoice(customer_number, *lines, **extra):
    return {
        "customerNumber": customer_number,
        "invoiceDate": "2024-01-15",
        "items": [
            {"description": d, "quantity": q, "unitPrice": p, "taxCode": t} for d, q, p, t in lines
        ],
        **extra,
    }


def bill(supplier_number, *lines):
    return {
        "supplierNumber": supplier_number,
        "billDate": "2024-01-16",
        "items": [
            {"description": d, "quantity": q, "unitPrice": p, "taxCode": t} for d, q, p, t in lines
        ],
    }


def journal(amount, debit_code="6000", credit_code="1620"):
    return {
        "date": "2024-01-31",
        "reference": "DEP",
        "description": "Monthly depreciation",
        "lines": [
            {"accountCode": debit_code, "debit": amount, "credit": 0},
            {"accountCode": credit_code, "debit": 0, "credit": amount},
        ],
    }


def adjustment(code, kind, quantity, unit_cost=None):
    data = {
        "itemCode": code,
        "locationCode": "WH",
        "adjustmentType": kind,
        "quantity": quantity,
        "reason": "Stock count",
    }
    if unit_cost is not None:
        data["unitCost"] = unit_cost
    return data


def test_the_books_hold_after_every_kind_of_batch(api, company, settings):
    settings.BATCH_RATE_LIMIT = "100/min"  # every kind of batch, one after another
    steps = [
        ("customers", [create({"name": "Acme"}), create({"name": "Tech"})], {}),
        ("suppliers", [create({"name": "Widgets Ltd"})], {}),
        ("items", [create({"itemCode": "W-1", "name": "Widget", "taxCode": "SST"})], {}),
        (
            "invoices",
            [
                create(invoice("CUST-0001", ("Service", 10, "100.00", "SST"))),
                create(invoice("CUST-0002", ("Service", 3, "33.33", "ST5"))),
                create(invoice("CUST-9999", ("Nobody", 1, "1.00", "SST"))),
            ],
            {},
        ),
        (
            "invoices",
            [
                create(invoice("CUST-0001", ("Rolled", 1, "50.00", "SST"))),
                create(invoice("CUST-0001", ("Bad", 0, "50.00", "SST"))),
            ],
            {"rollbackOnError": True},
        ),
        (
            "invoices",
            [create(invoice("CUST-0002", ("Check only", 1, "70.00", "SST")))],
            {"validateOnly": True},
        ),
        (
            "invoices",
            [
                update(
                    {
                        "invoiceNumber": "INV-000002",
                        "items": [
                            {
                                "description": "Revised",
                                "quantity": 2,
                                "unitPrice": "40.00",
                                "taxCode": "SST",
                            }
                        ],
                    }
                )
            ],
            {},
        ),
        ("bills", [create(bill("SUPP-0001", ("Stock", 5, "40.00", "SST")))], {}),
        (
            "payments",
            [
                create(
                    {
                        "customerNumber": "CUST-0001",
                        "paymentDate": "2024-01-20",
                        "amount": "600.00",
                        "allocations": [{"invoiceNumber": "INV-000001", "amount": "500.00"}],
                    }
                ),
                create(
                    {
                        "customerNumber": "CUST-0001",
                        "paymentDate": "2024-01-20",
                        "amount": "1000.00",
                        "allocations": [{"invoiceNumber": "INV-000001", "amount": "999.00"}],
                    }
                ),
                create(
                    {
                        "supplierNumber": "SUPP-0001",
                        "paymentDate": "2024-01-21",
                        "amount": "216.00",
                        "allocations": [{"billNumber": "BILL-000001", "amount": "216.00"}],
                    }
                ),
            ],
            {},
        ),
        (
            "journal-entries",
            [create(journal("5000.00")), create(journal("10.00", "6000", "6000") | {"lines": []})],
            {},
        ),
        (
            "journal-entries",
            [create(journal("1.00")), create(journal("-1"))],
            {"rollbackOnError": True},
        ),
        (
            "stock-adjustments",
            [
                create(adjustment("W-1", "increase", 100, "25.00")),
                create(adjustment("W-1", "decrease", 30)),
                create(adjustment("W-1", "decrease", 500)),
            ],
            {},
        ),
        (
            "stock-adjustments",
            [create(adjustment("W-1", "decrease", 70))],
            {"validateOnly": True},
        ),
        (
            "stock-adjustments",
            [create(adjustment("W-1", "increase", 1, "9.99")), create(adjustment("W-1", "x", 1))],
            {"rollbackOnError": True},
        ),
    ]
    outcomes = []
    for entity, operations, options in steps:
        result = post_batch(api, entity, operations, **options)
        outcomes.append((entity, [r["status"] for r in result["data"]["results"]]))
        assert_invariants(api, company)

    assert outcomes == [
        ("customers", ["created", "created"]),
        ("suppliers", ["created"]),
        ("items", ["created"]),
        ("invoices", ["created", "created", "failed"]),
        ("invoices", ["rolled_back", "failed"]),
        ("invoices", ["validated"]),
        ("invoices", ["updated"]),
        ("bills", ["created"]),
        ("payments", ["created", "failed", "created"]),
        ("journal-entries", ["created", "failed"]),
        ("journal-entries", ["rolled_back", "failed"]),
        ("stock-adjustments", ["created", "created", "failed"]),
        ("stock-adjustments", ["validated"]),
        ("stock-adjustments", ["rolled_back", "failed"]),
    ]
    receivables = selectors.role_balance(company=company, role=AccountRole.RECEIVABLES)
    # INV-1 1080.00 − 500 paid; INV-2 revised to 86.40 — 666.40 still owed.
    assert receivables == Decimal("666.40")
