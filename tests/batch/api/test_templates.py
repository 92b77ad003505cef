"""The template endpoints: a CSV template and an Excel template for every entity, the Excel
one's dropdowns filled with the caller's own codes (never another company's), and every
company value written as inert text."""

import csv
import io

import pytest
from openpyxl import load_workbook

from batch.engine.handlers import get_handler, registered_handlers
from batch.files.columns import layout_for
from ledger.models import TaxCode
from tests import builders

ENTITIES = sorted(registered_handlers())
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_template(api, entity) -> tuple[list[str], list[list[str]]]:
    response = api.get(f"/v1/batch/{entity}/template.csv")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{entity}-template.csv"'
    header, *rows = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
    return header, rows


def excel_template(api, entity):
    response = api.get(f"/v1/batch/templates/excel/{entity}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == f'attachment; filename="{entity}-template.xlsx"'
    return load_workbook(io.BytesIO(response.content))


def list_values(workbook) -> dict[str, list]:
    """The hidden Lists sheet: {list heading: its values}."""
    sheet = workbook["Lists"]
    return {
        column[0].value: [cell.value for cell in column[1:] if cell.value is not None]
        for column in sheet.iter_cols()
    }


@pytest.mark.parametrize("entity", ENTITIES)
def test_every_entity_has_a_csv_template_of_its_columns_and_an_example(api, entity):
    header, rows = csv_template(api, entity)

    layout = layout_for(get_handler(entity))
    assert header == [c.name for c in layout.template_columns if not c.computed]
    assert rows and all(len(row) == len(header) for row in rows)


@pytest.mark.parametrize("entity", ENTITIES)
def test_every_entity_has_an_excel_template_that_opens(api, entity):
    workbook = excel_template(api, entity)

    assert workbook.sheetnames == ["Instructions", "Data", "Lists"]
    headers = [cell.value for cell in workbook["Data"][1] if cell.value]
    assert headers == [c.name for c in layout_for(get_handler(entity)).template_columns]


@pytest.mark.parametrize("entity", ["items", "invoices", "bills"])
def test_the_excel_lists_hold_the_companys_tax_codes_not_another_companys(
    api, company, other_company, entity
):
    TaxCode.objects.create(company=company, code="OURS-5", name="Ours", rate=5)
    TaxCode.objects.create(company=other_company, code="THEIRS-9", name="Theirs", rate=9)

    lists = list_values(excel_template(api, entity))

    own = set(TaxCode.objects.for_company(company).values_list("code", flat=True))
    assert set(lists["taxCode"]) == own
    assert "OURS-5" in lists["taxCode"] and "THEIRS-9" not in lists["taxCode"]


def test_the_invoice_template_lists_the_companys_customers_and_items(api, company, other_company):
    mine = builders.customer(company)
    builders.item(company, code="MINE-1")
    builders.item(other_company, code="THEIRS-1")
    builders.customer(other_company, name="Theirs", status="inactive")

    workbook = excel_template(api, "invoices")

    lists = list_values(workbook)
    assert lists["customerNumber"] == [mine.number]
    assert lists["itemCode"] == ["MINE-1"]
    header, (example, _) = csv_template(api, "invoices")
    assert dict(zip(header, example, strict=True))["customerNumber"] == mine.number


def test_stock_adjustment_template_lists_inventory_items_and_locations(api, company):
    builders.item(company, code="STOCKED", type="inventory")
    builders.item(company, code="LABOUR", type="service")

    lists = list_values(excel_template(api, "stock-adjustments"))

    assert lists["itemCode"] == ["STOCKED"]
    assert lists["locationCode"] == ["WH"]


def test_company_values_are_neutralised_in_both_templates(api, company):
    builders.item(company, code='=HYPERLINK("http://evil.example")')
    TaxCode.objects.create(company=company, code="+CMD", name="Hostile", rate=1)

    workbook = excel_template(api, "invoices")
    header, (example, _) = csv_template(api, "invoices")

    cells = [c for row in workbook["Lists"].iter_rows() for c in row if c.value is not None]
    assert {cell.data_type for cell in cells} == {"s"}  # no formula anywhere
    lists = list_values(workbook)
    assert "'+CMD" in lists["taxCode"]
    assert lists["itemCode"] == ['\'=HYPERLINK("http://evil.example")']
    row = dict(zip(header, example, strict=True))
    assert row["items.itemCode"] == '\'=HYPERLINK("http://evil.example")'
    assert row["items.taxCode"] == "'+CMD"


def test_templates_of_an_unknown_entity_are_404(api):
    assert api.get("/v1/batch/widgets/template.csv").status_code == 404
    response = api.get("/v1/batch/templates/excel/widgets")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_templates_need_an_api_key(client):
    assert client.get("/v1/batch/customers/template.csv").status_code == 401
    assert client.get("/v1/batch/templates/excel/customers").status_code == 401


def test_a_template_is_served_whatever_the_accept_header(api):
    response = api.get("/v1/batch/customers/template.csv", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbfoperation,")
