"""The failed rows of a migration (docs/api.md "The migration workbook"): a workbook with a
sheet per entity of the rows that did not go in and why, which corrected and uploaded again
puts the rest in — naming what went in the first time by its key or, for a "$ref:", its id."""

import io

import pytest
import simplejson
from openpyxl import load_workbook

from batch.models import BatchJob
from ledger.models import Customer, Invoice
from tests.batch.api.test_migration_workbook import (
    XLSX,
    filled_workbook,
    headers,
    migration_rows,
    results,
    upload,
)
from tests.batch.engine.test_composite import TODAY, customer, invoice, op
from tests.batch.engine.test_composite import post_composite as post_sync
from tests.books import assert_books_sound
from tests.helpers import admin_url, staff_user

pytestmark = pytest.mark.django_db


def failed_rows(api, batch_id: str):
    response = api.get(f"/v1/batch/jobs/{batch_id}/results", {"format": "xlsx"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == f'attachment; filename="{batch_id}-failed.xlsx"'
    return load_workbook(io.BytesIO(response.content))


def rows_of(sheet) -> list[dict]:
    names = [cell.value for cell in sheet[1]]
    return [
        {name: value for name, value in zip(names, row, strict=True) if value is not None}
        for row in sheet.iter_rows(min_row=2, values_only=True)
    ]


def saved(workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_migrations_failed_rows_corrected_and_uploaded_again_put_the_rest_in(api, company):
    rows = migration_rows(bad_line=True)  # the second invoice's second line: quantity "many"
    rows["customers"][1]["email"] = "beta-at-example"  # Beta fails, and so its invoice
    first = upload(api, "xlsx", filled_workbook(api, rows))
    failed = sorted(r["referenceId"] or r["entity"] for r in results(first) if not r["success"])
    assert len(failed) == 2, failed  # Beta, and the second invoice (its line and customer)

    workbook = failed_rows(api, first["data"]["batchId"])

    assert workbook.sheetnames == ["Instructions", "customers", "invoices"]
    [beta] = rows_of(workbook["customers"])
    assert (beta["name"], beta["errorCode"]) == ("Beta Sdn Bhd", "VALIDATION_ERROR")
    assert beta["rowNumber"] == 3
    lines = rows_of(workbook["invoices"])
    assert [line.get("items.quantity") for line in lines] == ["1", "many"]
    assert lines[0]["customerExternalId"] == "crm-beta" and lines[0]["rowNumber"] == 4
    # Corrected as a person would, and uploaded again.
    customers, invoices = workbook["customers"], workbook["invoices"]
    customers[f"{headers(customers)['email']}2"] = "beta@example.com"
    invoices[f"{headers(invoices)['items.quantity']}3"] = "10"
    again = upload(api, "xlsx", saved(workbook))

    assert {r["status"] for r in results(again)} == {"created"}, results(again)
    assert Customer.objects.for_company(company).count() == 2  # Acme not made again
    beta = Customer.objects.for_company(company).get(external_id="crm-beta")
    second = Invoice.objects.for_company(company).get(number="MIG-0002")
    assert second.customer == beta and second.lines.count() == 2
    assert_books_sound(company)


def test_a_ref_to_what_went_in_is_its_id_and_one_to_what_did_not_stays(api, company):
    operations = [
        customer("c0", name="Made"),
        customer("c1", name="Not Made", email="nope"),
        op("invoices", "i0", {**invoice("x", "c0")["data"], "invoiceDate": "someday"}),
        invoice("i1", "c1"),
    ]
    first = post_sync(api, operations)["data"]
    made = Customer.objects.for_company(company).get(name="Made")

    workbook = failed_rows(api, first["batchId"])

    by_reference = {row["referenceId"]: row for row in rows_of(workbook["invoices"])}
    assert by_reference["i0"]["customerId"] == made.public_id
    assert by_reference["i1"]["customerId"] == "$ref:c1"
    assert by_reference["i1"]["errorCode"] == "DEPENDENCY_FAILED"
    sheet = workbook["customers"]
    sheet[f"{headers(sheet)['email']}2"] = "fixed@example.com"
    sheet = workbook["invoices"]
    sheet[f"{headers(sheet)['invoiceDate']}2"] = TODAY
    again = upload(api, "xlsx", saved(workbook))

    assert {r["status"] for r in results(again)} == {"created"}, results(again)
    owners = Invoice.objects.for_company(company).values_list("customer__name", flat=True)
    assert sorted(owners) == ["Made", "Not Made"]
    assert Customer.objects.for_company(company).count() == 2


def test_each_batch_has_its_own_format_of_failed_rows(api):
    composite = post_sync(api, [customer("c0", email="nope")])["data"]["batchId"]
    single = api.post(
        "/v1/batch/customers",
        simplejson.dumps({"operations": [{"operation": "create", "data": {"name": "A"}}]}),
        content_type="application/json",
    ).json()["data"]["batchId"]

    as_csv = api.get(f"/v1/batch/jobs/{composite}/results", {"format": "csv"})
    as_xlsx = api.get(f"/v1/batch/jobs/{single}/results", {"format": "xlsx"})

    assert as_csv.status_code == 400 and "?format=xlsx" in as_csv.json()["error"]["message"]
    assert as_xlsx.status_code == 400 and "?format=csv" in as_xlsx.json()["error"]["message"]


def test_a_migration_where_everything_went_in_says_so(api):
    batch_id = post_sync(api, [customer("c0")])["data"]["batchId"]

    workbook = failed_rows(api, batch_id)

    assert workbook.sheetnames == ["Instructions"]
    assert "there is nothing to correct" in workbook["Instructions"]["A1"].value


def test_an_operation_naming_no_entity_is_listed_in_the_instructions(api):
    operations = [op("widgets", "w0", {"name": "Gadget"}), customer("c0", email="nope")]
    batch_id = post_sync(api, operations)["data"]["batchId"]

    workbook = failed_rows(api, batch_id)

    assert workbook.sheetnames == ["Instructions", "customers"]
    lines = [row[0] for row in workbook["Instructions"].iter_rows(values_only=True)]
    assert lines[-1] == "Not here, as they name no entity: operations[0]."


def test_the_admin_offers_the_workbook(api, client, credentials):
    batch_id = post_sync(api, [customer("c0", email="nope")])["data"]["batchId"]
    job = BatchJob.objects.get(public_id=batch_id)
    client.force_login(staff_user(credentials))

    page = client.get(admin_url(BatchJob, "change", job.pk)).content.decode()
    download = client.get(admin_url(BatchJob, "failed_rows", job.pk))

    assert "Download failed rows (Excel)" in page
    assert download["Content-Type"] == XLSX
    workbook = load_workbook(io.BytesIO(download.content))
    assert [row["errorCode"] for row in rows_of(workbook["customers"])] == ["VALIDATION_ERROR"]
