"""Numbers no Decimal or int can hold — an exponent past any bound, an integer of thousands of
digits — are a request's INVALID_JSON, sync and async, never a 500 or a crashed process."""

import random
import re

import pytest

from batch.api.json_stream import LONG_DIGIT_RUN, DigitRunScan
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


@pytest.mark.parametrize("seed", range(40))
def test_the_digit_run_scan_finds_exactly_the_runs_over_the_limit_however_the_body_is_cut(seed):
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randint(1, 6)):
        parts.append(b'{"a":"x' * rng.randint(0, 3))
        parts.append(
            b"7" * rng.choice([1, 11, LONG_DIGIT_RUN - 1, LONG_DIGIT_RUN, LONG_DIGIT_RUN + 1])
        )
    text = b"".join(parts)
    scan = DigitRunScan()
    start = 0
    while start < len(text):
        end = start + rng.randint(1, 3 * LONG_DIGIT_RUN)
        scan.feed(text[start:end])
        start = end

    assert scan.found == bool(re.search(rb"[0-9]{%d,}" % (LONG_DIGIT_RUN + 1), text))
