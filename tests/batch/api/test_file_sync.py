"""A nightly file from another system: its own ids in an externalId column, upsert and
delete by them, and the same file again changes nothing — in CSV and Excel alike."""

import io

from openpyxl import Workbook

from inventory.models import Item
from ledger.models import Customer
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
