"""Rows to batch operations: mapping, cells, operations, grouping of lines, chunks.
No database."""

import io
from decimal import Decimal

import pytest

from batch.engine.envelope import parse_operations
from batch.engine.handlers import get_handler, registered_handlers
from batch.engine.parsers import Money
from batch.files.mapping import (
    cell_value,
    number_text,
    operation_rows,
    parse_mapping,
    read_operations,
)
from batch.files.readers import open_csv
from batch.files.security import safe_cell
from batch.files.templates import example_rows
from bigledger.errors import RequestError

EXAMPLE_CSV = b"""name,email,phone,credit_limit,payment_terms,tax_number
"Acme Corp","billing@acme.com","+60123456789",10000,30,"123456789012"
"Tech Solutions","accounts@tech.my","+60387654321",25000,45,"987654321012"
"""


def operations(entity, data: bytes | str, **options):
    if isinstance(data, str):
        data = data.encode()
    chunks = list(read_operations(get_handler(entity), open_csv(io.BytesIO(data)), **options))
    return [op for chunk in chunks for op in chunk.operations], chunks


def mapping_error(call) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call()
    assert caught.value.code == "INVALID_MAPPING"
    return caught.value


# Columns and mapping -----------------------------------------------------------------------


def test_the_api_example_csv_reads_without_a_mapping_snake_case_headers_included():
    ops, chunks = operations("customers", EXAMPLE_CSV)
    assert ops[0] == {
        "operation": "create",
        "referenceId": None,
        "data": {
            "name": "Acme Corp",
            "email": "billing@acme.com",
            "phone": "+60123456789",
            "creditLimit": "10000",
            "paymentTerms": "30",
            "taxNumber": "123456789012",
        },
    }
    assert chunks[0].row_numbers == [2, 3]


def test_the_api_example_mapping_reads_the_same_operations():
    mapping = parse_mapping(
        '{"name": "name", "email": "email", "phone": "phone", "creditLimit": "credit_limit",'
        ' "paymentTerms": "payment_terms", "taxNumber": "tax_number"}'
    )
    assert (
        operations("customers", EXAMPLE_CSV, mapping=mapping)[0]
        == operations("customers", EXAMPLE_CSV)[0]
    )


def test_a_mapping_reads_nested_fields_from_any_column():
    data = "Company,Town,Limit\nAcme,Ipoh,5000\n"
    mapping = {"name": "Company", "address.city": "town", "creditLimit": "Limit"}
    ops, _ = operations("customers", data, mapping=mapping)
    assert ops[0]["data"] == {"name": "Acme", "address": {"city": "Ipoh"}, "creditLimit": "5000"}


def test_unknown_columns_are_a_request_error_listing_them():
    error = mapping_error(lambda: operations("customers", "name,Fax,Legacy ID\nAcme,1,2\n"))
    assert "Fax, Legacy ID" in error.message
    assert [d["field"] for d in error.details] == ["Fax", "Legacy ID"]


def test_unknown_columns_can_be_listed_under_ignore_or_mapped_away():
    data = "name,Fax,Company\nAcme,1,Real name\n"
    ops, _ = operations("customers", data, mapping={"_ignore": ["fax"], "name": "Company"})
    assert ops[0]["data"] == {"name": "Real name"}  # "name" column: its field is mapped


def test_mapping_problems_are_reported_together():
    mapping = {"nmae": "name", "email": "E-mail", "phone": "name", "creditLimit": "name"}
    error = mapping_error(lambda: operations("customers", "name\nAcme\n", mapping=mapping))
    assert {(d["field"], d["code"]) for d in error.details} == {
        ("nmae", "UNKNOWN_FIELD"),
        ("email", "UNKNOWN_COLUMN"),
    }


def test_two_headers_for_one_field_are_refused():
    error = mapping_error(lambda: operations("customers", "creditLimit,credit_limit\n1,2\n"))
    assert error.details[0]["code"] == "DUPLICATE"


@pytest.mark.parametrize("raw", ["[1]", "{bad json", '{"name": 3}', '{"_ignore": 5}'])
def test_a_malformed_mapping_is_refused(raw):
    mapping_error(lambda: parse_mapping(raw))


def test_no_mapping_means_none():
    assert parse_mapping(None) is None
    assert parse_mapping("  ") is None


# Cells -------------------------------------------------------------------------------------


def test_blank_cells_are_left_out_and_values_trimmed():
    ops, _ = operations("customers", "name,email,phone\n  Acme  ,,  \n")
    assert ops[0]["data"] == {"name": "Acme"}


def test_the_apostrophe_an_export_adds_is_removed_on_the_way_back():
    ops, _ = operations("customers", "name,phone\n'=Acme,'+60123456789\n")
    assert ops[0]["data"] == {"name": "=Acme", "phone": "+60123456789"}
    assert cell_value("'quoted") == "'quoted"  # only before a formula character


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("1,234.56", False, "1234.56"),
        ("1.234,56", False, "1234.56"),
        ("10,5", True, "10.5"),
        ("1,000", False, "1000"),  # the parsers take plain decimals only
        ("1,234,567", False, "1234567"),
        ("1,5", False, "1.5"),  # a comma that groups no three digits is a decimal comma
        ("12,34", False, "12.34"),
        ("1,500", True, "1.500"),
        ("1.234.567,89", True, "1234567.89"),
        ("1 234,50", True, "1234.50"),
        ("1'234.50", False, "1234.50"),
        ("1E3", False, "1000"),
        ("1.5e-05", False, "0.000015"),  # how a spreadsheet cell's float reads as text
        ("١٢٣", False, "123"),
        ("42", True, "42"),
        ("1,2,3", False, "1,2,3"),  # not a number: the parser refuses it, quoting it
    ],
)
def test_numbers_in_local_formats(text, decimal_comma, expected):
    assert number_text(text, decimal_comma=decimal_comma) == expected


def test_numbers_read_from_a_file_are_plain_decimals_the_parsers_take():
    data = 'name,creditLimit,paymentTerms\nAcme,"1,250.50",30\nBeta,"2,000",1E1\n'

    ops, _ = operations("customers", data)

    assert [op["data"]["creditLimit"] for op in ops] == ["1250.50", "2000"]
    assert [op["data"]["paymentTerms"] for op in ops] == ["30", "10"]
    assert Money()(ops[1]["data"]["creditLimit"]) == Decimal("2000.00")


def test_a_semicolon_file_reads_commas_in_numbers_as_decimal_commas():
    ops, _ = operations("customers", "name;creditLimit;phone\nAcme;1500,50;0123456789\n")
    assert ops[0]["data"] == {"name": "Acme", "creditLimit": "1500.50", "phone": "0123456789"}


# Operations --------------------------------------------------------------------------------


def test_the_operation_column_defaults_to_create_and_delete_sends_only_identifiers():
    data = (
        "operation,referenceId,customerNumber,name,email\n"
        ",r1,,Acme,a@example.com\n"
        "Update,r2,CUST-0001,,b@example.com\n"
        "delete,r3,CUST-0002,Old name,c@example.com\n"
    )
    ops, _ = operations("customers", data)
    assert ops == [
        {
            "operation": "create",
            "referenceId": "r1",
            "data": {"name": "Acme", "email": "a@example.com"},
        },
        {
            "operation": "update",
            "referenceId": "r2",
            "data": {"customerNumber": "CUST-0001", "email": "b@example.com"},
        },
        {"operation": "delete", "referenceId": "r3", "data": {"customerNumber": "CUST-0002"}},
    ]


def test_chunks_hold_at_most_max_records_and_stream_lazily():
    body = "".join(f"Customer {n}\n" for n in range(1_234))
    chunks = read_operations(
        get_handler("customers"), open_csv(io.BytesIO(f"name\n{body}".encode()))
    )
    first = next(chunks)
    assert (len(first), first.first_index, first.row_numbers[0]) == (500, 0, 2)
    rest = list(chunks)
    assert [len(c) for c in rest] == [500, 234]
    assert rest[-1].first_index == 1_000
    assert rest[-1].row_numbers[-1] == 1_235


def test_a_chunk_parses_into_operations_carrying_spreadsheet_rows():
    (chunk,) = read_operations(get_handler("customers"), open_csv(io.BytesIO(EXAMPLE_CSV)))
    parsed = parse_operations(chunk.operations, row_numbers=chunk.row_numbers)
    assert [op.row_number for op in parsed] == [2, 3]


# Lines -------------------------------------------------------------------------------------

INVOICES = (
    "reference,customerNumber,invoiceDate,items.itemCode,items.quantity,items.unitPrice,"
    "items.taxCode,items.amount\n"
    """SO-1,CUST-0001,2024-01-15,W-1,2,10.50,SST,21
SO-1,,,W-2,1,5,SST,5

SO-2,CUST-0002,2024-01-16,W-1,1,7,SST,
,,,W-3,4,1,SST,
SO-3,CUST-0003,2024-01-17,W-1,1,1,SST,
"""
)


def test_consecutive_rows_of_one_reference_make_one_document():
    ops, chunks = operations("invoices", INVOICES)
    assert ops[0] == {
        "operation": "create",
        "referenceId": None,
        "data": {
            "reference": "SO-1",
            "customerNumber": "CUST-0001",
            "invoiceDate": "2024-01-15",
            "items": [
                {"itemCode": "W-1", "quantity": "2", "unitPrice": "10.50", "taxCode": "SST"},
                {"itemCode": "W-2", "quantity": "1", "unitPrice": "5", "taxCode": "SST"},
            ],
        },
    }
    assert [len(op["data"]["items"]) for op in ops] == [2, 2, 1]  # blank reference continues
    chunk = chunks[0]
    assert chunk.row_numbers == [2, 5, 7]
    assert chunk.line_rows == [[2, 3], [5, 6], [7]]
    assert chunk.row_for(1, "items[1].quantity") == 6
    assert chunk.row_for(1, "invoiceDate") == 5
    assert chunk.problems == [[], [], []]


def test_lines_of_one_document_that_disagree_are_reported_against_that_document():
    data = (
        "reference,customerNumber,invoiceDate,items.quantity\n"
        "SO-1,CUST-0001,2024-01-15,1\n"
        "SO-1,CUST-0009,2024-01-15,2\n"
    )
    ops, chunks = operations("invoices", data)
    assert len(ops) == 1 and ops[0]["data"]["customerNumber"] == "CUST-0001"
    (problem,) = chunks[0].problems[0]
    assert problem.field == "customerNumber"
    assert "Row 3" in problem.message and "row 2" in problem.message


def test_header_fields_may_be_given_on_any_line_of_a_document():
    data = "reference,customerNumber,items.quantity\nSO-1,,1\nSO-1,CUST-0001,2\n"
    ops, chunks = operations("invoices", data)
    assert ops[0]["data"]["customerNumber"] == "CUST-0001"
    assert chunks[0].problems == [[]]


def test_a_blank_reference_row_with_header_fields_starts_a_new_document():
    data = (
        "customerNumber,invoiceDate,items.quantity\nCUST-1,2024-01-15,1\n,,2\nCUST-2,2024-01-15,3\n"
    )
    ops, _ = operations("invoices", data)
    assert [[line["quantity"] for line in op["data"]["items"]] for op in ops] == [["1", "2"], ["3"]]


def test_a_header_only_row_then_line_rows_is_one_document():
    data = "reference,paymentDate,amount,allocations.invoiceNumber,allocations.amount\n"
    data += "PAY-1,2024-01-15,300,,\nPAY-1,,,INV-1,100\nPAY-1,,,INV-2,200\nPAY-2,2024-01-16,50,,\n"
    ops, chunks = operations("payments", data)
    assert ops[0]["data"]["allocations"] == [
        {"invoiceNumber": "INV-1", "amount": "100"},
        {"invoiceNumber": "INV-2", "amount": "200"},
    ]
    assert "allocations" not in ops[1]["data"]  # a payment without allocations
    assert chunks[0].line_rows == [[3, 4], []]


def test_a_document_keeps_one_line_over_the_maximum_so_the_schema_can_say_so():
    handler = get_handler("invoices")
    rows = [(n, {"reference": "SO-1", "items.quantity": "1"}) for n in range(2, 2 + 600)]
    (chunk,) = read_operations(handler, rows, headers=["reference", "items.quantity"])
    assert len(chunk.operations[0]["data"]["items"]) == 501
    assert len(chunk.line_rows[0]) == 501


def test_calculated_template_columns_are_ignored_whatever_they_hold():
    ops, _ = operations("invoices", INVOICES)
    assert all("amount" not in line for op in ops for line in op["data"]["items"])


def test_a_csv_row_with_more_values_than_columns_is_reported_not_dropped():
    data = "name,email\nAcme, Inc,a@example.com\nBeta,b@example.com,,\n"
    ops, chunks = operations("customers", data)
    assert ops[0]["data"] == {"name": "Acme", "email": "Inc"}  # shifted: hence the problem
    (problem,) = chunks[0].problems[0]
    assert problem.field == "row" and "double quotes" in problem.message
    assert chunks[0].problems[1] == []  # empty trailing cells are fine


# Back to rows ------------------------------------------------------------------------------


def csv_of(rows: list[dict], extra: dict | None = None) -> bytes:
    import csv

    columns = list(dict.fromkeys(name for row in rows for name in row)) + list(extra or {})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        values = {**row, **(extra or {})}
        writer.writerow([safe_cell(values.get(name, "")) for name in columns])
    return out.getvalue().encode()


@pytest.mark.parametrize("entity", sorted(registered_handlers()))
def test_an_operation_written_back_as_rows_reads_back_as_the_same_operation(entity):
    handler = get_handler(entity)
    ((original,), _) = operations(entity, csv_of(example_rows(handler, {})))
    rows = operation_rows(handler, original["operation"], original["data"], reference_id="r-1")

    ops, chunks = operations(entity, csv_of(rows, {"errorCode": "X", "errorMessage": "=bad"}))

    assert ops == [{**original, "referenceId": "r-1"}]
    assert chunks[0].problems == [[]]


def test_operation_rows_put_document_fields_on_the_first_line_and_the_reference_on_each():
    data = {
        "reference": "SO-1",
        "customerNumber": "CUST-0001",
        "invoiceDate": "2024-01-15",
        "items": [{"itemCode": "W-1", "quantity": 2}, {"itemCode": "W-2", "quantity": 1}],
    }
    rows = operation_rows(get_handler("invoices"), "create", data)
    assert rows == [
        {
            "operation": "create",
            "reference": "SO-1",
            "customerNumber": "CUST-0001",
            "invoiceDate": "2024-01-15",
            "items.itemCode": "W-1",
            "items.quantity": 2,
        },
        {"reference": "SO-1", "items.itemCode": "W-2", "items.quantity": 1},
    ]
