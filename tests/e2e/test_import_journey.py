"""Issue #13's whole journey in Chromium at 1366×900, as a bookkeeper makes it: a customers
CSV from their old system (its own headers), the columns proposed and two transformations
chosen, saved as a mapping profile; 2,000 rows — over one batch, so a preview job with live
progress — with 26 bad rows; confirm; the import job's progress and log; the failed rows
downloaded in the file's own columns, fixed, uploaded again, the profile proposed again;
every customer in exactly once. A real Celery worker runs the jobs. Screenshots of each
step: test-artifacts/journey-*.png."""

import csv
import io
from decimal import Decimal

import pytest

from batch.models import BatchJob, JobKind, MappingProfile
from ledger.models import Customer
from tests.helpers import make_company

ROWS = 2_000
HEADERS = ["Customer Name", "E-mail", "Phone No.", "Credit Limit (RM)", "City", "Country"]
PROPOSED = ["name", "email", "phone", "creditLimit", "address.city", "address.country"]
BAD_EMAILS = range(100, ROWS, 125)  # 16 rows: "not-an-email-…"
BAD_LIMITS = range(160, ROWS, 200)  # 10 rows: "1,500.555", a sen too fine
PROFILE = "Old system customers"
FINISHED = 60_000  # ms a job may take on a loaded 2-core machine


def old_system_csv() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    for n in range(ROWS):
        email = f"not-an-email-{n}" if n in BAD_EMAILS else f"customer{n}@example.com"
        limit = "1,500.555" if n in BAD_LIMITS else f"{1000 + n:,}.00"
        country = "Singapore" if n % 3 == 0 else "Malaysia"
        writer.writerow([f"Customer {n:04d}", email, f"+6012{n:07d}", limit, "Ipoh", country])
    return buffer.getvalue()


def fixed(failed_rows: str) -> str:
    """The downloaded failed rows with their bad cells corrected, as a person does in Excel."""
    rows = list(csv.DictReader(io.StringIO(failed_rows)))
    for row in rows:
        if row["E-mail"].startswith("not-an-email-"):
            row["E-mail"] = row["E-mail"].replace("not-an-email-", "fixed") + "@example.com"
        if row["Credit Limit (RM)"] == "1,500.555":
            row["Credit Limit (RM)"] = "1,500.55"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def shot(page, artifacts, step: str) -> None:
    page.screenshot(path=str(artifacts / f"journey-{step}.png"), full_page=True)


def upload(page, live_server, path) -> None:
    page.goto(f"{live_server.url}/admin/ledger/customer/")
    page.click("a.import_link")
    page.set_input_files("#id_import_file", str(path))
    page.click("input[value=Upload]")
    page.wait_for_selector("#import-mapping")


def mapping_of(page) -> tuple[list[str], list[str]]:
    fields = [page.locator(f"#id_column-{i}").input_value() for i in range(len(HEADERS))]
    transforms = [page.locator(f"#id_transform-{i}").input_value() for i in range(len(HEADERS))]
    return fields, transforms


def finished_job(page, live_server, artifacts, step: str) -> str:
    """From the job page, follow its progress to the end; the outcome badge's text."""
    page.click("#job-progress-link")
    page.wait_for_selector("#job-progress")
    page.wait_for_selector("#job-outcome", timeout=FINISHED)
    shot(page, artifacts, step)
    outcome = page.locator("#job-outcome").inner_text()
    page.click("text=Job details")
    page.wait_for_selector("#job-summary")
    return outcome


@pytest.mark.django_db(transaction=True)
def test_a_bookkeeper_imports_2000_customers_fixes_the_failed_rows_and_imports_them(
    live_server, browser, artifacts, tmp_path, celery_worker
):
    credentials = make_company("Kedai Runcit Sdn Bhd")
    context = browser.new_context(accept_downloads=True, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", credentials.username)
    page.fill("#id_password", credentials.password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    original = tmp_path / "old-system-customers.csv"
    original.write_text(old_system_csv(), encoding="utf-8")

    # The columns: proposed from the file's own headers, beside sample values.
    upload(page, live_server, original)
    fields, transforms = mapping_of(page)
    assert fields == PROPOSED
    assert transforms == [""] * len(HEADERS)
    assert "customer0@example.com" in page.locator("#import-mapping").inner_text()
    assert page.locator("#profile-used").count() == 0
    page.select_option("#id_transform-3", "number")  # "1,000.00" → 1000.00
    page.select_option("#id_transform-5", "country")  # "Malaysia" → MY
    page.fill("#id_profile_name", PROFILE)
    shot(page, artifacts, "1-mapping")
    page.click("text=Preview import")

    # The preview: over one batch, so checked in the background with live progress.
    page.wait_for_selector("#preview-progress, #import-totals")
    assert (
        f"Mapping profile \u201c{PROFILE}\u201d saved." in page.locator(".messagelist").inner_text()
    )
    if page.locator("#preview-progress").count():  # it may already have finished
        assert page.locator("#preview-total").inner_text() == f"{ROWS}"
        assert "rows checked" in page.locator("#preview-progress").inner_text()
    shot(page, artifacts, "2-preview-progress")
    page.wait_for_selector("#import-totals", timeout=FINISHED)
    bad = len(BAD_EMAILS) + len(BAD_LIMITS)
    assert page.locator(".total-create").inner_text() == f"{ROWS - bad}"
    assert page.locator(".total-fail").inner_text() == f"{bad}"
    assert page.locator("#import-preview tbody tr").count() == 100  # a page of rows
    assert page.locator("#preview-pages").inner_text().split()[-1] == f"{ROWS // 100}"
    page.click("#only-errors")
    page.wait_for_selector("#all-rows")
    errors = page.locator("#import-preview tr.row-error")
    assert errors.count() == bad
    shown = page.locator("#import-preview").inner_text()
    assert "not-an-email-100" in shown and "INVALID_EMAIL" in shown
    assert "1,500.555" in shown  # the cell as typed, not the 1500.555 it was read as
    shot(page, artifacts, "3-preview-errors")
    assert not Customer.objects.filter(company=credentials.company).exists()
    preview = BatchJob.objects.get(company=credentials.company, kind=JobKind.PREVIEW)
    assert preview.total_records == ROWS and preview.mode == "async"

    # Confirm: imported as a job; its progress; its outcome; its log.
    page.click("text=Confirm import")
    page.wait_for_selector("#job-summary")
    assert "Importing old-system-customers.csv as job" in page.locator(".messagelist").inner_text()
    assert finished_job(page, live_server, artifacts, "4-import-progress") == "Partially succeeded"
    assert f"{ROWS - bad} successful, {bad} failed" in page.locator("#job-summary").inner_text()
    log = page.locator("#import-log-table tbody tr")
    assert log.count() == bad
    first_limit = page.locator(f'#import-log-table tr[data-row="{BAD_LIMITS[0] + 2}"]')
    assert "1,500.555" in first_limit.inner_text() and "creditLimit" in first_limit.inner_text()
    page.select_option("select[name=log_code]", "INVALID_EMAIL")
    page.click("#import-log-filter input[type=submit]")
    page.wait_for_selector("#import-log-table")
    assert page.locator("#import-log-table tbody tr").count() == len(BAD_EMAILS)
    shot(page, artifacts, "5-import-log")

    # The failed rows, in the file's own columns, fixed and uploaded again.
    with page.expect_download() as download:
        page.click("#import-log-csv")
    failed_path = tmp_path / "failed-rows.csv"
    download.value.save_as(failed_path)
    failed_rows = failed_path.read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(failed_rows)))
    assert header[: len(HEADERS)] == HEADERS
    assert len(list(csv.DictReader(io.StringIO(failed_rows)))) == bad
    corrected = tmp_path / "failed-rows-fixed.csv"
    corrected.write_text(fixed(failed_rows), encoding="utf-8")

    upload(page, live_server, corrected)
    assert PROFILE in page.locator("#profile-used").inner_text()
    fields, transforms = mapping_of(page)
    assert fields == PROPOSED
    assert transforms == ["", "", "", "number", "", "country"]
    shot(page, artifacts, "6-mapping-again")
    page.click("text=Preview import")
    page.wait_for_selector("#import-totals", timeout=FINISHED)
    assert page.locator(".total-create").inner_text() == f"{bad}"
    assert page.locator(".total-fail").inner_text() == "0"
    shot(page, artifacts, "7-preview-fixed")
    page.click("text=Confirm import")
    page.wait_for_selector("#job-summary")
    assert finished_job(page, live_server, artifacts, "8-fixed-progress") == "Succeeded"

    # Every customer in exactly once, the transformations applied.
    customers = Customer.objects.filter(company=credentials.company)
    assert customers.count() == ROWS
    assert customers.values("name").distinct().count() == ROWS
    assert customers.get(name="Customer 0160").credit_limit == Decimal("1500.55")
    assert customers.get(name="Customer 0003").country == "SG"
    assert customers.get(name="Customer 0100").email == "fixed100@example.com"
    assert MappingProfile.objects.filter(company=credentials.company).count() == 1
    page.goto(f"{live_server.url}/admin/batch/batchjob/")
    page.wait_for_selector("#result_list")
    jobs = page.locator("#result_list tbody tr")
    assert jobs.count() == 2  # the two imports; the previews are not listed
    shot(page, artifacts, "9-job-list")
    context.close()
