import pytest

from tests.helpers import make_company


@pytest.mark.django_db(transaction=True)
def test_a_staff_user_logs_in_to_the_admin(live_server, page, artifacts):
    credentials = make_company("Browser Sdn Bhd")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", credentials.username)
    page.fill("#id_password", credentials.password)
    page.click("input[type=submit]")

    page.wait_for_selector("#site-name")
    assert "Customers" in page.content()
    page.screenshot(path=str(artifacts / "admin-index.png"))
