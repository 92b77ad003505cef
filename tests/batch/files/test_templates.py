"""CSV and Excel templates: a filled template reads back into the operations that were
filled, for every registered entity; formula injection is neutralised in what we export."""

import datetime
import io

import pytest
from django.contrib.auth import get_user_model
from openpyxl import load_workbook

from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
from batch.engine.handlers import get_handler, registered_handlers
from batch.files.columns import (
    BOOLEAN,
    CHOICE,
    COUNTRY,
    DATE,
    EMAIL,
    HEADER,
    INTEGER,
    LINE,
    META,
    MONEY,
    NUMBER,
    PHONE,
    REFERENCE,
    layout_for,
)
from batch.files.mapping import read_operations
from batch.files.readers import open_csv, open_xlsx
from batch.files.security import safe_cell
from batch.files.templates import csv_template, example_rows, excel_template
from batch.services.batches import run_sync_batch
from tests import builders
from tests.batch.api.test_file_imports import without_examples

ENTITIES = sorted(registered_handlers())
COMPANY_LISTS = {
    "taxCode": ["SST", "EXEMPT"],
    "customerNumber": ["CUST-0001", "CUST-0002"],
    "supplierNumber": ["SUPP-0001"],
    "itemCode": ["WIDGET-001"],
    "accountCode": ["1000", "4000"],
    "locationCode": ["WH-01"],
}


def cell_for(column, document: int, line: int):
    """(what to write into the cell, the text the upload should read back)."""
    traits = column.parser
    if column.name == "operation":
        return "create", "create"
    if column.kind in (CHOICE, COUNTRY):
        return traits.choices[document % len(traits.choices)], None
    if column.kind == BOOLEAN:
        return document == 0, "true" if document == 0 else "false"
    if column.kind == DATE:
        day = datetime.date(2024, 1, 15 + document)
        return day, day.isoformat()
    if column.kind == MONEY:
        return 12.5 + document, f"{12.5 + document}"
    if column.kind == NUMBER:
        return 3 + line, f"{3 + line}"
    if column.kind == INTEGER:
        return 30 + document, f"{30 + document}"
    if column.kind == EMAIL:
        return f"user{document}{line}@example.com", None
    if column.kind == PHONE:
        return "+6012345678" + str(document), None
    if column.kind == REFERENCE:
        return f"{column.leaf.upper()}-{document}", None
    value = f"{column.leaf[:6]}-{document}-{line}"[: traits.max_length or None]
    return value, None


def put(data: dict, path, value) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


def fill(sheet, handler):
    """Two records (for an entity with lines, two documents of two lines each) in place of
    the example; returns the operations they should read back as."""
    without_examples(sheet)
    layout = layout_for(handler)
    positions = {cell.value: cell.column for cell in sheet[1] if cell.value}
    columns = [
        column
        for column in layout.template_columns
        if not column.computed and "create" in column.operations
    ]
    expected, row = [], 2
    for document in range(2):
        data: dict = {}
        lines = []
        for line in range(2 if layout.has_lines else 1):
            line_data: dict = {}
            for column in columns:
                header_again = document == 1 or line == 0 or column.name == layout.group_column
                if column.scope != LINE and not header_again:
                    continue  # document 0 leaves its header fields blank after its first line
                written, text = cell_for(column, document, line if column.scope == LINE else 0)
                sheet.cell(row, positions[column.name], written)
                text = written if text is None else text
                if column.scope == LINE:
                    line_data[column.path[-1]] = text
                elif column.scope == HEADER:
                    put(data, column.path, text)
            for computed in layout.computed_columns:
                sheet.cell(row, positions[computed], 999)  # a stale value: ignored on upload
            lines.append(line_data)
            row += 1
        if layout.has_lines:
            data[layout.list_name] = lines
        expected.append({"operation": "create", "referenceId": None, "data": data})
    return expected


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_filled_excel_template_reads_back_as_the_operations_filled(entity):
    handler = get_handler(entity)
    workbook = load_workbook(io.BytesIO(excel_template(handler, COMPANY_LISTS)))
    expected = fill(workbook["Data"], handler)
    out = io.BytesIO()
    workbook.save(out)

    chunks = list(read_operations(handler, open_xlsx(io.BytesIO(out.getvalue()))))

    operations = [op for chunk in chunks for op in chunk.operations]
    assert operations == expected
    for operation in operations:
        assert handler.create_schema.clean(operation["data"])[1] == []
    assert chunks[0].row_numbers == ([2, 4] if layout_for(handler).has_lines else [2, 3])
    assert all(problems == [] for problems in chunks[0].problems)


@pytest.mark.parametrize("entity", ENTITIES)
def test_the_csv_template_reads_back_as_its_example(entity):
    handler = get_handler(entity)
    text = csv_template(handler, COMPANY_LISTS)
    header = text.splitlines()[0].split(",")
    assert header == [c.name for c in layout_for(handler).template_columns if not c.computed]

    (chunk,) = read_operations(handler, open_csv(io.BytesIO(text.encode())))

    assert len(chunk.operations) == 1
    values, details = handler.create_schema.clean(chunk.operations[0]["data"])
    assert details == []


def test_examples_leave_document_totals_blank_and_split_debits_from_credits():
    first, second = example_rows(get_handler("journal-entries"), {})
    assert ("lines.debit" in first, "lines.credit" in first) == (True, False)
    assert ("lines.debit" in second, "lines.credit" in second) == (False, True)
    invoice = example_rows(get_handler("invoices"), {"customerNumber": ["CUST-0042"]})[0]
    assert "total" not in invoice and invoice["customerNumber"] == "CUST-0042"


def test_the_excel_template_has_instructions_data_and_hidden_lists():
    workbook = load_workbook(io.BytesIO(excel_template(get_handler("invoices"), COMPANY_LISTS)))
    assert workbook.sheetnames == ["Instructions", "Data", "Lists"]
    assert workbook["Lists"].sheet_state == "hidden"
    assert workbook.active.title == "Data"
    data = workbook["Data"]
    assert data.freeze_panes == "A2"
    headers = {cell.value: cell for cell in data[1]}
    assert "Required when creating" in headers["invoiceDate"].comment.text
    instructions = " ".join(
        str(cell.value)
        for row in workbook["Instructions"].iter_rows()
        for cell in row
        if cell.value
    )
    assert "Rows with the same reference" in instructions
    assert "items.amount" in instructions and "ignored on upload" in instructions


def validations_by_column(sheet):
    by_column = {}
    for validation in sheet.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            by_column[cell_range.min_col] = validation
    return by_column


def test_excel_validation_covers_enumerations_company_lists_numbers_and_dates():
    workbook = load_workbook(io.BytesIO(excel_template(get_handler("invoices"), COMPANY_LISTS)))
    data = workbook["Data"]
    column_of = {cell.value: cell.column for cell in data[1]}
    validations = validations_by_column(data)

    tax = validations[column_of["items.taxCode"]]
    assert (tax.type, tax.errorStyle) == ("list", "warning")  # a new code can still be typed
    destination = workbook.defined_names[tax.formula1].attr_text
    assert destination.startswith("'Lists'!$")
    title, cells = next(workbook.defined_names[tax.formula1].destinations)
    assert [cell.value for (cell,) in workbook[title][cells]] == ["SST", "EXEMPT"]

    operation = validations[column_of["operation"]]
    assert (operation.type, operation.errorStyle) == ("list", "stop")
    assert validations[column_of["items.quantity"]].type == "decimal"
    assert validations[column_of["items.quantity"]].operator == "greaterThan"
    assert validations[column_of["invoiceDate"]].type == "date"
    assert column_of["items.amount"] not in validations
    assert data.cell(2, column_of["items.amount"]).value.startswith("=IF(")
    assert (
        data.column_dimensions[data.cell(1, column_of["invoiceDate"]).column_letter].number_format
        == "yyyy-mm-dd"
    )


def test_journal_template_has_running_totals_and_a_balance_check():
    workbook = load_workbook(io.BytesIO(excel_template(get_handler("journal-entries"), {})))
    data = workbook["Data"]
    column_of = {cell.value: cell.column_letter for cell in data[1]}
    check = data[f"{column_of['lines.balanceCheck']}2"].value
    assert "Balanced" in check and "Unbalanced by" in check
    running = data[f"{column_of['lines.runningDebit']}3"].value
    assert f"{column_of['reference']}3={column_of['reference']}2" in running


def test_customers_template_offers_countries_and_statuses_without_company_lists():
    workbook = load_workbook(io.BytesIO(excel_template(get_handler("customers"))))
    data = workbook["Data"]
    column_of = {cell.value: cell.column for cell in data[1]}
    validations = validations_by_column(data)
    assert validations[column_of["status"]].errorStyle == "stop"
    country = workbook.defined_names[validations[column_of["address.country"]].formula1]
    assert "MY" in [cell.value for (cell,) in workbook["Lists"][next(country.destinations)[1]]]
    assert validations[column_of["paymentTerms"]].formula2 == "365"


# Formula injection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "exported"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+60123456789", "'+60123456789"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Acme = best", "Acme = best"),
        ("", ""),
        (12, 12),
        (None, None),
    ],
)
def test_safe_cell_neutralises_values_a_spreadsheet_would_run(value, exported):
    assert safe_cell(value) == exported


HOSTILE = ['=cmd|"/c calc"!A1', "+1+1", "-1+1", "@SUM(1)", "\t=1", "ok"]


def test_company_values_in_excel_lists_are_written_as_inert_text():
    template = excel_template(get_handler("invoices"), {"customerNumber": HOSTILE})
    lists = load_workbook(io.BytesIO(template))["Lists"]
    every_cell = [cell for row in lists.iter_rows() for cell in row if cell.value is not None]
    assert {cell.data_type for cell in every_cell} == {"s"}  # no formulas anywhere
    (column,) = [cell.column for cell in lists[1] if cell.value == "customerNumber"]
    written = [row[0].value for row in lists.iter_rows(min_row=2, min_col=column, max_col=column)]
    assert written == [safe_cell(value) for value in HOSTILE]


def test_company_values_in_the_csv_template_are_neutralised_and_read_back_unchanged():
    handler = get_handler("invoices")
    text = csv_template(handler, {"customerNumber": ["=EVIL()"], "taxCode": ["+TAX"]})
    assert "'=EVIL()" in text and "'+TAX" in text
    (chunk,) = read_operations(handler, open_csv(io.BytesIO(text.encode())))
    data = chunk.operations[0]["data"]
    assert data["customerNumber"] == "=EVIL()"
    assert data["items"][0]["taxCode"] == "+TAX"


# Through the engine ------------------------------------------------------------------------


def run_file(credentials, entity, rows, source):
    user = get_user_model().objects.get(username=credentials.username)
    results = []
    for chunk in read_operations(get_handler(entity), rows):
        request = BatchRequest(
            operations=parse_operations(chunk.operations, row_numbers=chunk.row_numbers),
            options=BatchOptions(),
        )
        _, outcome = run_sync_batch(
            company=credentials.company, user=user, entity=entity, request=request, source=source
        )
        results += [record.result_json() for record in outcome.records]
    return results


def test_a_customers_csv_creates_records_and_reports_errors_by_spreadsheet_row(credentials):
    data = b"name;email;credit_limit\nAcme;a@example.com;1000,50\n\nBeta;not-an-email;5\n"

    results = run_file(credentials, "customers", open_csv(io.BytesIO(data)), "csv")

    assert [r["status"] for r in results] == ["created", "failed"]
    assert results[1]["error"]["context"]["rowNumber"] == 4
    assert results[1]["error"]["field"] == "email"


def test_a_filled_invoice_template_creates_invoices_with_their_lines(credentials):
    company = credentials.company
    customer = builders.customer(company)
    builders.stocked_item(company, code="WIDGET-001")  # invoices take stock out
    template = excel_template(
        get_handler("invoices"), {"customerNumber": [customer.number], "taxCode": ["SST"]}
    )
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook["Data"]
    without_examples(sheet)
    column_of = {cell.value: cell.column for cell in sheet[1]}
    rows = [
        ("SO-1", customer.number, datetime.date(2024, 1, 15), 2, 100),
        ("SO-1", None, None, 1, 50.25),
        ("SO-2", customer.number, datetime.date(2024, 1, 16), 3, 10),
    ]
    for number, (reference, party, day, quantity, price) in enumerate(rows, start=2):
        values = {
            "reference": reference,
            "customerNumber": party,
            "invoiceDate": day,
            "items.itemCode": "WIDGET-001",
            "items.quantity": quantity,
            "items.unitPrice": price,
            "items.taxCode": "SST",
        }
        for name, value in values.items():
            if value is not None:
                sheet.cell(number, column_of[name], value)
    out = io.BytesIO()
    workbook.save(out)

    results = run_file(credentials, "invoices", open_xlsx(io.BytesIO(out.getvalue())), "excel")

    assert [r["status"] for r in results] == ["created", "created"], results
    from ledger.models import Invoice

    invoices = Invoice.objects.filter(company=company).order_by("number")
    assert [invoice.lines.count() for invoice in invoices] == [2, 1]
    assert [str(invoice.subtotal) for invoice in invoices] == ["250.25", "30.00"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_every_template_column_is_a_field_the_schemas_accept(entity):
    handler = get_handler(entity)
    layout = layout_for(handler)
    for column in layout.template_columns:
        if column.computed or column.scope == META:
            continue
        schemas = [getattr(handler, f"{op}_schema", None) for op in column.operations]
        assert any(schemas), column.name
