"""The migration workbook (docs/api.md "The migration workbook"): one sheet per entity whose
reference columns offer what the other sheets hold, uploaded back as one request whose
errors name their sheet and row; a zip of one CSV per entity does the same."""

import csv
import datetime
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from batch.engine.composite import ENTITY_ORDER
from batch.engine.handlers import get_handler
from batch.files.columns import layout_for
from batch.models import BatchJob
from inventory.models import Item, StockLevel
from ledger.models import Account, Customer, DocumentStatus, Invoice, Payment
from tests.books import assert_books_sound
from tests.helpers import finished

TEMPLATE = "/v1/batch/templates/excel/migration"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Arrange -------------------------------------------------------------------------------------


def migration_rows(*, bad_line: bool = False) -> dict[str, list[dict]]:
    """A small migration keyed by sheet: an income account, two customers known by their
    external ids, a service item posting to that account and a stocked item, stock for it,
    two invoices naming customers and items by those keys, a payment allocating to an
    invoice by its number. `bad_line`: the second invoice's second line (row 4 of its
    sheet) has a quantity that is no number."""
    trade = {"items.taxCode": "SST"}
    return {
        "accounts": [{"code": "4150", "name": "Migrated consulting", "type": "income"}],
        "customers": [
            {"name": "Acme Trading", "email": "acme@example.com", "externalId": "crm-acme"},
            {"name": "Beta Sdn Bhd", "email": "beta@example.com", "externalId": "crm-beta"},
        ],
        "items": [
            {
                "itemCode": "CONSULT-M",
                "name": "Consulting hour",
                "type": "service",
                "salesAccountCode": "4150",
            },
            {"itemCode": "BOLT-M", "name": "Bolt", "type": "inventory", "costPrice": "2.00"},
        ],
        "stock-adjustments": [
            {
                "itemCode": "BOLT-M",
                "locationCode": "WH",
                "adjustmentType": "increase",
                "quantity": "50",
                "unitCost": "2.00",
                "reason": "Opening stock",
                "date": "2024-01-01",
            }
        ],
        "invoices": [
            {
                "reference": "M-1",
                "invoiceNumber": "MIG-0001",
                "customerExternalId": "crm-acme",
                "invoiceDate": "2024-01-15",
                "items.itemCode": "CONSULT-M",
                "items.quantity": "3",
                "items.unitPrice": "100.00",
                **trade,
            },
            {
                "reference": "M-2",
                "invoiceNumber": "MIG-0002",
                "customerExternalId": "crm-beta",
                "invoiceDate": "2024-01-16",
                "items.itemCode": "CONSULT-M",
                "items.quantity": "1",
                "items.unitPrice": "80.00",
                **trade,
            },
            {
                "reference": "M-2",
                "items.itemCode": "BOLT-M",
                "items.locationCode": "WH",
                "items.quantity": "many" if bad_line else "10",
                "items.unitPrice": "5.00",
                **trade,
            },
        ],
        "payments": [
            {
                "reference": "R-1",
                "customerExternalId": "crm-acme",
                "paymentDate": "2024-01-20",
                "amount": "100.00",
                "method": "bank_transfer",
                "allocations.invoiceNumber": "MIG-0001",
                "allocations.amount": "100.00",
            }
        ],
    }


def typed(text: str):
    """What a person types into a cell: real dates and numbers, text otherwise."""
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


def template(api):
    response = api.get(TEMPLATE)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="migration-template.xlsx"'
    return load_workbook(io.BytesIO(response.content))


def headers(sheet) -> dict[str, str]:
    """{column name: column letter} of a sheet's header row."""
    return {cell.value: cell.column_letter for cell in sheet[1] if cell.value}


def filled_workbook(api, rows: dict[str, list[dict]]) -> bytes:
    """The migration template from the API, filled in as a person would."""
    workbook = template(api)
    for entity, sheet_rows in rows.items():
        sheet = workbook[entity]
        letters = headers(sheet)
        for row_number, row in enumerate(sheet_rows, start=2):
            for name, value in row.items():
                sheet[f"{letters[name]}{row_number}"] = typed(value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def zipped_csvs(rows: dict[str, list[dict]], *, folder: str = "") -> bytes:
    """One <entity>.csv per sheet, with the template's headers, zipped."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entity, sheet_rows in rows.items():
            names = [c.name for c in layout_for(get_handler(entity)).template_columns]
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=names, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(sheet_rows)
            archive.writestr(f"{folder}{entity}.csv", text.getvalue())
    return out.getvalue()


def migration_file(api, kind: str, rows) -> bytes:
    return filled_workbook(api, rows) if kind == "xlsx" else zipped_csvs(rows)


# Act -----------------------------------------------------------------------------------------


def upload(api, kind: str, content: bytes, *, status=200, options=None) -> dict:
    path = "/v1/batch/import-excel" if kind == "xlsx" else "/v1/batch/import-csv"
    name = "migration.xlsx" if kind == "xlsx" else "migration.zip"
    form = {"file": SimpleUploadedFile(name, content)}
    if options is not None:
        form["options"] = json.dumps(options)
    response = api.post(path, form, format="multipart")
    assert response.status_code == status, response.content
    return response.json()


def results(body) -> list[dict]:
    return body["data"]["results"]


# The template --------------------------------------------------------------------------------


def test_the_template_has_a_sheet_per_entity_in_the_order_a_migration_runs(api):
    workbook = template(api)

    assert workbook.sheetnames == ["Instructions", *ENTITY_ORDER, "Lists"]
    assert workbook["Lists"].sheet_state == "hidden"
    for entity in ENTITY_ORDER:
        expected = [c.name for c in layout_for(get_handler(entity)).template_columns]
        assert list(headers(workbook[entity])) == expected, entity
    instructions = " ".join(
        str(cell.value) for row in workbook["Instructions"].iter_rows() for cell in row
    )
    assert "accounts, customers, suppliers, items, stock-adjustments, invoices" in instructions


def validation_of(sheet, letter: str) -> str:
    """The list formula of the validation over a column (from row 2 down)."""
    for validation in sheet.data_validations.dataValidation:
        if any(str(cell_range).startswith(f"{letter}2:") for cell_range in validation.sqref.ranges):
            return validation.formula1
    raise AssertionError(f"no validation on column {letter} of {sheet.title}")


def test_reference_columns_offer_what_the_other_sheets_hold(api):
    workbook = template(api)
    customers, invoices, payments = (
        workbook[name] for name in ("customers", "invoices", "payments")
    )

    offered = {
        (invoices, "customerExternalId"): ("customers", headers(customers)["externalId"]),
        (invoices, "customerNumber"): ("customers", headers(customers)["customerNumber"]),
        (invoices, "items.itemCode"): ("items", headers(workbook["items"])["itemCode"]),
        (payments, "allocations.invoiceNumber"): ("invoices", headers(invoices)["invoiceNumber"]),
        (workbook["items"], "salesAccountCode"): (
            "accounts",
            headers(workbook["accounts"])["code"],
        ),
    }
    for (sheet, column), (source, letter) in offered.items():
        formula = validation_of(sheet, headers(sheet)[column])
        assert formula == f"'{source}'!${letter}$2:${letter}$5001", (sheet.title, column)
    # The company's own codes stay on the hidden sheet, as in the per-entity templates.
    tax_codes = validation_of(invoices, headers(invoices)["items.taxCode"])
    assert tax_codes in workbook.defined_names


# Uploading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["xlsx", "zip"])
def test_a_filled_migration_creates_every_record_in_one_request_and_the_books_are_sound(
    api, company, kind
):
    body = upload(api, kind, migration_file(api, kind, migration_rows()))

    entities = [result["entity"] for result in results(body)]
    assert entities == [
        "accounts",
        "customers",
        "customers",
        "items",
        "items",
        "stock-adjustments",
        "invoices",
        "invoices",
        "payments",
    ]
    assert [result["index"] for result in results(body)] == list(range(9))
    assert {result["status"] for result in results(body)} == {"created"}, results(body)
    assert body["data"]["summary"]["created"] == 9
    acme = Customer.objects.for_company(company).get(external_id="crm-acme")
    first, second = Invoice.objects.for_company(company).filter(number__startswith="MIG-")
    assert (first.number, first.customer, first.status) == (
        "MIG-0001",
        acme,
        DocumentStatus.PARTIALLY_PAID,
    )
    assert second.customer.external_id == "crm-beta" and second.lines.count() == 2
    consulting = Item.objects.for_company(company).get(item_code="CONSULT-M")
    assert consulting.sales_account == Account.objects.for_company(company).get(code="4150")
    payment = Payment.objects.for_company(company).get()
    assert payment.amount == Decimal("100.00")
    bolts = StockLevel.objects.for_company(company).get(item__item_code="BOLT-M")
    assert bolts.quantity == Decimal("40")  # 50 in, 10 sold
    assert BatchJob.objects.for_company(company).get().entity == "batch"
    assert_books_sound(company)


@pytest.mark.parametrize(("kind", "sheet"), [("xlsx", "invoices"), ("zip", "invoices.csv")])
def test_a_bad_row_is_reported_with_its_sheet_and_row_and_the_rest_goes_in(
    api, company, kind, sheet
):
    body = upload(api, kind, migration_file(api, kind, migration_rows(bad_line=True)))

    failed = [result for result in results(body) if not result["success"]]
    assert len(failed) == 1, failed
    assert failed[0]["entity"] == "invoices" and failed[0]["index"] == 7
    assert failed[0]["error"]["context"]["sheet"] == sheet
    assert failed[0]["error"]["context"]["rowNumber"] == 4  # the second invoice's second line
    assert body["data"]["summary"]["created"] == 8
    assert list(Invoice.objects.for_company(company).values_list("number", flat=True)) == [
        "MIG-0001"
    ]
    assert Payment.objects.for_company(company).count() == 1
    assert_books_sound(company)


def test_a_workbook_of_one_sheet_runs_like_the_entitys_own_import(api, company):
    rows = {"customers": migration_rows()["customers"]}

    body = upload(api, "xlsx", filled_workbook(api, rows))

    assert [result["status"] for result in results(body)] == ["created", "created"]
    assert Customer.objects.for_company(company).filter(external_id__startswith="crm-").count() == 2


def test_a_zip_reads_csvs_in_a_folder_by_their_own_names(api, company):
    rows = {"customers": migration_rows()["customers"]}

    body = upload(api, "zip", zipped_csvs(rows, folder="../export/"))

    assert [result["status"] for result in results(body)] == ["created", "created"]


# Refusals ------------------------------------------------------------------------------------


def refusal(body) -> str:
    assert body["success"] is False
    return body["error"]["code"]


def test_a_sheet_named_after_no_entity_is_refused_naming_it(api, company):
    workbook = load_workbook(io.BytesIO(filled_workbook(api, migration_rows())))
    workbook.create_sheet("Invoice lines")["A1"] = "reference"
    out = io.BytesIO()
    workbook.save(out)

    body = upload(api, "xlsx", out.getvalue(), status=400)

    assert refusal(body) == "INVALID_FILE"
    assert "Invoice lines" in body["error"]["message"]
    assert not Customer.objects.for_company(company).filter(external_id="crm-acme").exists()


def test_a_sheet_whose_columns_are_not_its_entitys_is_refused_naming_the_sheet(api, company):
    content = zipped_csvs({"customers": migration_rows()["customers"]})
    with zipfile.ZipFile(buffer := io.BytesIO(content), "a") as archive:
        archive.writestr("items.csv", "itemCode,colour\nX-1,red\n")

    body = upload(api, "zip", buffer.getvalue(), status=400)

    assert refusal(body) == "INVALID_MAPPING"
    assert body["error"]["message"].startswith("Sheet 'items.csv': ")
    assert not Customer.objects.for_company(company).filter(external_id="crm-acme").exists()


def test_a_zip_bomb_is_refused_before_it_is_inflated(api, company):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("customers.csv", "name\n" + "a" * 20_000_000)

    body = upload(api, "zip", out.getvalue(), status=400)

    assert refusal(body) == "INVALID_FILE"
    assert "zip bomb" in body["error"]["message"]


def test_a_workbook_sent_as_a_zip_of_csvs_is_refused_clearly(api, company):
    body = upload(api, "zip", filled_workbook(api, migration_rows()), status=400)

    assert refusal(body) == "INVALID_FILE"
    assert "import-excel" in body["error"]["message"]


def test_more_operations_than_an_async_job_takes_is_refused_and_nothing_goes_in(
    api, company, settings
):
    settings.BATCH_ASYNC_MAX_OPERATIONS = 4

    body = upload(api, "xlsx", filled_workbook(api, migration_rows()), status=400)

    assert refusal(body) == "BATCH_TOO_LARGE"
    assert not Customer.objects.for_company(company).filter(external_id="crm-acme").exists()


@pytest.mark.django_db(transaction=True)
def test_a_workbook_larger_than_a_sync_request_runs_as_one_job(
    api, company, settings, celery_worker
):
    settings.BATCH_COMPOSITE_SYNC_MAX_OPERATIONS = 4  # the workbook has more: a job

    accepted = upload(api, "xlsx", filled_workbook(api, migration_rows()), status=202)
    done = finished(api, accepted["data"]["jobId"])

    assert (done["status"], done["entity"], done["source"]) == ("completed", "batch", "excel")
    assert done["progress"]["failedRecords"] == 0
    assert Customer.objects.for_company(company).filter(external_id="crm-acme").exists()
    assert_books_sound(company)


def test_validate_only_checks_the_whole_migration_and_keeps_nothing(api, company):
    content = filled_workbook(api, migration_rows())

    body = upload(api, "xlsx", content, options={"validateOnly": True})

    assert {result["status"] for result in results(body)} == {"validated"}
    assert not Invoice.objects.for_company(company).filter(number__startswith="MIG-").exists()
