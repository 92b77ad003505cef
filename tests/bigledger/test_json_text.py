"""JSON text out: orjson's speed, simplejson's exact text."""

import datetime
from decimal import Decimal

import pytest
import simplejson
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.utils.encoders import JSONEncoder

from batch.jobs.codec import ORJSON_READABLE, dumps, loads
from bigledger import json_text
from bigledger.api.renderers import DecimalJSONRenderer

RESULTS = [
    {
        "index": 0,
        "status": "created",
        "data": {
            "creditLimit": Decimal("10000.00"),
            "balance": Decimal("-0.00"),
            "rate": Decimal("1E+3"),
            "tiny": Decimal("0E-7"),
            "name": "Kedai Ünïcode 東",
            "externalId": None,
            "tags": ["a", 1, True],
        },
        "warnings": [],
    }
]


def test_decimals_are_written_digit_for_digit_as_simplejson_writes_them():
    fast = json_text.dumps(RESULTS)

    assert b'"creditLimit":10000.00,"balance":-0.00,"rate":1E+3,"tiny":0E-7' in fast
    assert simplejson.loads(fast, use_decimal=True) == RESULTS


def test_stored_text_reads_back_exactly():
    assert loads(dumps(RESULTS)) == RESULTS
    assert "Kedai Ünïcode 東" in dumps(RESULTS)  # UTF-8 itself, not \\u escapes


@pytest.mark.parametrize(
    "value",
    [2**70, "lone \ud800 surrogate", Decimal("NaN")],
    ids=["integer past 64 bits", "lone surrogate", "decimal not finite"],
)
def test_what_orjson_cannot_write_is_stored_as_simplejson_wrote_it(value):
    with pytest.raises(TypeError):
        json_text.dumps({"value": value})

    stored = dumps({"value": value})

    assert stored == simplejson.dumps({"value": value}, use_decimal=True, separators=(",", ":"))


def test_a_lone_surrogate_survives_storage_to_be_reported_as_the_records_error():
    assert loads(dumps([{"name": "a\udc00b"}])) == [{"name": "a\udc00b"}]


def test_the_api_writes_dates_and_times_as_drf_does():
    moment = datetime.datetime(2026, 11, 30, 9, 5, 1, 123456, tzinfo=datetime.UTC)
    data = {"at": moment, "on": moment.date(), "amount": Decimal("12.50")}

    rendered = DecimalJSONRenderer().render(data)

    drf = JSONEncoder()
    assert (
        rendered
        == (
            f'{{"at":"{drf.default(moment)}","on":"{drf.default(moment.date())}","amount":12.50}}'
        ).encode()
    )
    assert rendered == b'{"at":"2026-11-30T09:05:01.123456Z","on":"2026-11-30","amount":12.50}'


# Reading back: orjson where it reads what simplejson's use_decimal reads ------------------


def simplejson_reads(text: str):
    return simplejson.loads(text, use_decimal=True)


def test_text_stored_without_a_decimal_is_marked_for_orjson_and_still_json_to_any_reader():
    operations = [{"index": 0, "data": {"creditLimit": "1500.50", "terms": 30}, "ref": None}]

    stored = dumps(operations)

    assert stored.startswith(ORJSON_READABLE)
    assert simplejson_reads(stored) == operations
    assert loads(stored) == operations


def test_text_holding_a_decimal_is_read_by_simplejson_digit_for_digit():
    stored = dumps(RESULTS)

    assert not stored.startswith(ORJSON_READABLE)
    assert repr(loads(stored)) == repr(RESULTS)


def test_text_stored_before_the_mark_reads_as_it_did():
    earlier = '[{"big":18446744073709551616,"amount":1500.50,"count":3}]'

    assert repr(loads(earlier)) == repr(simplejson_reads(earlier))
    assert loads(earlier)[0]["big"] == 2**64


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**80), max_value=2**80)
        | st.decimals(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=6), children, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_any_stored_value_reads_back_as_simplejson_reads_it(value):
    stored = dumps(value)

    assert repr(loads(stored)) == repr(simplejson_reads(stored))
    assert loads(stored) == value
