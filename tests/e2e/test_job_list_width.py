"""The job list fits a 1366×900 laptop screen in Chromium: no sideways scrolling of the
page, nor of the table inside its box (the admin scrolls a wide table on its own), even
with long file names and every kind of job in it."""

import pytest
from django.contrib.auth import get_user_model

from batch.jobs.processing import process_job
from tests.helpers import admin_file_job, make_company
from tests.workers import stop_shared_worker

LONG_NAME = "customers export from the old system - october 2026 - final (corrected) v3.csv"
CSV = b"name,email\r\nAcme,acme@example.com\r\nBad,not-an-email\r\n"
MEASURE = """() => {
    const table = document.getElementById("result_list");
    return {
        page: document.documentElement.scrollWidth,
        window: window.innerWidth,
        table: table.scrollWidth,
        box: table.parentElement.clientWidth,
    };
}"""


def measured_list(browser, live_server, artifacts, username, password, name) -> dict:
    """Log in at 1366×900 and measure the job list, by default and with every kind."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    measured = {}
    for label, query in (("default", ""), ("every kind", "?kind=all")):
        page.goto(f"{live_server.url}/admin/batch/batchjob/{query}")
        page.wait_for_selector("#result_list")
        sizes = page.evaluate(MEASURE)
        last_cell = page.locator("#result_list tbody tr").first.locator("td").last
        box = last_cell.bounding_box()
        sizes["lastCellRight"] = box["x"] + box["width"]
        sizes["rows"] = page.locator("#result_list tbody tr").count()
        measured[label] = sizes
    page.screenshot(path=str(artifacts / f"job-list-1366-{name}.png"), full_page=True)
    context.close()
    return measured


@pytest.mark.django_db(transaction=True)
def test_the_job_list_fits_1366_pixels(live_server, browser, artifacts, _workers):
    stop_shared_worker(_workers)  # its async job is processed here, not by the shared worker
    credentials = make_company("Syarikat Perdagangan Antarabangsa Laptop Trading Sdn Bhd")
    for _ in range(3):
        admin_file_job(credentials, CSV, LONG_NAME)
    queued = admin_file_job(credentials, CSV, LONG_NAME, run_async=True)
    process_job(queued.pk)
    admin_file_job(credentials, CSV, LONG_NAME, validate_only=True)
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-test-123")

    staff = measured_list(
        browser, live_server, artifacts, credentials.username, credentials.password, "staff"
    )
    superuser = measured_list(browser, live_server, artifacts, "root", "pw-test-123", "superuser")

    assert staff["default"]["rows"] == 4  # the preview is left out …
    assert staff["every kind"]["rows"] == 5  # … until asked for
    for who, measured in (("staff", staff), ("superuser", superuser)):
        for label, sizes in measured.items():
            assert sizes["page"] <= sizes["window"], (who, label, sizes)
            assert sizes["table"] <= sizes["box"], (who, label, sizes)
            assert sizes["lastCellRight"] <= 1366, (who, label, sizes)
