"""Values a hostile (or careless) client sends: numbers in local formats, text that is not
valid Unicode, dates at the ends of the calendar, numbers too large to add up. Each is one
record's error — never a server error, never a reason a good neighbour is not written, and
never an answer or stored result that cannot be read back."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
import simplejson

from batch.engine.codes import FieldCode, RequestCode
from batch.engine.envelope import parse_json
from batch.engine.fields import Field, ListOf, Nested, Schema
from batch.engine.parsers import (
    MAX_AMOUNT,
    Date,
    FieldError,
    Integer,
    Money,
    Quantity,
    Text,
)
from bigledger.errors import RequestError
from ledger.models import Customer
from tests.helpers import create, finished, post_batch, submit

LONE_SURROGATE = "\ud800"
REPLACEMENT = "\ufffd"


def refusal(parser, value) -> FieldError:
    with pytest.raises(FieldError) as refused:
        parser(value)
    return refused.value


# Numbers: JSON strings are plain decimals ----------------------------------------------------


@pytest.mark.parametrize("text", ["1,5", "12,34", "1_000", "1,234.56", "1e3", "1.2.3", "0x10"])
def test_money_refuses_a_string_that_is_not_a_plain_decimal_and_names_it(text):
    error = refusal(Money(what="Credit limit"), text)

    assert error.code == FieldCode.INVALID_AMOUNT
    assert f"'{text}'" in error.message
    assert error.message.startswith("Credit limit must be a plain decimal number")


@pytest.mark.parametrize("text", ["1,5", "1_000", "١٢", "１２", "2e2", "Infinity", "NaN", "+-1"])
def test_quantities_and_whole_numbers_refuse_them_with_their_own_codes(text):
    quantity, terms = refusal(Quantity(), text), refusal(Integer(0, 365), text)

    assert quantity.code == terms.code == FieldCode.INVALID_NUMBER
    assert f"'{text}'" in quantity.message and f"'{text}'" in terms.message


def test_a_long_refused_value_is_shortened_in_the_message():
    error = refusal(Money(), "9" * 5000 + ",5")

    assert error.code == FieldCode.INVALID_AMOUNT
    assert len(error.message) < 200


@pytest.mark.parametrize(
    ("parser", "value", "clean"),
    [
        (Money(), " 1234.56 ", Decimal("1234.56")),
        (Money(), "+7", Decimal("7.00")),
        (Money(minimum=None), "-0.5", Decimal("-0.50")),
        (Money(), Decimal("1.5E+3"), Decimal("1500.00")),  # a JSON number may use an exponent
        (Money(), 12, Decimal("12.00")),
        (Quantity(), "007.25", Decimal("7.2500")),
        (Integer(0, 365), "30", 30),
        (Integer(0, 365), "30.0", 30),
        (Integer(0, 365), Decimal("3E+1"), 30),
    ],
    ids=repr,
)
def test_plain_decimals_and_json_numbers_are_still_taken(parser, value, clean):
    assert parser(value) == clean


def test_an_amount_is_at_most_the_documented_maximum():
    assert Money().maximum == MAX_AMOUNT == Decimal("999999999999.99")
    assert Money()("999999999999.99") == MAX_AMOUNT

    error = refusal(Money(what="Debit"), "1000000000000")

    assert error.code == FieldCode.INVALID_AMOUNT
    assert error.message == "Debit must be at most 999999999999.99."


def test_a_signed_amount_is_bounded_on_both_sides():
    assert refusal(Money(minimum=None), "-1000000000000").code == FieldCode.INVALID_AMOUNT


@pytest.mark.parametrize(
    "value",
    [Decimal("1E+999999999999999999"), Decimal("-1E+999999999999999999"), 10**5000],
    ids=["huge exponent", "negative huge exponent", "5000-digit integer"],
)
def test_numbers_far_beyond_any_column_are_refused_not_a_crash(value):
    assert refusal(Money(minimum=None), value).code == FieldCode.INVALID_AMOUNT
    assert refusal(Quantity(), value).code == FieldCode.INVALID_NUMBER
    assert refusal(Integer(0, 365), value).code == FieldCode.INVALID_NUMBER


@pytest.mark.parametrize("number", ["1e99999999999999999999", "-0.5E-99999999999999999999"])
def test_a_json_number_no_decimal_can_hold_is_invalid_json_not_a_crash(number):
    with pytest.raises(RequestError) as refused:
        parse_json(f'{{"amount": {number}}}'.encode())

    assert refused.value.code == RequestCode.INVALID_JSON
    assert number[:20] in refused.value.message


def test_json_numbers_are_still_read_exactly():
    assert parse_json(b"[1.10, 1e3, 7, -0.5E-2]") == [
        Decimal("1.10"),
        Decimal("1E+3"),
        7,
        Decimal("-0.005"),
    ]


@pytest.mark.django_db
def test_a_retry_whose_corrections_hold_such_a_number_is_invalid_json(api):
    batch_id = post_batch(api, "customers", [create({"name": ""}, "bad")])["data"]["batchId"]
    body = '{"corrections": {"bad": {"name": "Acme", "creditLimit": 1e99999999999999999999}}}'

    response = api.post(f"/v1/batch/jobs/{batch_id}/retry", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_JSON"


def test_a_huge_json_integer_sent_as_text_is_refused_as_too_long():
    assert refusal(Text(100), 10**5000).code == FieldCode.MAX_LENGTH


# Text that is not valid Unicode ---------------------------------------------------------------


def test_text_refuses_a_lone_surrogate_as_it_refuses_nul():
    error = refusal(Text(100), f"abc{LONE_SURROGATE}")

    assert error.code == FieldCode.INVALID_VALUE
    assert LONE_SURROGATE not in error.message


def test_a_lone_surrogate_is_refused_in_nested_fields_and_list_entries_under_their_path():
    schema = Schema(
        {
            "address": Nested(Schema({"city": Field(Text(50))})),
            "lines": ListOf(Schema({"description": Field(Text(50))})),
        }
    )

    _, details = schema.clean(
        {
            "address": {"city": LONE_SURROGATE},
            "lines": [{"description": "ok"}, {"description": LONE_SURROGATE}],
        }
    )

    assert {(detail.field, detail.code) for detail in details} == {
        ("address.city", FieldCode.INVALID_VALUE),
        ("lines[1].description", FieldCode.INVALID_VALUE),
    }


# Dates: bounded, so no date arithmetic can leave the calendar ---------------------------------


def test_the_date_parser_carries_its_bounds():
    parser = Date()

    assert (parser.minimum, parser.maximum) == (
        datetime.date(1900, 1, 1),
        datetime.date(2999, 12, 31),
    )
    assert parser("2999-12-31") == datetime.date(2999, 12, 31)
    assert parser("1900-01-01") == datetime.date(1900, 1, 1)


@pytest.mark.parametrize("value", ["9999-12-31", "3000-01-01", "1899-12-31", "0001-01-01"])
def test_a_date_outside_the_bounds_is_invalid_date(value):
    error = refusal(Date(), value)

    assert error.code == FieldCode.INVALID_DATE
    assert "1900-01-01" in error.message and "2999-12-31" in error.message


def test_a_date_object_outside_the_bounds_is_refused_too():
    assert refusal(Date(), datetime.date(9999, 12, 31)).code == FieldCode.INVALID_DATE


# Through the API: what a refused record echoes can always be read back ------------------------


def raw_post(api, entity: str, body: str):
    """Post a JSON text as it is (simplejson.dumps escapes a lone surrogate as \\ud800)."""
    return api.post(f"/v1/batch/{entity}", body, content_type="application/json")


def surrogate_batch() -> list[dict]:
    return [
        create({"name": "Good Before"}, "good-1"),
        create({"name": f"Bad{LONE_SURROGATE}", "address": {"city": "KL"}}, "bad-name"),
        create({"name": "Nested", "address": {"city": f"K{LONE_SURROGATE}L"}}, "bad-city"),
        create({"name": "Key", f"x{LONE_SURROGATE}": 1}, "bad-key"),
        create({"name": "Reference"}, f"ref{LONE_SURROGATE}"),
        {"operation": f"create{LONE_SURROGATE}", "referenceId": "bad-op", "data": {"name": "Op"}},
        create({"name": "Good After"}, "good-2"),
    ]


def assert_surrogates_refused(results: list[dict]) -> None:
    by_reference = {result["referenceId"]: result for result in results}
    assert by_reference["good-1"]["status"] == by_reference["good-2"]["status"] == "created"
    bad_name = by_reference["bad-name"]["error"]
    assert (bad_name["code"], bad_name["field"]) == ("VALIDATION_ERROR", "name")
    assert bad_name["details"][0]["code"] == "INVALID_VALUE"
    assert bad_name["context"]["originalData"] == {
        "name": f"Bad{REPLACEMENT}",
        "address": {"city": "KL"},
    }
    bad_city = by_reference["bad-city"]["error"]
    assert bad_city["field"] == "address.city"
    assert bad_city["context"]["originalData"]["address"] == {"city": f"K{REPLACEMENT}L"}
    bad_key = by_reference["bad-key"]["error"]
    assert bad_key["details"][0]["code"] == "UNKNOWN_FIELD"
    assert bad_key["field"] == f"x{REPLACEMENT}"
    bad_reference = by_reference[f"ref{REPLACEMENT}"]
    assert bad_reference["status"] == "failed"
    assert bad_reference["error"]["field"] == "referenceId"
    assert by_reference["bad-op"]["operation"] == f"create{REPLACEMENT}"
    assert by_reference["bad-op"]["error"]["field"] == "operation"


def assert_failed_rows_download(api, job_id: str) -> None:
    download = api.get(f"/v1/batch/jobs/{job_id}/results?format=csv")
    assert download.status_code == 200
    text = b"".join(download.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["referenceId"] for row in rows] == [
        "bad-name",
        "bad-city",
        "bad-key",
        f"ref{REPLACEMENT}",
        "bad-op",
    ]
    assert rows[0]["name"] == f"Bad{REPLACEMENT}" and rows[0]["errorField"] == "name"


@pytest.mark.django_db
def test_a_lone_surrogate_fails_its_record_and_the_batch_and_its_results_stay_readable(
    api, company
):
    response = raw_post(api, "customers", simplejson.dumps({"operations": surrogate_batch()}))

    assert response.status_code == 200
    body = simplejson.loads(response.content)
    assert_surrogates_refused(body["data"]["results"])
    names = set(Customer.objects.for_company(company).values_list("name", flat=True))
    assert names == {"Good Before", "Good After"}
    batch_id = body["data"]["batchId"]
    stored = api.get(f"/v1/batch/jobs/{batch_id}/results")
    assert stored.status_code == 200
    assert_surrogates_refused(stored.json()["data"]["results"])
    assert_failed_rows_download(api, batch_id)


@pytest.mark.django_db(transaction=True)
def test_a_lone_surrogate_in_an_async_job_fails_its_record_and_the_job_completes(
    api, company, celery_worker
):
    job_id = submit(api, "customers", surrogate_batch())["jobId"]

    status = finished(api, job_id)

    assert status["status"] == "completed"
    results = api.get(f"/v1/batch/jobs/{job_id}/results")
    assert results.status_code == 200
    assert_surrogates_refused(results.json()["data"]["results"])
    assert_failed_rows_download(api, job_id)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", [["create"], {"create": True}, 7])
def test_an_operation_that_is_not_a_string_is_its_records_validation_error(api, operation):
    body = post_batch(api, "customers", [{"operation": operation, "data": {"name": "Acme"}}])

    [result] = body["data"]["results"]
    assert result["operation"] == operation
    assert (result["error"]["code"], result["error"]["field"]) == ("VALIDATION_ERROR", "operation")


@pytest.mark.django_db
def test_an_unknown_field_named_like_a_huge_line_position_is_a_record_error(api):
    body = post_batch(api, "customers", [create({"name": "Acme", f"x[{'9' * 5000}]": 1})])

    [result] = body["data"]["results"]
    assert result["error"]["details"][0]["code"] == "UNKNOWN_FIELD"
    assert result["error"]["context"]["rowNumber"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("credit_limit", ["1,5", "12,34", "1_000"])
def test_a_credit_limit_in_a_local_format_is_refused_not_misread(api, company, credit_limit):
    body = post_batch(
        api,
        "customers",
        [create({"name": "Acme", "creditLimit": credit_limit}), create({"name": "Ok"})],
    )

    first, second = body["data"]["results"]
    assert first["error"]["details"][0] == {
        "field": "creditLimit",
        "code": "INVALID_AMOUNT",
        "message": "Credit limit must be a plain decimal number like 1234.56, "
        f"not '{credit_limit}'.",
    }
    assert second["status"] == "created"
    assert not Customer.objects.for_company(company).filter(name="Acme").exists()


@pytest.mark.django_db
def test_a_credit_limit_over_the_maximum_amount_is_refused(api):
    body = post_batch(api, "customers", [create({"name": "Acme", "creditLimit": MAX_AMOUNT + 1})])

    [result] = body["data"]["results"]
    assert result["error"]["details"][0]["code"] == "INVALID_AMOUNT"
