"""A bookkeeper's round trip in a real browser: download the customers Excel template from
the admin, fill it (one row wrong), upload it, keep the proposed columns, see the preview
flag the bad row, confirm, follow the import job to its log, and find the good customers in
the changelist."""

import openpyxl
import pytest

from batch.jobs.processing import process_job
from batch.models import BatchJob
from ledger.models import Customer
from tests.helpers import make_company


def fill_template(path, rows) -> None:
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Data"]
    sheet.delete_rows(2, sheet.max_row)  # the template's example, replaced by `rows`
    headers = {cell.value: cell.column for cell in sheet[1] if cell.value}
    for offset, values in enumerate(rows, start=2):
        for header, value in values.items():
            sheet.cell(row=offset, column=headers[header], value=value)
    workbook.save(path)


@pytest.mark.django_db(transaction=True)
def test_a_bookkeeper_imports_a_filled_excel_template(live_server, page, artifacts, tmp_path):
    credentials = make_company("Kedai Buku Sdn Bhd")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", credentials.username)
    page.fill("#id_password", credentials.password)
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/ledger/customer/")

    page.click("a.import_link")
    with page.expect_download() as download:
        page.click("#template-xlsx")
    template = tmp_path / "customers.xlsx"
    download.value.save_as(template)
    fill_template(
        template,
        [
            {"name": "Acme Corporation", "email": "billing@acme.com", "creditLimit": 10000},
            {"name": "Broken Row Trading", "email": "not-an-email", "creditLimit": 500},
            {"name": "Tech Solutions Sdn Bhd", "email": "accounts@tech.my", "paymentTerms": 45},
        ],
    )
    page.set_input_files("#id_import_file", str(template))
    page.click("input[value=Upload]")

    page.wait_for_selector("#import-mapping")
    assert page.locator("#id_column-0").input_value() == "operation"
    page.click("text=Preview import")

    page.wait_for_selector("#import-preview")
    page.screenshot(path=str(artifacts / "admin-import-preview.png"), full_page=True)
    bad = page.locator("#import-preview tr.row-error")
    assert bad.count() == 1
    assert bad.first.get_attribute("data-row") == "3"  # header is row 1
    assert "INVALID_EMAIL" in bad.first.inner_text()
    assert "not-an-email" in bad.first.inner_text()
    assert page.locator("#import-preview tr.row-ok").count() == 2
    assert not Customer.objects.filter(company=credentials.company).exists()

    page.click("text=Confirm import")

    page.wait_for_selector("#job-summary")
    process_job(BatchJob.objects.get(kind="import", company=credentials.company).pk)
    page.reload()
    log = page.locator("#import-log-table").inner_text()
    assert "not-an-email" in log and "INVALID_EMAIL" in log
    page.goto(f"{live_server.url}/admin/ledger/customer/")
    page.wait_for_selector("#result_list")
    changelist = page.locator("#result_list").inner_text()
    assert "Acme Corporation" in changelist
    assert "Tech Solutions Sdn Bhd" in changelist
    assert "Broken Row Trading" not in changelist
    names = set(Customer.objects.filter(company=credentials.company).values_list("name", flat=True))
    assert names == {"Acme Corporation", "Tech Solutions Sdn Bhd"}
    page.screenshot(path=str(artifacts / "admin-import-done.png"), full_page=True)
