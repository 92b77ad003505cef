"""Numbers no Decimal or int can hold — an exponent past any bound, an integer of thousands of
digits — are a request's INVALID_JSON, sync and async, never a 500 or a crashed process."""

import pytest

from tests.helpers import api_client_for, make_company

pytestmark = pytest.mark.django_db

HUGE_EXPONENT = "1e99999999999999999999"
LONG_INTEGER = "9" * 5000


@pytest.mark.parametrize("number", [HUGE_EXPONENT, LONG_INTEGER], ids=["exponent", "digits"])
@pytest.mark.parametrize("run_async", [False, True], ids=["sync", "async"])
def test_a_number_no_decimal_holds_is_invalid_json(number, run_async):
    api = api_client_for(make_company())
    flag = "true" if run_async else "false"
    operation = '{"operation": "create", "data": {"name": "A", "creditLimit": ' + number + "}}"
    body = '{"operations": [' + operation + '], "options": {"async": ' + flag + "}}"

    response = api.post("/v1/batch/customers", body, content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "INVALID_JSON"


def test_a_long_run_of_digits_inside_a_string_is_still_read_as_text():
    api = api_client_for(make_company())
    data = '{"name": "Acme", "taxNumber": "' + "7" * 4500 + '"}'
    body = (
        '{"operations": [{"operation": "create", "data": '
        + data
        + '}], "options": {"async": true}}'
    )

    response = api.post("/v1/batch/customers", body, content_type="application/json")

    assert response.status_code == 202, response.content[:300]
