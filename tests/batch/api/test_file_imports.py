"""File imports through the API: CSV and Excel uploads of every entity, mappings, the
operation column, documents with lines, spreadsheet row numbers, encodings, refusals, async
jobs of large files and the failed-rows CSV that uploads again."""

import csv
import datetime
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from batch.engine.handlers import registered_handlers
from batch.models import BatchChunk, BatchJob
from ledger.models import Customer, Invoice
from tests import builders
from tests.helpers import finished

ENTITIES = sorted(registered_handlers())


# Arrange -----------------------------------------------------------------------------------


@pytest.fixture
def books(company):
    """What the files of every entity refer to: CUST-0001, SUPP-0001, an inventory item
    WIDGET-001 with stock, and an open invoice to pay."""
    customer = builders.customer(company, email="first@example.com")
    builders.supplier(company)
    widget = builders.item(company, code="WIDGET-001", type="inventory")
    builders.adjust_stock(company, widget, "increase", "20", "5.00")
    invoice = builders.invoice(company, customer)
    return {"invoice": invoice.number}


def rows_for(entity: str, books: dict) -> list[dict]:
    """Spreadsheet rows of two valid records (two documents of two lines for entities with
    lines), keyed by the template's column names."""
    party = {"address.city": "Ipoh", "address.country": "MY", "creditLimit": "5000"}
    trade_line = {"items.itemCode": "WIDGET-001", "items.taxCode": "SST"}
    rows = {
        "customers": [
            {"name": "Acme Trading", "email": "acme@example.com", "paymentTerms": "30", **party},
            {"name": "Beta Sdn Bhd", "email": "beta@example.com", "phone": "+60387654321"},
        ],
        "suppliers": [
            {"name": "Parts Co", "email": "parts@example.com", **party},
            {"name": "Tools Co", "email": "tools@example.com", "taxNumber": "123456789012"},
        ],
        "items": [
            {"itemCode": "BOLT-01", "name": "Bolt", "type": "inventory", "costPrice": "1.20"},
            {"itemCode": "SVC-01", "name": "Install", "type": "service", "taxCode": "SST"},
        ],
        "accounts": [
            {"code": "6300", "name": "Travel", "type": "expense"},
            {"code": "6310", "name": "Flights", "type": "expense", "parentId": "6300"},
        ],
        "journal-entries": [
            {"reference": "JE-A", "date": "2024-01-15", "lines.accountCode": "6200"},
            {"reference": "JE-A", "lines.accountCode": "1010", "lines.credit": "100.00"},
            {"reference": "JE-B", "date": "2024-01-16", "lines.accountCode": "6100"},
            {"reference": "JE-B", "lines.accountCode": "1010", "lines.credit": "40.50"},
        ],
        "invoices": [
            {"reference": "SO-1", "customerNumber": "CUST-0001", "invoiceDate": "2024-01-15"},
            {"reference": "SO-1", "items.description": "Delivery"},
            {"reference": "SO-2", "customerNumber": "CUST-0001", "invoiceDate": "2024-01-16"},
            {"reference": "SO-2", "items.description": "Setup"},
        ],
        "bills": [
            {"reference": "PO-1", "supplierNumber": "SUPP-0001", "billDate": "2024-01-15"},
            {"reference": "PO-1", "items.description": "Freight"},
            {"reference": "PO-2", "supplierNumber": "SUPP-0001", "billDate": "2024-01-16"},
            {"reference": "PO-2", "items.description": "Handling"},
        ],
        "payments": [
            {"reference": "RCPT-1", "customerNumber": "CUST-0001", "paymentDate": "2024-01-20"},
            {"reference": "RCPT-2", "customerNumber": "CUST-0001", "paymentDate": "2024-01-21"},
        ],
        "stock-adjustments": [
            {"itemCode": "WIDGET-001", "adjustmentType": "increase", "unitCost": "5.00"},
            {"itemCode": "WIDGET-001", "adjustmentType": "decrease", "reason": "Damaged"},
        ],
    }[entity]
    for position, row in enumerate(rows):
        if entity == "journal-entries" and "date" in row:
            row["lines.debit"] = "100.00" if row["reference"] == "JE-A" else "40.50"
        if entity in ("invoices", "bills"):
            row.update(trade_line, **{"items.quantity": str(position + 1)})
            row["items.unitPrice"] = "100.00"
        if entity == "payments":
            row.update({"amount": "50.00", "method": "bank_transfer"})
            row.update({"allocations.invoiceNumber": books["invoice"], "allocations.amount": "50"})
        if entity == "stock-adjustments":
            row.update({"locationCode": "WH", "quantity": "3", "date": "2024-01-15"})
            row.setdefault("reason", "Stock count")
    return rows


# Act ---------------------------------------------------------------------------------------


def upload(
    api, entity, content: bytes, *, kind="csv", mapping=None, options=None, status=200, **extra
) -> dict:
    path = f"/v1/batch/{entity}/import-{'csv' if kind == 'csv' else 'excel'}"
    form = {"file": SimpleUploadedFile(f"{entity}.{kind}", content)}
    if mapping is not None:
        form["mapping"] = json.dumps(mapping)
    if options is not None:
        form["options"] = json.dumps(options)
    response = api.post(path, form, format="multipart", **extra)
    assert response.status_code == status, response.content
    return response.json()


def csv_bytes(rows, header=None, *, delimiter=",", encoding="utf-8") -> bytes:
    header = header or list(dict.fromkeys(name for row in rows for name in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def template_header(api, entity) -> list[str]:
    text = api.get(f"/v1/batch/{entity}/template.csv").content.decode("utf-8-sig")
    return next(csv.reader(io.StringIO(text)))


_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_NUMBER = re.compile(r"\d+(\.\d+)?")


def excel_value(text: str):
    """What a person would type into the cell: real dates and numbers, text otherwise."""
    if _DATE.fullmatch(text):
        return datetime.date.fromisoformat(text)
    if _NUMBER.fullmatch(text) and len(text) < 12:
        return float(text) if "." in text else int(text)
    return text


def without_examples(sheet) -> None:
    """Blanks a template's example rows (from row 2 of its Data sheet), as a person replacing
    them does; the calculated columns keep their formulas."""
    for row in sheet.iter_rows(min_row=2):
        typed = [cell for cell in row if cell.value is not None and cell.data_type != "f"]
        if not typed:
            return
        for cell in typed:
            cell.value = None


def filled_excel_template(api, entity, rows) -> bytes:
    """The company's Excel template from the API, its example rows replaced by `rows`."""
    workbook = load_workbook(io.BytesIO(api.get(f"/v1/batch/templates/excel/{entity}").content))
    sheet = workbook["Data"]
    without_examples(sheet)
    column_of = {cell.value: cell.column for cell in sheet[1] if cell.value}
    for row_number, row in enumerate(rows, start=2):
        for name, value in row.items():
            sheet.cell(row_number, column_of[name], excel_value(value))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def results(body) -> list[dict]:
    return body["data"]["results"]


def read_back(api, entity, record_id) -> dict:
    response = api.get(f"/v1/{entity}/{record_id}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


# Every entity, CSV and Excel ------------------------------------------------------------------

KEY_FIELD = {
    "customers": "email",
    "suppliers": "email",
    "items": "itemCode",
    "accounts": "code",
    "journal-entries": "reference",
    "invoices": "reference",
    "bills": "reference",
    "payments": "reference",
    "stock-adjustments": "reason",
}

# The read API's name for a document's lines, and how many each test document has.
LINES_READ_BACK = {
    "invoices": ("lines", 2),
    "bills": ("lines", 2),
    "journal-entries": ("lines", 2),
    "payments": ("allocations", 1),
}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("entity", ENTITIES)
def test_a_filled_template_of_every_entity_creates_records_read_back_through_the_api(
    api, books, entity, kind
):
    rows = rows_for(entity, books)
    if kind == "csv":  # the template's own header row, no mapping
        content = csv_bytes(rows, template_header(api, entity))
    else:
        content = filled_excel_template(api, entity, rows)

    body = upload(api, entity, content, kind=kind)

    assert [r["status"] for r in results(body)] == ["created", "created"], results(body)
    assert [r["index"] for r in results(body)] == [0, 1]
    key = KEY_FIELD[entity]
    expected = list(dict.fromkeys(row[key] for row in rows if key in row))
    records = [read_back(api, entity, r["data"]["id"]) for r in results(body)]
    assert [record[key] for record in records] == expected
    if entity in LINES_READ_BACK:
        name, count = LINES_READ_BACK[entity]
        assert [len(record[name]) for record in records] == [count, count]
    job = BatchJob.objects.get(public_id=body["data"]["batchId"])
    assert job.source == ("csv" if kind == "csv" else "excel")


# Columns ------------------------------------------------------------------------------------

EXAMPLE_CSV = b"""name,email,phone,credit_limit,payment_terms,tax_number
"Acme Corp","billing@acme.com","+60123456789",10000,30,"123456789012"
"Tech Solutions","accounts@tech.my","+60387654321",25000,45,"987654321012"
"""
EXAMPLE_MAPPING = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "creditLimit": "credit_limit",
    "paymentTerms": "payment_terms",
    "taxNumber": "tax_number",
}


def test_the_api_example_csv_imports_with_its_mapping(api, company):
    body = upload(api, "customers", EXAMPLE_CSV, mapping=EXAMPLE_MAPPING)

    assert body["data"]["successfulRecords"] == 2
    customer = read_back(api, "customers", results(body)[1]["data"]["id"])
    assert (customer["name"], customer["creditLimit"], customer["paymentTerms"]) == (
        "Tech Solutions",
        25000,
        45,
    )


def test_a_mapping_reads_dotted_nested_fields_from_the_files_own_columns(api, company):
    content = b"Company,E-mail,Town,Land,Limit\nAcme,acme@example.com,Ipoh,SG,5000\n"
    mapping = {
        "name": "Company",
        "email": "E-mail",
        "address.city": "Town",
        "address.country": "Land",
        "creditLimit": "Limit",
    }

    body = upload(api, "customers", content, mapping=mapping)

    customer = read_back(api, "customers", results(body)[0]["data"]["id"])
    assert customer["address"]["city"] == "Ipoh" and customer["address"]["country"] == "SG"
    assert customer["creditLimit"] == 5000


def test_an_unknown_column_is_a_400_invalid_mapping_naming_it(api, company):
    body = upload(api, "customers", b"name,Fax\nAcme,123\n", status=400)

    assert body["error"]["code"] == "INVALID_MAPPING"
    assert "Fax" in body["error"]["message"]
    assert body["error"]["details"][0]["field"] == "Fax"
    assert not Customer.objects.for_company(company).exists()


def test_a_mapping_to_a_missing_column_is_a_400_invalid_mapping(api, company):
    body = upload(api, "customers", b"name\nAcme\n", mapping={"email": "Mail"}, status=400)

    assert body["error"]["code"] == "INVALID_MAPPING"
    assert body["error"]["details"] == [
        {"field": "email", "message": "Column 'Mail' is not in the file.", "code": "UNKNOWN_COLUMN"}
    ]


# Operations ---------------------------------------------------------------------------------


def test_an_operation_column_updates_and_deletes_customers_named_by_number(api, company):
    first = builders.customer(company, name="First")
    second = builders.customer(company, name="Second")
    content = csv_bytes(
        [
            {"operation": "update", "customerNumber": first.number, "name": "First Renamed"},
            {"operation": "delete", "customerNumber": second.number, "name": "Second"},
            {"operation": "", "name": "Third"},
        ]
    )

    body = upload(api, "customers", content)

    assert [r["status"] for r in results(body)] == ["updated", "deleted", "created"]
    assert read_back(api, "customers", first.public_id)["name"] == "First Renamed"
    assert api.get(f"/v1/customers/{second.public_id}").status_code == 404
    assert read_back(api, "customers", results(body)[2]["data"]["id"])["name"] == "Third"


def test_an_operation_column_updates_and_deletes_items_named_by_code(api, company):
    builders.item(company, code="KEEP-1", name="Keep")
    builders.item(company, code="DROP-1", name="Drop")
    content = b"operation,itemCode,name,sellingPrice\nupdate,KEEP-1,,9.90\ndelete,DROP-1,Drop,\n"

    body = upload(api, "items", content)

    assert [r["status"] for r in results(body)] == ["updated", "deleted"], results(body)
    (kept,) = api.get("/v1/items?itemCode=KEEP-1").json()["data"]
    assert (kept["name"], kept["sellingPrice"]) == ("Keep", 9.9)
    assert api.get("/v1/items?itemCode=DROP-1").json()["data"] == []


# Documents with lines and row numbers --------------------------------------------------------

INVOICE_HEADER = [
    "reference",
    "customerNumber",
    "invoiceDate",
    "items.description",
    "items.quantity",
    "items.unitPrice",
    "items.taxCode",
]


def invoice_csv(lines: list[list[str]]) -> bytes:
    return csv_bytes([dict(zip(INVOICE_HEADER, line, strict=True)) for line in lines])


def test_an_invoice_file_of_two_documents_of_two_lines_makes_two_invoices(api, company):
    customer = builders.customer(company)
    content = invoice_csv(
        [
            ["SO-1", customer.number, "2024-01-15", "Widget", "2", "100.00", "SST"],
            ["SO-1", "", "", "Delivery", "1", "50.25", "SST"],
            ["SO-2", customer.number, "2024-01-16", "Widget", "3", "10", "SST"],
            ["SO-2", customer.number, "2024-01-16", "Setup", "1", "5", "SST"],
        ]
    )

    body = upload(api, "invoices", content)

    assert [r["status"] for r in results(body)] == ["created", "created"]
    invoices = [read_back(api, "invoices", r["data"]["id"]) for r in results(body)]
    assert [(i["reference"], len(i["lines"]), i["subtotal"]) for i in invoices] == [
        ("SO-1", 2, 250.25),
        ("SO-2", 2, 35),
    ]
    assert [line["description"] for line in invoices[0]["lines"]] == ["Widget", "Delivery"]


def test_row_numbers_are_spreadsheet_rows_even_for_an_error_on_a_documents_second_line(
    api, company
):
    customer = builders.customer(company)
    content = invoice_csv(
        [
            ["SO-1", customer.number, "2024-01-15", "Widget", "2", "100.00", "SST"],  # row 2
            ["SO-1", "", "", "Delivery", "1", "50.25", "SST"],  # row 3
            ["", "", "", "", "", "", ""],  # row 4: blank, skipped
            ["SO-2", customer.number, "2024-01-16", "Widget", "3", "10", "SST"],  # row 5
            ["SO-2", "", "", "Broken", "-1", "5", "SST"],  # row 6: quantity
            ["SO-3", customer.number, "2024-01-16", "Widget", "1", "1", "NOPE"],  # row 7
        ]
    )

    body = upload(api, "invoices", content)

    first, second, third = results(body)
    assert first["status"] == "created"
    assert second["error"]["field"] == "items[1].quantity"
    assert second["error"]["context"]["rowNumber"] == 6
    assert third["error"]["code"] == "REFERENCE_ERROR"
    assert third["error"]["context"]["rowNumber"] == 7
    assert [r["index"] for r in results(body)] == [0, 1, 2]


def test_lines_of_one_document_that_disagree_fail_it_naming_both_rows(api, company):
    customer = builders.customer(company)
    other = builders.customer(company, name="Other")
    content = invoice_csv(
        [
            ["SO-1", customer.number, "2024-01-15", "Widget", "2", "100.00", "SST"],
            ["SO-1", other.number, "", "Delivery", "0", "50.25", "SST"],
            ["SO-2", customer.number, "2024-01-15", "Widget", "1", "1", "SST"],
        ]
    )

    body = upload(api, "invoices", content)

    failed, created = results(body)
    assert created["status"] == "created"
    assert failed["error"]["code"] == "VALIDATION_ERROR"
    details = {d["field"]: d for d in failed["error"]["details"]}
    assert details["customerNumber"]["message"] == (
        f"Row 3 has '{other.number}' but row 2 of the same document has '{customer.number}'."
    )
    assert "items[1].quantity" in details  # what parsing found is reported with it
    assert failed["error"]["context"]["rowNumber"] == 2
    assert Invoice.objects.for_company(company).count() == 1


def test_a_customer_error_reports_its_spreadsheet_row(api, company):
    content = b"name,email\nAcme,a@example.com\n\nBeta,not-an-email\n"

    body = upload(api, "customers", content)

    assert [r["status"] for r in results(body)] == ["created", "failed"]
    assert results(body)[1]["error"]["context"]["rowNumber"] == 4
    assert results(body)[1]["error"]["context"]["originalData"] == {
        "name": "Beta",
        "email": "not-an-email",
    }


def test_an_excel_error_reports_its_sheet_row(api, company):
    rows = [
        {"name": "Acme", "email": "a@example.com"},
        {},  # row 3 left blank
        {"name": "Beta", "email": "not-an-email"},
    ]

    body = upload(api, "customers", filled_excel_template(api, "customers", rows), kind="xlsx")

    assert [r["status"] for r in results(body)] == ["created", "failed"]
    assert results(body)[1]["error"]["context"]["rowNumber"] == 4
    assert results(body)[1]["index"] == 1


# Encodings and delimiters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "limit"),
    [
        (
            "name,email,creditLimit\nCafé Ümit,cafe@example.com,1000.50\n".encode("utf-8-sig"),
            1000.5,
        ),
        ("name,email,creditLimit\nCafé Ümit,cafe@example.com,1000.50\n".encode("cp1252"), 1000.5),
        ("name;email;creditLimit\nCafé Ümit;cafe@example.com;1.000,50\n".encode(), 1000.5),
        ("name\temail\tcreditLimit\nCafé Ümit\tcafe@example.com\t1000.50\n".encode(), 1000.5),
    ],
    ids=["utf-8-bom", "cp1252", "semicolon-decimal-comma", "tab"],
)
def test_encodings_and_delimiters_read_the_same_customer(api, company, content, limit):
    body = upload(api, "customers", content)

    customer = read_back(api, "customers", results(body)[0]["data"]["id"])
    assert (customer["name"], customer["email"], customer["creditLimit"]) == (
        "Café Ümit",
        "cafe@example.com",
        limit,
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("name,email\nAcme,a@example.com\n".encode("utf-16-le"), "UTF-16"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20, "binary"),
        (b"PK\x03\x04" + b"\x00" * 100, "import-excel"),
    ],
    ids=["utf-16-without-bom", "binary", "xlsx-sent-as-csv"],
)
def test_a_file_that_is_not_csv_text_is_refused_clearly(api, company, content, says):
    body = upload(api, "customers", content, status=400)

    assert body["error"]["code"] == "INVALID_FILE"
    assert says in body["error"]["message"]


def test_a_csv_sent_as_excel_is_refused_clearly(api, company):
    body = upload(api, "customers", b"name\nAcme\n", kind="xlsx", status=400)

    assert body["error"]["code"] == "INVALID_FILE"
    assert "not an .xlsx" in body["error"]["message"]


# Request-level refusals ---------------------------------------------------------------------


def test_an_upload_over_the_limit_is_413_and_nothing_is_read(api, company, settings):
    settings.BATCH_MAX_UPLOAD_BYTES = 1_000
    content = csv_bytes([{"name": f"Customer {i}"} for i in range(200)])

    body = upload(api, "customers", content, status=413)

    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert not Customer.objects.for_company(company).exists()


def test_a_body_that_is_not_multipart_is_415(api, company):
    response = api.post("/v1/batch/customers/import-csv", b"name\nAcme\n", content_type="text/csv")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "RateLimit-Remaining" in response


def test_a_malformed_multipart_body_is_400(api, company):
    response = api.post(
        "/v1/batch/customers/import-csv", b"garbage", content_type="multipart/form-data"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"


def test_an_unknown_entity_is_404(api, company):
    body = upload(api, "widgets", b"name\nAcme\n", status=404)

    assert body["error"]["code"] == "NOT_FOUND"


def test_a_form_without_a_file_is_400(api, company):
    response = api.post("/v1/batch/customers/import-csv", {"mapping": "{}"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "file"


def test_a_header_without_rows_is_400(api, company):
    body = upload(api, "customers", b"name,email\n", status=400)

    assert body["error"]["code"] == "INVALID_FILE"


def test_a_file_over_the_row_limit_is_refused_and_nothing_persists(api, company, settings):
    settings.BATCH_FILE_MAX_ROWS = 5
    content = csv_bytes([{"name": f"Customer {i}"} for i in range(6)])

    body = upload(api, "customers", content, status=400)

    assert body["error"]["code"] == "INVALID_FILE"
    assert "more than 5 rows" in body["error"]["message"]
    assert not Customer.objects.for_company(company).exists()


@pytest.mark.parametrize(
    ("options", "code"), [({"fast": True}, "INVALID_REQUEST"), ("{oops", "INVALID_JSON")]
)
def test_bad_options_are_refused(api, company, options, code):
    form = {"file": SimpleUploadedFile("c.csv", b"name\nAcme\n")}
    form["options"] = options if isinstance(options, str) else json.dumps(options)

    response = api.post("/v1/batch/customers/import-csv", form, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


UNCLOSED_QUOTE = b'name,email\nAcme,acme@example.com\n"unterminated,x@ex.com\n'


@pytest.mark.parametrize("options", [None, {"async": True}], ids=["sync", "async"])
def test_a_quote_that_is_never_closed_is_a_400_naming_its_line_and_imports_nothing(
    api, company, options
):
    body = upload(api, "customers", UNCLOSED_QUOTE, options=options, status=400)

    assert body["error"]["code"] == "INVALID_FILE"
    assert "line 3" in body["error"]["message"]
    assert body["error"]["details"] == [{"row": 3, "line": 3}]
    assert not Customer.objects.for_company(company).exists()
    assert not BatchJob.objects.for_company(company).exists()


def test_a_quote_never_closed_at_the_end_of_a_file_too_large_for_one_batch_makes_no_job(
    api, company
):
    rows = b"".join(b"Customer %d,c%d@example.com\n" % (n, n) for n in range(1_200))
    content = b"name,email\n" + rows + b'"unterminated,x@ex.com\n'

    body = upload(api, "customers", content, status=400)

    assert body["error"]["details"] == [{"row": 1_202, "line": 1_202}]
    assert not BatchJob.objects.for_company(company).exists()
    assert not BatchChunk.objects.exists()


# Options, limits, idempotency ----------------------------------------------------------------


def test_validate_only_runs_every_rule_and_persists_nothing(api, company):
    body = upload(api, "customers", EXAMPLE_CSV, options={"validateOnly": True})

    assert [r["status"] for r in results(body)] == ["validated", "validated"]
    assert not Customer.objects.for_company(company).exists()


def test_options_async_makes_a_job_even_of_a_small_file(api, company):
    body = upload(api, "customers", EXAMPLE_CSV, options={"async": True}, status=202)

    job = BatchJob.objects.get(public_id=body["data"]["jobId"])
    assert (job.mode, job.status, job.total_records, job.source) == ("async", "queued", 2, "csv")
    assert body["data"]["progressUrl"] == f"/v1/batch/jobs/{job.public_id}"


def test_the_large_batch_rate_limit_counts_the_files_rows(api, company, settings):
    settings.BATCH_LARGE_BATCH_RECORDS = 3
    settings.BATCH_LARGE_RATE_LIMIT = "1/min"
    small = csv_bytes([{"name": "Acme"}])
    large = csv_bytes([{"name": f"Customer {i}"} for i in range(5)])

    upload(api, "customers", large)
    refused = upload(api, "customers", large, status=429)
    upload(api, "customers", small)

    assert refused["error"]["code"] == "RATE_LIMITED"
    assert refused["error"]["details"][0]["policy"] == "large-batch"


@pytest.fixture
def frozen_clock(monkeypatch):
    """The middle of a rate-limit window, so no test straddles its end."""
    monkeypatch.setattr("batch.api.ratelimit.clock", lambda: 1_900_000_025.0)


@pytest.mark.parametrize("newline", ["\r", "\n", "\r\n"], ids=["cr", "lf", "crlf"])
def test_the_large_batch_limit_counts_rows_whatever_the_line_endings(
    api, company, settings, frozen_clock, newline
):
    settings.BATCH_LARGE_RATE_LIMIT = "1/min"
    lines = ["name,email"] + [f"Customer {n},c{n}@example.com" for n in range(150)]
    content = (newline.join(lines) + newline).encode()

    upload(api, "customers", content, options={"validateOnly": True})
    refused = upload(api, "customers", content, options={"validateOnly": True}, status=429)

    assert refused["error"]["details"][0]["policy"] == "large-batch"


def test_a_filled_excel_template_counts_its_rows_of_data_not_its_formula_rows(
    api, books, settings, frozen_clock
):
    settings.BATCH_LARGE_RATE_LIMIT = "1/min"
    content = filled_excel_template(api, "invoices", rows_for("invoices", books))
    form = {"options": {"validateOnly": True}}

    first = upload(api, "invoices", content, kind="xlsx", **form)
    second = upload(api, "invoices", content, kind="xlsx", **form)

    assert [r["status"] for r in results(first)] == ["validated", "validated"]
    assert results(second) == results(first)


def test_the_same_idempotency_key_and_file_replays_the_first_answer(api, company):
    first = upload(api, "customers", EXAMPLE_CSV, HTTP_IDEMPOTENCY_KEY="import-1")
    response = api.post(
        "/v1/batch/customers/import-csv",
        {"file": SimpleUploadedFile("customers.csv", EXAMPLE_CSV)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="import-1",
    )

    assert response.status_code == 200
    assert response["Idempotent-Replayed"] == "true"
    assert response.json() == first
    assert Customer.objects.for_company(company).count() == 2


# The failed-rows CSV ------------------------------------------------------------------------


def failed_rows(api, job_id) -> tuple[list[str], list[dict]]:
    response = api.get(f"/v1/batch/jobs/{job_id}/results?format=csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    return reader.fieldnames, list(reader)


def rewrite(header: list[str], rows: list[dict]) -> bytes:
    return csv_bytes(rows, header)


def test_the_failed_rows_csv_has_the_files_own_columns_and_neutralises_formulas(api, company):
    hostile = '=HYPERLINK("http://evil.example","x")'
    content = csv_bytes(
        [
            {"name": "Good", "email": "good@example.com", "phone": ""},
            {"name": hostile, "email": "bad-email", "phone": "+60123456789"},
        ]
    )
    batch_id = upload(api, "customers", content)["data"]["batchId"]

    header, rows = failed_rows(api, batch_id)

    assert header == [
        "name",
        "email",
        "phone",
        "rowNumber",
        "errorCode",
        "errorField",
        "errorMessage",
        "errorDetails",
    ]
    (row,) = rows
    assert row["name"] == "'" + hostile and row["phone"] == "'+60123456789"
    assert (row["rowNumber"], row["errorCode"], row["errorField"]) == (
        "3",
        "VALIDATION_ERROR",
        "email",
    )
    row["email"] = "fixed@example.com"

    again = upload(api, "customers", rewrite(header, rows))

    customer = read_back(api, "customers", results(again)[0]["data"]["id"])
    assert (customer["name"], customer["phone"]) == (hostile, "+60123456789")


# Async jobs of large files (a real worker) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_file_over_the_entity_maximum_is_a_job_whose_failed_rows_upload_again(
    api, company, celery_worker
):
    rows = [{"name": f"Customer {i}", "email": f"c{i}@example.com"} for i in range(1201)]
    rows[1] = {"name": "", "email": "nameless@example.com"}  # row 3
    rows[1098] = {"name": "Bad Mail", "email": "not-an-email"}  # row 1100, third chunk

    accepted = upload(api, "customers", csv_bytes(rows), status=202)["data"]

    assert (accepted["status"], accepted["totalRecords"]) == ("queued", 1201)
    job = BatchJob.objects.get(public_id=accepted["jobId"])
    assert (job.source, BatchChunk.objects.filter(job=job).count()) == ("csv", 3)
    done = finished(api, accepted["jobId"])
    assert done["status"] == "completed"
    assert (done["progress"]["successfulRecords"], done["progress"]["failedRecords"]) == (1199, 2)
    failed = api.get(f"/v1/batch/jobs/{accepted['jobId']}/results?status=failed").json()
    assert [
        (r["index"], r["error"]["context"]["rowNumber"]) for r in failed["data"]["results"]
    ] == [
        (1, 3),
        (1098, 1100),
    ]

    header, failed_rows_ = failed_rows(api, accepted["jobId"])
    failed_rows_[0]["name"] = "Customer 1"
    failed_rows_[1]["email"] = "c1098@example.com"
    again = upload(api, "customers", rewrite(header, failed_rows_))

    assert [r["status"] for r in results(again)] == ["created", "created"]
    assert Customer.objects.for_company(company).count() == 1201


@pytest.mark.django_db(transaction=True)
def test_an_invoice_job_keeps_the_row_of_each_line_and_its_failed_lines_upload_again(
    api, company, celery_worker
):
    customer = builders.customer(company)
    lines = []
    for document in range(101):  # one over the invoice maximum: a job of two chunks
        reference = f"SO-{document}"
        lines.append([reference, customer.number, "2024-01-15", "Widget", "1", "10", "SST"])
        lines.append([reference, "", "", "Delivery", "1", "5", "SST"])
    lines[201][4] = "-2"  # the last document's second line: row 203

    accepted = upload(api, "invoices", invoice_csv(lines), status=202)["data"]
    done = finished(api, accepted["jobId"])

    assert (done["progress"]["successfulRecords"], done["progress"]["failedRecords"]) == (100, 1)
    failed = api.get(f"/v1/batch/jobs/{accepted['jobId']}/results?status=failed").json()
    (result,) = failed["data"]["results"]
    assert (result["index"], result["error"]["field"]) == (100, "items[1].quantity")
    assert result["error"]["context"]["rowNumber"] == 203
    header, rows = failed_rows(api, accepted["jobId"])
    assert [row["items.description"] for row in rows] == ["Widget", "Delivery"]
    assert [row["reference"] for row in rows] == ["SO-100", "SO-100"]
    rows[1]["items.quantity"] = "2"

    again = upload(api, "invoices", rewrite(header, rows))

    assert [r["status"] for r in results(again)] == ["created"], results(again)
    assert Invoice.objects.for_company(company).count() == 101
    assert read_back(api, "invoices", results(again)[0]["data"]["id"])["subtotal"] == 20
