"""The job list fits a 1366×900 laptop screen in Chromium: no sideways scrolling of the
page, nor of the table inside its box (the admin scrolls a wide table on its own), even
with long file names and every kind of job in it."""

import io

import pytest

from batch.engine.envelope import BatchOptions
from batch.jobs.processing import process_job
from batch.models import BatchJob
from batch.services.imports import import_file
from tests.helpers import make_company, staff_user

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


def file_job(credentials, **options) -> BatchJob:
    return import_file(
        company=credentials.company,
        user=staff_user(credentials),
        entity="customers",
        file=io.BytesIO(CSV),
        kind="csv",
        options=BatchOptions(**options),
        source="admin",
        file_name=LONG_NAME,
    ).job


@pytest.mark.django_db(transaction=True)
def test_the_job_list_fits_1366_pixels(live_server, browser, artifacts):
    credentials = make_company("Laptop Trading Sdn Bhd")
    for _ in range(3):
        file_job(credentials)
    queued = file_job(credentials, run_async=True)
    process_job(queued.pk)
    file_job(credentials, validate_only=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", credentials.username)
    page.fill("#id_password", credentials.password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    widths = {}
    for label, query in (("default", ""), ("every kind", "?kind=all")):
        page.goto(f"{live_server.url}/admin/batch/batchjob/{query}")
        page.wait_for_selector("#result_list")
        widths[label] = page.evaluate(MEASURE)
    page.screenshot(path=str(artifacts / "job-list-1366.png"), full_page=True)
    rows = page.locator("#result_list tbody tr").count()
    last_cell = page.locator("#result_list tbody tr").first.locator("td").last.bounding_box()
    context.close()

    assert rows == 5
    for label, sizes in widths.items():
        assert sizes["page"] <= sizes["window"], (label, sizes)
        assert sizes["table"] <= sizes["box"], (label, sizes)
    assert last_cell["x"] + last_cell["width"] <= 1366
