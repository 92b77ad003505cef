"""Per-column transformations: each type on the cells a bookkeeper's spreadsheet holds, the
declarations refused before any row is read (naming the column), and the lookup of a
record by name, within the importing company only."""

import io

import pytest

from batch.engine.codes import ErrorCode
from batch.files.readers import open_csv
from batch.files.reading import read_file
from batch.files.transforms import parse_transforms
from batch.services.batches import handler_for
from bigledger.errors import RequestError
from tests import builders


def cell(steps: list[dict], value: str, **row: str) -> str:
    """`value` in column "C" of a row (with `row`'s other columns) after `steps`."""
    return parse_transforms({"C": steps}).row({"C": value, **row})["C"]


def refusal(transforms) -> RequestError:
    with pytest.raises(RequestError) as raised:
        parse_transforms(transforms)
    return raised.value


def test_trim_collapses_inner_spaces_and_case_converts():
    assert cell([{"type": "trim"}], "  acme   trading\t") == "acme trading"
    assert cell([{"type": "trim"}, {"type": "case", "to": "title"}], " acme trading ") == (
        "Acme Trading"
    )
    assert cell([{"type": "case", "to": "lower"}], "ACME@Example.COM") == "acme@example.com"
    assert cell([{"type": "case", "to": "upper"}], "my") == "MY"


@pytest.mark.parametrize(
    ("date_format", "text", "expected"),
    [
        ("DD/MM/YYYY", "03/04/2024", "2024-04-03"),
        ("MM/DD/YYYY", "03/04/2024", "2024-03-04"),
        ("D MMM YYYY", "3 Apr 2024", "2024-04-03"),
        ("D MMM YYYY", "15 sept 2024", "2024-09-15"),
        ("D MMMM YYYY", "1 December 2023", "2023-12-01"),
        ("D/M/YY", "5/6/24", "2024-06-05"),
        ("YYYY-MM-DD", "2024-02-29", "2024-02-29"),
    ],
)
def test_a_date_is_read_in_its_stated_format(date_format, text, expected):
    assert cell([{"type": "date", "format": date_format}], text) == expected


@pytest.mark.parametrize("text", ["31/02/2024", "2024-04-03", "13/13/2024", "yesterday", ""])
def test_a_date_not_in_the_format_or_not_a_day_is_left_for_the_field_to_refuse(text):
    assert cell([{"type": "date", "format": "DD/MM/YYYY"}], text) == text


@pytest.mark.parametrize(
    ("step", "text", "expected"),
    [
        ({"decimalComma": True}, "(1.234,56)", "-1234.56"),
        ({"decimalComma": True}, "1.500,55", "1500.55"),
        ({}, "RM 1,500.00", "1500.00"),
        ({}, "MYR 2,000", "2000"),
        ({}, "$ 12.50", "12.50"),
        ({}, "150-", "-150"),
        ({}, "1,234.50-", "-1234.50"),
        ({}, "(75.00)", "-75.00"),
        ({"thousands": " "}, "1 234 567.8", "1234567.8"),
        ({"decimalComma": True, "thousands": ""}, "0,5", "0.5"),
    ],
)
def test_a_number_loses_its_currency_separators_and_brackets(step, text, expected):
    assert cell([{"type": "number", **step}], text) == expected


def test_a_number_that_cannot_be_read_stays_as_written_so_its_error_shows_it():
    assert cell([{"type": "number"}], "1,500.555x") == "1,500.555x"
    assert cell([{"type": "number"}], "n/a") == "n/a"


def test_a_map_replaces_listed_values_whatever_their_case_and_leaves_others():
    yes_no = [{"type": "map", "values": {"Y": "active", "N": "inactive"}}]

    assert [cell(yes_no, text) for text in ("Y", " n ", "maybe")] == [
        "active",
        "inactive",
        "maybe",
    ]


def test_the_built_in_country_map_takes_names_and_codes_and_own_values_win():
    country = [{"type": "map", "builtIn": "country", "values": {"Sabah": "MY"}}]

    assert [cell(country, text) for text in ("Malaysia", "united kingdom", "sg", "Sabah")] == [
        "MY",
        "GB",
        "SG",
        "MY",
    ]
    assert cell(country, "Atlantis") == "Atlantis"


def test_a_default_fills_only_empty_cells():
    default = [{"type": "default", "value": "30"}]

    assert [cell(default, text) for text in ("", "   ", "45")] == ["30", "30", "45"]


def test_transformations_run_in_the_order_given():
    steps = [{"type": "trim"}, {"type": "default", "value": "N"}, {"type": "map", "values": {}}]
    steps[2]["values"] = {"N": "inactive"}

    assert cell(steps, "   ") == "inactive"


def test_join_adds_the_other_columns_skipping_empty_ones():
    join = [{"type": "join", "columns": ["Last", "Suffix"], "separator": " "}]

    assert cell(join, "Ali", Last=" Ahmad ", Suffix="") == "Ali Ahmad"


def test_split_writes_one_column_into_its_fields_and_join_consumes_columns():
    transforms = parse_transforms(
        {
            "Name": [{"type": "split", "separator": ",", "into": ["lastName", "firstName"]}],
            "Street": [{"type": "join", "columns": ["Street 2"], "separator": ", "}],
        }
    )

    row = transforms.row({"Name": "Ali, Ahmad", "Street": "1 Jalan", "Street 2": "Taman"})
    mapping = transforms.mapping({"address.street": "Street"})

    assert (row["Name → lastName"], row["Name → firstName"]) == ("Ali", "Ahmad")
    assert row["Street"] == "1 Jalan, Taman"
    assert mapping["lastName"] == "Name → lastName"
    assert set(mapping["_ignore"]) == {"Name", "Street 2"}
    assert transforms.row({"Name": "Ali"})["Name → firstName"] == ""


def test_a_split_keeps_further_separators_in_its_last_part():
    split = parse_transforms({"N": {"type": "split", "separator": " ", "into": ["a", "b"]}})

    assert split.row({"N": "Siti Nur Aisyah"})["N → b"] == "Nur Aisyah"


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        ([{"type": "upper"}], "Unknown transformation 'upper'"),
        ([{"type": "case", "to": "camel"}], "case needs 'to'"),
        ([{"type": "date"}], "date needs 'format'"),
        ([{"type": "date", "format": "QQ/MM"}], "'Q' is not"),
        ([{"type": "date", "format": "DD/MM"}], "must name a day, a month and a year"),
        ([{"type": "date", "format": "DD/MM/DD"}], "names DD twice"),
        ([{"type": "number", "decimalComma": True, "thousands": ","}], "cannot be the decimal"),
        ([{"type": "map"}], "map needs 'values' or 'builtIn'"),
        ([{"type": "map", "builtIn": "planet"}], "no built-in map 'planet'"),
        ([{"type": "default"}], "default needs 'value'"),
        ([{"type": "split", "separator": ",", "into": ["name"]}], "two or more"),
        ([{"type": "join"}], "join needs 'columns'"),
        ([{"type": "lookup", "entity": "planets"}], "entity is one of"),
        ([{"type": "lookup", "entity": "customers", "by": "colour"}], "by is one of"),
        ("trim", "Give a list of transformations"),
    ],
)
def test_a_transformation_that_cannot_work_is_refused_naming_its_column(steps, said):
    error = refusal({"Joined": steps})

    assert error.code == "INVALID_MAPPING"
    assert "Joined" in error.message
    assert [(d["field"], d["code"]) for d in error.details] == [("Joined", "INVALID_TRANSFORM")]
    assert said in error.details[0]["message"]


def test_every_bad_column_is_named_at_once_and_one_the_file_lacks_too():
    with pytest.raises(RequestError) as raised:
        parse_transforms(
            {"Name": [{"type": "trim"}], "Joined": [{"type": "date"}], "Ghost": [{"type": "trim"}]},
            headers=["Name", "Joined"],
        )

    details = {d["field"]: d["message"] for d in raised.value.details}
    assert set(details) == {"Joined", "Ghost"}
    assert details["Ghost"] == "Column 'Ghost' is not in the file."


def test_transforms_as_json_text_and_broken_json_is_a_mapping_error():
    assert parse_transforms('{"C": [{"type": "trim"}]}').row({"C": " x "})["C"] == "x"
    assert parse_transforms("  ").row({"C": " x "}) == {"C": " x "}
    assert refusal("{not json").code == "INVALID_MAPPING"
    assert "must be an object" in refusal("[1, 2]").message


def test_a_column_is_named_in_any_case_the_file_has_it():
    transforms = parse_transforms({"e-MAIL": [{"type": "case", "to": "lower"}]}, ["E-mail"])

    assert transforms.row({"E-mail": "A@B.MY"})["E-mail"] == "a@b.my"


# Lookups: read through a real file and the company's own records -------------------------


def payments_file(text: str, transforms: dict, company):
    rows = open_csv(io.BytesIO(text.encode()))
    read = read_file(
        handler_for("payments"),
        rows,
        mapping={"customerId": "Customer", "amount": "Amount", "paymentDate": "Date"},
        transforms=transforms,
        company=company,
    )
    return list(read.chunks)


LOOKUP = {"Customer": [{"type": "trim"}, {"type": "lookup", "entity": "customers"}]}


def test_a_lookup_puts_the_named_customers_id_whatever_the_case(company):
    acme = builders.customer(company, name="Acme Trading")

    [chunk] = payments_file(
        "Customer,Amount,Date\r\n acme TRADING ,100.00,2024-04-03\r\n", LOOKUP, company
    )

    assert chunk.operations[0]["data"]["customerId"] == acme.public_id
    assert chunk.problems == [[]]


def test_a_lookup_finds_only_the_importing_companys_records(company, other_company):
    builders.customer(other_company, name="Acme Trading")
    builders.customer(company, name="Beta Sdn Bhd")

    [chunk] = payments_file(
        "Customer,Amount,Date\r\nAcme Trading,100.00,2024-04-03\r\n", LOOKUP, company
    )

    assert chunk.operations[0]["data"]["customerId"] == "Acme Trading"
    [problem] = chunk.problems[0]
    assert problem.field == "customerId"
    assert problem.code == ErrorCode.REFERENCE_ERROR
    assert problem.message == "Column 'Customer': no customer with name 'Acme Trading'."


def test_lookups_of_a_chunk_take_one_query(company, django_assert_num_queries):
    builders.customer(company, name="Acme Trading")
    builders.customer(company, name="Beta Sdn Bhd")
    text = "Customer,Amount,Date\r\n" + "".join(
        f"{name},1.00,2024-04-03\r\n" for name in ("Acme Trading", "Beta Sdn Bhd", "Nobody") * 5
    )

    with django_assert_num_queries(1):
        [chunk] = payments_file(text, LOOKUP, company)

    assert [len(problems) for problems in chunk.problems] == [0, 0, 1] * 5
    assert "'Nobody'" in chunk.problems[2][0].message


def test_the_file_keeps_its_own_cells_before_any_transformation(company):
    acme = builders.customer(company, name="Acme Trading")

    [chunk] = payments_file(
        "Customer,Amount,Date\r\n acme trading ,100.00,2024-04-03\r\n", LOOKUP, company
    )

    assert chunk.cells == [[[" acme trading ", "100.00", "2024-04-03"]]]
    assert chunk.operations[0]["data"]["customerId"] == acme.public_id
