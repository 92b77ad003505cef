"""CSV and XLSX readers: encodings, delimiters, caps and hostile files. No database."""

import datetime
import io
import zipfile

import pytest
from openpyxl import Workbook

from batch.files.readers import cell_text, check_xlsx_archive, open_csv, open_xlsx
from bigledger.errors import RequestError

TEXT = "name,city,notes\r\nCafé Ñandú,Kuala Lumpur,crème brûlée\r\nAcme,Ipoh,\r\n"
EXPECTED = [
    (2, {"name": "Café Ñandú", "city": "Kuala Lumpur", "notes": "crème brûlée"}),
    (3, {"name": "Acme", "city": "Ipoh", "notes": ""}),
]


def read_csv(data: bytes, **caps):
    rows = open_csv(io.BytesIO(data), **caps)
    return rows, list(rows)


class NonSeekable(io.RawIOBase):
    """An upload stream that can only be read forward."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return False

    def read(self, size=-1):
        return self._data.read(size)


def refused(call) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call()
    assert caught.value.code == "INVALID_FILE"
    return caught.value


# Encodings ---------------------------------------------------------------------------------


def test_utf8_without_bom_is_read_as_utf8():
    rows, read = read_csv(TEXT.encode("utf-8"))
    assert rows.encoding == "utf-8"
    assert read == EXPECTED


def test_utf8_with_bom_drops_the_bom_from_the_first_header():
    rows, read = read_csv(TEXT.encode("utf-8-sig"))
    assert rows.encoding == "utf-8-sig"
    assert rows.headers == ["name", "city", "notes"]
    assert read == EXPECTED


def test_bytes_that_are_not_utf8_are_read_as_windows_1252_and_say_so():
    text = TEXT.replace("crème brûlée", "crème brûlée – €5")  # en dash and euro: cp1252 only
    rows, read = read_csv(text.encode("cp1252"))
    assert rows.encoding == "cp1252"
    assert read[0][1]["notes"] == "crème brûlée – €5"


def test_bytes_undefined_in_windows_1252_fall_back_to_latin1():
    data = TEXT.encode("latin-1").replace(b"Acme", b"Ac\x81me")
    rows, read = read_csv(data)
    assert rows.encoding == "latin-1"
    assert read[1][1]["name"] == "Ac\x81me"


def test_a_utf8_file_broken_only_after_the_sample_is_still_detected_as_cp1252():
    body = "".join(f"Name {n},City,ok\r\n" for n in range(10_000))  # > 64 KiB sample
    data = ("name,city,notes\r\n" + body).encode() + "Zoë,Ipoh,é\r\n".encode("cp1252")
    rows, read = read_csv(data)
    assert rows.encoding == "cp1252"
    assert read[-1][1] == {"name": "Zoë", "city": "Ipoh", "notes": "é"}


def test_utf16_with_a_bom_is_read():
    rows, read = read_csv(TEXT.replace(",", "\t").encode("utf-16"))
    assert rows.encoding == "utf-16"
    assert rows.delimiter == "\t"
    assert read == EXPECTED


def test_utf16_without_a_bom_is_refused_clearly():
    error = refused(lambda: open_csv(io.BytesIO(TEXT.encode("utf-16-le"))))
    assert "UTF-16" in error.message and "byte-order mark" in error.message


def test_binary_junk_is_refused():
    junk = bytes(range(256)) * 64
    error = refused(lambda: open_csv(io.BytesIO(junk)))
    assert "binary" in error.message


def test_control_characters_without_nul_are_refused_as_not_text():
    junk = bytes(b for b in range(1, 32) if b not in (9, 10, 13)) * 200
    error = refused(lambda: open_csv(io.BytesIO(b"name\n" + junk)))
    assert "not text" in error.message


def test_an_xlsx_sent_as_csv_is_refused_with_a_pointer_to_import_excel():
    error = refused(lambda: open_csv(io.BytesIO(make_xlsx([["name"], ["Acme"]]))))
    assert "import-excel" in error.message


def test_an_empty_file_is_refused():
    refused(lambda: open_csv(io.BytesIO(b"  \r\n")))


def test_a_stream_that_cannot_seek_is_read_from_its_sample_onwards():
    rows = open_csv(NonSeekable(TEXT.encode("utf-8")))
    assert rows.encoding == "utf-8"
    assert list(rows) == EXPECTED


# Delimiters and layout ---------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_sniffed_from_the_header(delimiter):
    text = TEXT.replace(",", delimiter)
    rows, read = read_csv(text.encode())
    assert rows.delimiter == delimiter
    assert read == EXPECTED


def test_commas_inside_quoted_headers_do_not_win_over_semicolons():
    rows, read = read_csv(b'"name, legal";city\r\n"Acme, Sdn Bhd";Ipoh\r\n')
    assert rows.delimiter == ";"
    assert read == [(2, {"name, legal": "Acme, Sdn Bhd", "city": "Ipoh"})]


def test_excel_sep_hint_line_is_honoured_and_not_counted_as_a_row():
    rows, read = read_csv(b"sep=;\r\nname;city\r\nAcme;Ipoh\r\n")
    assert rows.delimiter == ";"
    assert read == [(2, {"name": "Acme", "city": "Ipoh"})]


def test_a_single_column_file_uses_comma():
    rows, read = read_csv(b"name\nAcme\n")
    assert rows.delimiter == ","
    assert read == [(2, {"name": "Acme"})]


def test_row_numbers_are_spreadsheet_rows_blank_rows_skipped_multiline_cells_one_row():
    data = b'name,notes\n\nAcme,"two\nlines"\n , \nBeta,x\n'
    _, read = read_csv(data)
    assert read == [
        (3, {"name": "Acme", "notes": "two\nlines"}),
        (5, {"name": "Beta", "notes": "x"}),
    ]


def test_mac_classic_line_endings_are_read():
    _, read = read_csv(b"name,city\rAcme,Ipoh\rBeta,Kuantan\r")
    assert [row for _, row in read] == [
        {"name": "Acme", "city": "Ipoh"},
        {"name": "Beta", "city": "Kuantan"},
    ]


def test_short_rows_are_padded_and_trailing_blank_headers_dropped():
    rows, read = read_csv(b"name,city,,\nAcme\n")
    assert rows.headers == ["name", "city"]
    assert read == [(2, {"name": "Acme", "city": ""})]


def test_duplicate_headers_are_refused():
    error = refused(lambda: open_csv(io.BytesIO(b"name,city,name\nA,B,C\n")))
    assert "name" in error.message


def test_more_columns_than_the_cap_are_refused():
    header = ",".join(f"c{n}" for n in range(6)).encode()
    refused(lambda: open_csv(io.BytesIO(header + b"\n"), max_columns=5))


def test_more_rows_than_the_cap_are_refused_while_reading():
    rows = open_csv(io.BytesIO(b"name\n" + b"x\n" * 4), max_rows=3)
    error = refused(lambda: list(rows))
    assert "3" in error.message


def test_a_malformed_row_is_refused_with_its_row_number():
    rows = open_csv(io.BytesIO(b"name\nok\n" + b"x" * 200_000 + b"\n"))
    error = refused(lambda: list(rows))
    assert error.details == [{"row": 3, "line": 3}]


@pytest.mark.parametrize("rest", [b"", b"Bob,bob@example.com\nCara,cara@example.com\n"])
def test_a_quote_that_is_never_closed_is_refused_naming_its_line(rest):
    rows = open_csv(io.BytesIO(b'name,email\n"unterminated,x@ex.com\n' + rest))

    error = refused(lambda: list(rows))

    assert "line 2" in error.message and "quote" in error.message
    assert error.details == [{"row": 2, "line": 2}]


def test_the_line_of_an_open_quote_counts_the_lines_of_cells_before_it():
    rows = open_csv(io.BytesIO(b'name,notes\nAcme,"two\nlines"\n"open,x\n'))

    error = refused(lambda: list(rows))

    assert error.details == [{"row": 3, "line": 4}]


def test_the_line_of_an_open_quote_counts_excels_sep_line():
    rows = open_csv(io.BytesIO(b'sep=;\nname;notes\nAcme;"two\nlines"\n"open;x\n'))

    error = refused(lambda: list(rows))

    assert error.details == [{"row": 3, "line": 5}]


def test_a_value_far_longer_than_a_cell_says_a_quote_may_be_open():
    rows = open_csv(io.BytesIO(b'name\nok\n"open\n' + b"x,y\n" * 50_000))

    error = refused(lambda: list(rows))

    assert "quote" in error.message
    assert error.details == [{"row": 3, "line": 3}]


# Counting rows --------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_rows_are_counted_whatever_the_line_endings(newline):
    data = newline.join(
        [b"name,email"] + [b"Customer %d,c%d@example.com" % (n, n) for n in range(150)]
    )

    rows = open_csv(io.BytesIO(data + newline))

    assert rows.count_rows(1000) == 150
    assert len(list(rows)) == 150


def test_counting_rows_stops_at_its_limit_and_keeps_the_rows_for_the_import():
    rows = open_csv(io.BytesIO(b"name\n" + b"".join(b"C%d\n" % n for n in range(10))))

    assert rows.count_rows(3) == 3
    assert rows.count_rows(5) == 5
    assert [row["name"] for _, row in rows] == [f"C{n}" for n in range(10)]


def test_counting_rows_counts_records_not_lines_nor_blank_rows():
    rows = open_csv(io.BytesIO(b'name,notes\n\nAcme,"two\nlines"\n , \nBeta,x\n'))

    assert rows.count_rows(100) == 2


def test_a_problem_met_while_counting_is_raised_where_the_import_meets_it():
    rows = open_csv(io.BytesIO(b'name\nAcme\n"open\n'))

    assert rows.count_rows(100) == 1
    iterator = iter(rows)
    assert next(iterator) == (2, {"name": "Acme"})
    error = refused(lambda: next(iterator))
    assert error.details == [{"row": 3, "line": 3}]


# XLSX --------------------------------------------------------------------------------------


@pytest.fixture(params=["calamine", "openpyxl"])
def xlsx_reader(request, settings):
    """The XLSX tests run against both readers: calamine (which these small sheets get by
    default) and openpyxl's streaming, the fast reader switched off."""
    if request.param == "openpyxl":
        settings.BATCH_XLSX_FAST_MAX_CELLS = 0
    return request.param


def make_xlsx(rows, *, title="Sheet", extra_sheets=()) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for name in extra_sheets:
        workbook.create_sheet(name).append(["other"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_rows_are_read_as_text_with_spreadsheet_row_numbers(xlsx_reader):
    data = make_xlsx(
        [
            ["name", "amount", "date", "active", "count"],
            ["Acme", 10.5, datetime.date(2024, 1, 15), True, 3.0],
            [None, None, None, None, None],
            ["Beta", 0.1, datetime.datetime(2024, 1, 15, 9, 30), False, 7],
        ]
    )
    rows = open_xlsx(io.BytesIO(data))
    assert rows.engine == xlsx_reader
    assert rows.headers == ["name", "amount", "date", "active", "count"]
    assert list(rows) == [
        (
            2,
            {
                "name": "Acme",
                "amount": "10.5",
                "date": "2024-01-15",
                "active": "true",
                "count": "3",
            },
        ),
        (
            4,
            {
                "name": "Beta",
                "amount": "0.1",
                "date": "2024-01-15 09:30:00",
                "active": "false",
                "count": "7",
            },
        ),
    ]


@pytest.mark.usefixtures("xlsx_reader")
def test_xlsx_reads_the_templates_data_sheet_before_the_first_sheet():
    first = make_xlsx([["name"], ["Acme"]], title="Customers")
    assert open_xlsx(io.BytesIO(first)).sheet.title == "Customers"
    other = make_xlsx([["name"], ["Acme"]], title="Customers", extra_sheets=("Data",))
    assert open_xlsx(io.BytesIO(other)).sheet.title == "Data"
    assert open_xlsx(io.BytesIO(other), sheet="Customers").sheet.title == "Customers"


@pytest.mark.usefixtures("xlsx_reader")
def test_xlsx_rows_are_counted_by_the_data_they_hold_not_the_formulas_below_them():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["quantity", "price", "amount"])
    sheet.append([2, 5])
    sheet.append([3, 7])
    for row in range(2, 1002):  # a template's formula column, filled far below the data
        sheet.cell(row, 3, f'=IF(A{row}="","",A{row}*B{row})')
    out = io.BytesIO()
    workbook.save(out)

    rows = open_xlsx(io.BytesIO(out.getvalue()))

    assert rows.count_rows(1000) == 2
    assert [number for number, _ in rows] == [2, 3]
    # The blank formula rows still count against the cap, whichever reader.
    capped = open_xlsx(io.BytesIO(out.getvalue()), max_rows=500)
    assert refused(lambda: list(capped)).message == "The sheet has more than 500 rows."


@pytest.mark.usefixtures("xlsx_reader")
def test_xlsx_unknown_sheet_is_refused():
    error = refused(lambda: open_xlsx(io.BytesIO(make_xlsx([["name"]])), sheet="Nope"))
    assert error.message == "The workbook has no sheet 'Nope'. Its sheets: Sheet."


@pytest.mark.usefixtures("xlsx_reader")
def test_xlsx_column_and_row_caps():
    wide = make_xlsx([[f"c{n}" for n in range(6)]])
    error = refused(lambda: open_xlsx(io.BytesIO(wide), max_columns=5))
    assert error.message == "The file has more than 5 columns."
    long = make_xlsx([["name"]] + [["x"]] * 4)
    rows = open_xlsx(io.BytesIO(long), max_rows=3)
    assert refused(lambda: list(rows)).message == "The sheet has more than 3 rows."
    far_over = make_xlsx([["name"]] + [["x"]] * 7)
    error = refused(lambda: open_xlsx(io.BytesIO(far_over), max_rows=3))
    assert error.message == "The sheet has more than 3 rows."


@pytest.mark.usefixtures("xlsx_reader")
def test_files_that_are_not_xlsx_are_refused_clearly():
    assert "not an .xlsx" in refused(lambda: open_xlsx(io.BytesIO(b"name,city\n"))).message
    legacy = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    assert ".xls" in refused(lambda: open_xlsx(io.BytesIO(legacy))).message
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    assert "not an .xlsx" in refused(lambda: open_xlsx(other_zip)).message


def zip_bomb(member_bytes: int) -> bytes:
    """A real workbook whose sheet is padded with a long run of spaces (valid XML
    whitespace), compressed about a thousand to one."""
    source = zipfile.ZipFile(io.BytesIO(make_xlsx([["name"], ["Acme"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            content = source.read(member.filename)
            if member.filename == "xl/worksheets/sheet1.xml":
                with archive.open(member.filename, "w") as target:
                    head, tail = content.split(b"<sheetData>", 1)
                    target.write(head)
                    block = b" " * (1024 * 1024)
                    for _ in range(member_bytes // len(block)):
                        target.write(block)
                    target.write(b"<sheetData>" + tail)
            else:
                archive.writestr(member, content)
    return out.getvalue()


@pytest.mark.usefixtures("xlsx_reader")
def test_a_highly_compressed_xlsx_is_refused_before_it_is_inflated():
    bomb = zip_bomb(50 * 1024 * 1024)
    assert len(bomb) < 200_000  # small on the wire
    error = refused(lambda: open_xlsx(io.BytesIO(bomb)))
    assert "zip bomb" in error.message
    assert error.details[0]["part"] == "xl/worksheets/sheet1.xml"


def test_an_xlsx_over_the_uncompressed_cap_is_refused():
    bomb = zip_bomb(3 * 1024 * 1024)
    error = refused(lambda: check_xlsx_archive(io.BytesIO(bomb), max_uncompressed=2_000_000))
    assert "expands to" in error.message


def test_an_ordinary_template_sized_workbook_passes_the_archive_check():
    rows = [["name", "email", "amount"]] + [
        [f"Customer {n}", f"c{n}@example.com", n * 1.25] for n in range(20_000)
    ]
    check_xlsx_archive(io.BytesIO(make_xlsx(rows)))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (12, "12"),
        (12.0, "12"),
        (0.1, "0.1"),
        (True, "true"),
        (datetime.datetime(2024, 1, 15), "2024-01-15"),
        (datetime.date(2024, 1, 15), "2024-01-15"),
        ("  Acme ", "  Acme "),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text
