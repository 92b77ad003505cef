"""A nightly file from another system: its own ids in an externalId column, upsert and
delete by them, and the same file again changes nothing — in CSV and Excel alike."""

import io
from decimal import Decimal

from openpyxl import Workbook

from inventory.models import Item
from ledger.models import Customer, Invoice
from tests.batch.api.test_file_imports import csv_bytes, template_header, upload


def statuses(answer) -> list[str]:
    return [record["status"] for record in answer["data"]["results"]]


def xlsx_bytes(rows: list[dict]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    header = list(dict.fromkeys(name for row in rows for name in row))
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(name) for name in header])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


NIGHTLY = [
    {"operation": "upsert", "externalId": "crm-1", "name": "Acme", "email": "ap@acme.com"},
    {"operation": "upsert", "externalId": "crm-2", "name": "Globex", "creditLimit": "5000"},
]


def test_templates_carry_the_external_id_column(api):
    for entity in ("customers", "items", "invoices", "payments", "journal-entries"):
        assert "externalId" in template_header(api, entity), entity


def test_a_csv_of_upserts_creates_then_sent_again_changes_nothing(api, company):
    first = upload(api, "customers", csv_bytes(NIGHTLY))
    assert statuses(first) == ["created", "created"]
    stamps = dict(Customer.objects.values_list("external_id", "updated_at"))

    again = upload(api, "customers", csv_bytes(NIGHTLY))

    assert statuses(again) == ["unchanged", "unchanged"]
    assert again["data"]["summary"]["unchanged"] == 2
    assert dict(Customer.objects.values_list("external_id", "updated_at")) == stamps


def test_a_csv_row_may_update_and_delete_by_external_id(api, company):
    upload(api, "customers", csv_bytes(NIGHTLY))
    rows = [
        {"operation": "upsert", "externalId": "crm-1", "name": "Acme Bhd"},
        {"operation": "delete", "externalId": "crm-2", "name": "Globex"},  # a full row
    ]

    answer = upload(api, "customers", csv_bytes(rows))

    assert statuses(answer) == ["updated", "deleted"]
    assert list(Customer.objects.filter(company=company).values_list("name", flat=True)) == [
        "Acme Bhd"
    ]


def test_an_excel_file_upserts_items_by_external_id(api, company):
    rows = [
        {"operation": "upsert", "externalId": "sku-1", "itemCode": "W-1", "name": "Widget"},
        {"operation": "upsert", "externalId": "sku-2", "itemCode": "G-1", "name": "Gadget"},
    ]
    upload(api, "items", xlsx_bytes(rows), kind="xlsx")
    rows[1]["name"] = "Gadget II"

    answer = upload(api, "items", xlsx_bytes(rows), kind="xlsx")

    assert statuses(answer) == ["unchanged", "updated"]
    assert Item.objects.get(company=company, external_id="sku-2").name == "Gadget II"


def test_an_invoice_file_names_its_customer_and_items_by_external_id(api, company):
    upload(api, "customers", csv_bytes(NIGHTLY))
    upload(
        api,
        "items",
        csv_bytes(
            [{"externalId": "sku-1", "itemCode": "W-1", "name": "Widget", "type": "service"}]
        ),
    )
    rows = [
        {
            "operation": "upsert",
            "reference": "WEB-1",
            "externalId": "web-1",
            "customerExternalId": "crm-2",
            "invoiceDate": "2024-01-15",
            "items.itemExternalId": "sku-1",
            "items.quantity": "2",
            "items.unitPrice": "10.00",
            "items.taxCode": "SST",
        },
        {
            "reference": "WEB-1",
            "items.itemExternalId": "sku-1",
            "items.quantity": "1",
            "items.unitPrice": "5.00",
            "items.taxCode": "SST",
        },
    ]

    first = upload(api, "invoices", csv_bytes(rows))
    again = upload(api, "invoices", xlsx_bytes(rows), kind="xlsx")

    assert statuses(first) == ["created"]
    assert statuses(again) == ["unchanged"]
    invoice = Invoice.objects.get(company=company, external_id="web-1")
    assert (invoice.customer.external_id, invoice.subtotal) == ("crm-2", Decimal("25.00"))
    assert invoice.lines.count() == 2
