"""Every template's example rows pass their own validation: each entity's CSV template, and
its Excel template holding the same example, uploaded through the file endpoints with
validateOnly in a new company (default chart, tax codes, warehouse) that has the master data
document examples name — the first customer, supplier and stocked item its dropdowns offer."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from batch.engine.handlers import registered_handlers
from tests import builders
from tests.batch.api.test_file_imports import excel_value

ENTITIES = sorted(registered_handlers())


@pytest.fixture
def master_data(company):
    """What a company creates before its documents: a customer, a supplier and an inventory
    item with stock in the warehouse (none of them what the master templates' examples
    create)."""
    builders.customer(company, email="first@example.com")
    builders.supplier(company, email="first@example.com")
    builders.stocked_item(company, code="STOCK-001", type="inventory")


def csv_template(api, entity) -> bytes:
    response = api.get(f"/v1/batch/{entity}/template.csv")
    assert response.status_code == 200, response.content
    return response.content


def example_rows(template: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(template.decode("utf-8-sig")))
    return [{name: value for name, value in row.items() if value} for row in reader]


def excel_template_with(api, entity, rows: list[dict[str, str]]) -> bytes:
    """The Excel template with the example typed into its Data sheet, dates and numbers as
    cells of their kind."""
    response = api.get(f"/v1/batch/templates/excel/{entity}")
    assert response.status_code == 200, response.content
    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook["Data"]
    column_of = {cell.value: cell.column for cell in sheet[1] if cell.value}
    for row_number, row in enumerate(rows, start=2):
        for name, value in row.items():
            sheet.cell(row_number, column_of[name], excel_value(value.removeprefix("'")))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def validate(api, entity, content: bytes, kind: str) -> list[dict]:
    path = f"/v1/batch/{entity}/import-{'csv' if kind == 'csv' else 'excel'}"
    form = {
        "file": SimpleUploadedFile(f"{entity}-template.{kind}", content),
        "options": json.dumps({"validateOnly": True}),
    }
    response = api.post(path, form, format="multipart")
    assert response.status_code == 200, response.content
    return response.json()["data"]["results"]


def failures(results: list[dict]) -> list[dict]:
    return [result["error"] for result in results if result["status"] != "validated"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_the_csv_template_uploaded_unchanged_validates_its_example(api, master_data, entity):
    results = validate(api, entity, csv_template(api, entity), "csv")

    assert results and failures(results) == []


@pytest.mark.parametrize("entity", ENTITIES)
def test_the_excel_template_holding_the_example_validates_it(api, master_data, entity):
    rows = example_rows(csv_template(api, entity))

    results = validate(api, entity, excel_template_with(api, entity, rows), "xlsx")

    assert results and failures(results) == []
