"""Field parsers carry their limits as attributes, and the published API is read from those
attributes: a parser's OpenAPI schema changes only when its limits do. No database."""

import datetime
from decimal import Decimal

import pytest

from batch.api.openapi.fields import parser_schema
from batch.engine.codes import FieldCode
from batch.engine.countries import COUNTRY_CODES
from batch.engine.fields import Field, Schema
from batch.engine.parsers import (
    Boolean,
    Choice,
    Country,
    Date,
    Email,
    FieldError,
    Integer,
    Kind,
    Money,
    Phone,
    Quantity,
    Reference,
    Text,
)


def attributes(parser) -> dict:
    return {name: value for name, value in vars(parser).items() if not name.startswith("_")}


@pytest.mark.parametrize(
    ("parser", "kind", "expected"),
    [
        (Text(37), Kind.TEXT, {"max_length": 37, "blank": True}),
        (Text(5, blank=False), Kind.TEXT, {"max_length": 5, "blank": False}),
        (Email(), Kind.EMAIL, {"max_length": 254, "blank": True}),
        (Phone(), Kind.PHONE, {"max_length": 30, "blank": True}),
        (Reference(), Kind.REFERENCE, {"max_length": 100, "blank": False}),
        (
            Money(),
            Kind.MONEY,
            {
                "places": 2,
                "minimum": Decimal(0),
                "maximum": Decimal("999999999999.99"),
                "positive": False,
                "what": "Amount",
                "code": FieldCode.INVALID_AMOUNT,
            },
        ),
        (
            Money(minimum=None, positive=True, what="Debit"),
            Kind.MONEY,
            {
                "places": 2,
                "minimum": None,
                "maximum": Decimal("999999999999.99"),
                "positive": True,
                "what": "Debit",
                "code": FieldCode.INVALID_AMOUNT,
            },
        ),
        (
            Quantity(),
            Kind.NUMBER,
            {
                "places": 4,
                "minimum": Decimal(0),
                "maximum": Decimal("99999999999999.9999"),
                "positive": False,
                "what": "Quantity",
                "code": FieldCode.INVALID_NUMBER,
            },
        ),
        (
            Quantity(positive=True, places=3, what="Unit cost", code=FieldCode.INVALID_AMOUNT),
            Kind.NUMBER,
            {
                "places": 3,
                "minimum": Decimal(0),
                "maximum": Decimal("999999999999999.999"),
                "positive": True,
                "what": "Unit cost",
                "code": FieldCode.INVALID_AMOUNT,
            },
        ),
        (
            Integer(0, 365, what="Payment terms"),
            Kind.INTEGER,
            {"minimum": 0, "maximum": 365, "what": "Payment terms"},
        ),
        (Choice(["active", "inactive"]), Kind.CHOICE, {"choices": ("active", "inactive")}),
        (
            Date(),
            Kind.DATE,
            {"minimum": datetime.date(1900, 1, 1), "maximum": datetime.date(2999, 12, 31)},
        ),
        (Boolean(), Kind.BOOLEAN, {}),
    ],
    ids=repr,
)
def test_each_parser_keeps_its_kind_and_limits_as_public_attributes(parser, kind, expected):
    assert parser.kind == kind
    assert attributes(parser) == expected


def test_a_country_offers_every_iso_code_in_order():
    country = Country()

    assert (country.kind, country.max_length) == (Kind.COUNTRY, 2)
    assert country.choices == tuple(sorted(COUNTRY_CODES))
    assert "MY" in country.choices


@pytest.mark.parametrize(
    ("parser", "schema"),
    [
        (Text(37), {"type": "string", "maxLength": 37}),
        (Text(12, blank=False), {"type": "string", "maxLength": 12, "minLength": 1}),
        (Email(), {"type": "string", "format": "email", "maxLength": 254}),
        (Integer(3, 9), {"type": "integer", "minimum": 3, "maximum": 9}),
        (Choice(["red", "blue"]), {"type": "string", "enum": ["red", "blue"]}),
        (
            Date(),
            {"type": "string", "format": "date", "description": "From 1900-01-01 to 2999-12-31."},
        ),
        (Boolean(), {"type": "boolean"}),
        (Country(), {"$ref": "#/components/schemas/CountryCode"}),
        (
            Money(),
            {
                "type": "number",
                "description": "An exact decimal with at most 2 decimal places.",
                "minimum": 0.0,
                "maximum": 999999999999.99,
            },
        ),
        (
            Money(positive=True),
            {
                "type": "number",
                "description": "An exact decimal with at most 2 decimal places.",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 999999999999.99,
            },
        ),
        (
            Money(minimum=None),
            {
                "type": "number",
                "description": "An exact decimal with at most 2 decimal places.",
                "minimum": -999999999999.99,
                "maximum": 999999999999.99,
            },
        ),
        (
            Quantity(places=3),
            {
                "type": "number",
                "description": "An exact decimal with at most 3 decimal places.",
                "minimum": 0.0,
                "maximum": 1e15,  # below 10^15: 999999999999999.999 is no float
                "exclusiveMaximum": True,
            },
        ),
    ],
    ids=repr,
)
def test_the_openapi_schema_of_a_parser_is_read_from_its_attributes(parser, schema):
    assert parser_schema(parser) == schema


def test_phone_and_reference_schemas_take_their_lengths_from_the_parser():
    assert parser_schema(Phone())["maxLength"] == Phone().max_length == 30
    reference = parser_schema(Reference())
    assert (reference["minLength"], reference["maxLength"]) == (1, 100)


def test_a_subclass_is_described_as_its_parent_with_its_own_limits():
    class Code(Text):
        def __init__(self):
            super().__init__(8, blank=False)

    assert parser_schema(Code()) == {"type": "string", "maxLength": 8, "minLength": 1}


def test_a_field_refuses_a_parser_that_is_not_a_parser_instance():
    with pytest.raises(TypeError):
        Field(lambda value: value)


@pytest.mark.parametrize(
    ("parser", "value", "clean"),
    [
        (Text(10), "  padded  ", "padded"),
        (Text(10), 42, "42"),
        (Email(), "", ""),
        (Phone(), "+60 (12) 345-6789", "+60123456789"),
        (Country(), "my", "MY"),
        (Choice(["Active", "Inactive"]), " active ", "Active"),
        (Money(), "1234.5", Decimal("1234.50")),
        (Money(minimum=None), "-3", Decimal("-3.00")),
        (Quantity(), "2", Decimal("2.0000")),
        (Integer(0, 365), "30.0", 30),
        (Date(), "2024-01-15T10:00:00Z", datetime.date(2024, 1, 15)),
        (Boolean(), "Yes", True),
        (Boolean(), "", False),
    ],
    ids=repr,
)
def test_parsers_answer_the_clean_value(parser, value, clean):
    assert parser(value) == clean


@pytest.mark.parametrize(
    ("parser", "value", "code", "message"),
    [
        (Text(3), "abcd", FieldCode.MAX_LENGTH, "At most 3 characters."),
        (Text(3, blank=False), " ", FieldCode.REQUIRED, "Must not be blank."),
        (Text(3), "a\x00", FieldCode.INVALID_VALUE, "Must not contain NUL characters."),
        (Text(3), True, FieldCode.INVALID_TYPE, "Must be a string."),
        (Email(), "not-an-email", FieldCode.INVALID_EMAIL, "Email format is invalid"),
        (
            Phone(),
            "12",
            FieldCode.INVALID_PHONE,
            "Phone must be digits with an optional +, 7 to 15 digits.",
        ),
        (Reference(), "", FieldCode.REQUIRED, "Must not be blank."),
        (Country(), "XX", FieldCode.INVALID_CHOICE, "Country must be an ISO 3166 alpha-2 code."),
        (Choice(["a", "b"]), "c", FieldCode.INVALID_CHOICE, "Must be one of: a, b."),
        (Money(), "-1", FieldCode.INVALID_AMOUNT, "Amount must be non-negative."),
        (Money(positive=True), "0", FieldCode.INVALID_AMOUNT, "Amount must be positive."),
        (Money(what="Debit"), 1.5, FieldCode.INVALID_AMOUNT, "Debit must be an exact number."),
        (Money(), "1.005", FieldCode.INVALID_AMOUNT, "Amount allows at most 2 decimal places."),
        (
            Money(),
            "1" + "0" * 16,
            FieldCode.INVALID_AMOUNT,
            "Amount must be at most 999999999999.99.",
        ),
        (Quantity(), "-1", FieldCode.INVALID_NUMBER, "Quantity must be non-negative."),
        (Quantity(positive=True), "0", FieldCode.INVALID_NUMBER, "Quantity must be positive."),
        (
            Quantity(what="Unit cost", code=FieldCode.INVALID_AMOUNT),
            "x",
            FieldCode.INVALID_AMOUNT,
            "Unit cost must be a plain decimal number like 1234.56, not 'x'.",
        ),
        (
            Integer(0, 365, what="Payment terms"),
            "366",
            FieldCode.INVALID_NUMBER,
            "Payment terms must be between 0 and 365.",
        ),
        (Integer(0, 9), "1.5", FieldCode.INVALID_NUMBER, "Value must be a whole number."),
        (Date(), "2024-02-30", FieldCode.INVALID_DATE, "Date must be a valid YYYY-MM-DD."),
        (Boolean(), "maybe", FieldCode.INVALID_TYPE, "Must be true or false."),
    ],
    ids=repr,
)
def test_parsers_refuse_a_wrong_value_with_a_code_and_message(parser, value, code, message):
    with pytest.raises(FieldError) as refused:
        parser(value)

    assert (refused.value.code, refused.value.message) == (code, message)


def test_a_schema_reports_what_its_parsers_refuse_under_the_field_name():
    schema = Schema({"name": Field(Text(3), required=True), "terms": Field(Integer(0, 9))})

    values, details = schema.clean({"name": "abcd", "terms": "3"})

    assert values == {"terms": 3}
    assert [detail.as_json() for detail in details] == [
        {"field": "name", "message": "At most 3 characters.", "code": "MAX_LENGTH"}
    ]
