"""Every template's example rows pass their own validation: each entity's CSV template and
its Excel template, uploaded unchanged through the file endpoints with validateOnly in a new
company (default chart, tax codes, warehouse) that has the master data document examples
name — the first customer, supplier and stocked item its dropdowns offer. The Excel
template's examples are cells Excel's own validation of their columns accepts."""

import csv
import datetime
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from batch.engine.handlers import registered_handlers
from tests import builders

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


def excel_template(api, entity) -> bytes:
    response = api.get(f"/v1/batch/templates/excel/{entity}")
    assert response.status_code == 200, response.content
    return response.content


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
def test_the_excel_template_uploaded_unchanged_validates_the_same_example(api, master_data, entity):
    results = validate(api, entity, excel_template(api, entity), "xlsx")

    assert results and failures(results) == []
    assert len(results) == len(validate(api, entity, csv_template(api, entity), "csv"))


def list_of(workbook, formula: str) -> list[str]:
    """The values a list validation offers: a literal list or a named range of Lists."""
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    title, cells = next(workbook.defined_names[formula].destinations)
    return [str(cell.value) for (cell,) in workbook[title][cells]]


def excel_accepts(workbook, validation, value) -> bool:
    """Whether Excel's data validation lets `value` stand in a cell it covers."""
    low = validation.formula1
    if validation.type == "list":
        return str(value) in list_of(workbook, low)
    if validation.type == "date":
        return isinstance(value, datetime.datetime)
    if validation.type == "textLength":
        return isinstance(value, str) and len(value) <= int(low)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False  # text in a decimal or whole-number column
    if validation.type == "whole" and not float(value).is_integer():
        return False
    high = validation.formula2
    return {
        "between": lambda: float(low) <= value <= float(high),
        "greaterThan": lambda: value > float(low),
        "greaterThanOrEqual": lambda: value >= float(low),
    }[validation.operator]()


@pytest.mark.parametrize("entity", ENTITIES)
def test_the_excel_examples_are_cells_their_columns_validation_accepts(api, master_data, entity):
    workbook = load_workbook(io.BytesIO(excel_template(api, entity)))
    data = workbook["Data"]
    validations = {
        cell_range.min_col: validation
        for validation in data.data_validations.dataValidation
        for cell_range in validation.sqref.ranges
    }
    examples = len(example_rows(csv_template(api, entity)))

    refused = [
        (cell.coordinate, cell.value)
        for row in data.iter_rows(min_row=2, max_row=1 + examples)
        for cell in row
        if cell.value is not None
        and cell.column in validations
        and not excel_accepts(workbook, validations[cell.column], cell.value)
    ]
    assert refused == []


def test_the_excel_example_types_dates_and_amounts_and_the_instructions_say_to_replace_it(
    api, master_data
):
    workbook = load_workbook(io.BytesIO(excel_template(api, "invoices")))
    data = workbook["Data"]
    first = {header.value: cell.value for header, cell in zip(data[1], data[2], strict=True)}

    assert first["invoiceDate"] == datetime.datetime(2024, 1, 15)
    assert isinstance(first["items.quantity"], int | float)
    assert isinstance(first["items.unitPrice"], int | float)
    assert first["items.amount"].startswith("=IF(")  # the calculated column keeps its formula
    note = workbook["Instructions"]["A3"]
    assert "Rows 2-3 of the 'Data' sheet are an example" in note.value
    assert "replace the example rows with your own" in note.value
