"""The API page's Daily Data Sync, made real: another system sends the day's changes keyed by
its own ids — creates and updates as upserts, deletes by externalId — and sends them all
again. The first pass leaves the books holding exactly the changes; the second answers every
record `unchanged` and writes nothing."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Item
from ledger.models import Customer, Invoice, JournalEntry, Supplier
from tests.books import assert_books_sound
from tests.helpers import post_batch

TODAY = "2026-11-02"


def upsert(data) -> dict:
    return {"operation": "upsert", "referenceId": data["externalId"], "data": data}


def remove(external_id) -> dict:
    return {"operation": "delete", "referenceId": external_id, "data": {"externalId": external_id}}


def customer(n, phone="+60123000000") -> dict:
    return upsert({"externalId": f"crm-{n}", "name": f"Customer {n}", "phone": phone})


def supplier(n) -> dict:
    return upsert({"externalId": f"erp-s{n}", "name": f"Supplier {n}", "paymentTerms": 45})


def item(n, price="50.00") -> dict:
    return upsert(
        {
            "externalId": f"sku-{n}",
            "itemCode": f"SKU-{n}",
            "name": f"Product {n}",
            "type": "service",
            "sellingPrice": price,
            "taxCode": "SST",
        }
    )


def invoice(n, quantity=2, notes="") -> dict:
    return upsert(
        {
            "externalId": f"web-{n}",
            "invoiceNumber": f"WEB-{n:05d}",
            "customerExternalId": f"crm-{n % 200}",
            "invoiceDate": TODAY,
            "notes": notes,
            "items": [
                {
                    "itemExternalId": f"sku-{n % 80}",
                    "quantity": quantity,
                    "unitPrice": "50.00",
                    "taxCode": "SST",
                }
            ],
        }
    )


def apply(api, changes: dict[str, list[dict]]) -> list[dict]:
    """Each entity's changes in batches of its maximum, in dependency order; every result."""
    sizes = {"customers": 500, "suppliers": 500, "items": 1000, "invoices": 100}
    results = []
    for entity, operations in changes.items():
        size = sizes[entity]
        for start in range(0, len(operations), size):
            answer = post_batch(api, entity, operations[start : start + size])
            results.extend(answer["data"]["results"])
    return results


def yesterday() -> dict[str, list[dict]]:
    return {
        "customers": [customer(n) for n in range(300)],
        "items": [item(n) for n in range(100)],
        "invoices": [invoice(n) for n in range(200)],
    }


def todays_changes() -> dict[str, list[dict]]:
    """1,000 changes: new, changed and deleted customers, suppliers, items and invoices."""
    return {
        "customers": [
            *(customer(n) for n in range(300, 450)),  # 150 new
            *(customer(n, phone="+60199999999") for n in range(150)),  # 150 changed
            *(remove(f"crm-{n}") for n in range(250, 300)),  # 50 gone (no invoices)
        ],
        "suppliers": [supplier(n) for n in range(100)],  # 100 new
        "items": [
            *(item(n) for n in range(100, 150)),  # 50 new
            *(item(n, price="55.00") for n in range(50)),  # 50 repriced
            *(remove(f"sku-{n}") for n in range(80, 100)),  # 20 gone (never sold)
        ],
        "invoices": [
            *(invoice(n) for n in range(200, 500)),  # 300 new
            *(invoice(n, quantity=3) for n in range(100)),  # 100 with a line changed
            *(invoice(n, notes="Gift wrap") for n in range(100, 130)),  # 30 with new notes
        ],
    }


BUSINESS_TABLES = ("ledger_", "inventory_", "bigledger_tombstone", "bigledger_numbersequence")


def business_writes(queries) -> list[str]:
    return [
        query["sql"][:120]
        for query in queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "COPY"))
        and any(table in query["sql"] for table in BUSINESS_TABLES)
    ]


@pytest.mark.django_db
def test_a_days_changes_sent_twice_apply_once(api, company, settings):
    settings.BATCH_RATE_LIMIT = "1000/min"
    apply(api, yesterday())
    changes = todays_changes()
    assert sum(len(operations) for operations in changes.values()) == 1000

    first = apply(api, changes)

    assert {record["status"] for record in first} == {"created", "updated", "deleted"}
    assert Customer.objects.filter(company=company).count() == 300 + 150 - 50
    assert not Customer.objects.filter(company=company, external_id="crm-260").exists()
    assert Customer.objects.get(company=company, external_id="crm-7").phone == "+60199999999"
    assert Customer.objects.get(company=company, external_id="crm-170").phone == "+60123000000"
    assert Supplier.objects.filter(company=company).count() == 100
    assert Item.objects.filter(company=company).count() == 100 + 50 - 20
    assert Item.objects.get(company=company, external_id="sku-3").selling_price == Decimal(55)
    assert Invoice.objects.filter(company=company).count() == 500
    changed = Invoice.objects.get(company=company, external_id="web-7")
    assert changed.subtotal == Decimal("150.00")  # 3 × 50
    assert Invoice.objects.get(company=company, external_id="web-107").notes == "Gift wrap"
    assert_books_sound(company)
    entries = JournalEntry.objects.filter(company=company).count()
    stamps = {
        model: dict(model.objects.filter(company=company).values_list("pk", "updated_at"))
        for model in (Customer, Supplier, Item, Invoice)
    }

    with CaptureQueriesContext(connection) as queries:
        second = apply(api, changes)

    assert len(second) == 1000
    assert {record["status"] for record in second} == {"unchanged"}
    assert all(record["success"] for record in second)
    assert business_writes(queries) == []
    assert JournalEntry.objects.filter(company=company).count() == entries
    for model, before in stamps.items():
        after = dict(model.objects.filter(company=company).values_list("pk", "updated_at"))
        assert after == before, model
    assert_books_sound(company)
