"""The calamine reader: it gives the rows openpyxl gives, and a workbook that would make it
allocate without bound never reaches it. Hostile workbooks are read in a child process, so
a reader that aborts (calamine cannot raise when an allocation fails) fails the test
instead of killing pytest."""

import datetime
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from batch.engine.handlers import get_handler, registered_handlers
from batch.files import xlsx_fast
from batch.files.readers import open_xlsx
from batch.files.templates import excel_template
from bigledger.errors import RequestError

ROOT = Path(__file__).resolve().parents[3]
SHEET = "xl/worksheets/sheet1.xml"


def workbook_bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def small_workbook() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    sheet.append(["name"])
    sheet.append(["Acme"])
    return workbook_bytes(workbook)


def rewritten(data: bytes, changes: dict[str, bytes]) -> bytes:
    """The workbook with some parts replaced or added (name: content)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            archive.writestr(member, changes.get(member.filename, source.read(member.filename)))
        for name in changes.keys() - set(source.namelist()):
            archive.writestr(name, changes[name])
    return out.getvalue()


def with_sheet_xml(data: bytes, change) -> bytes:
    sheet = zipfile.ZipFile(io.BytesIO(data)).read(SHEET)
    return rewritten(data, {SHEET: change(sheet)})


def read(data: bytes, **options):
    """(engine, headers, rows), or the refusal's message."""
    try:
        rows = open_xlsx(io.BytesIO(data), **options)
        return rows.engine, rows.headers, list(rows)
    except RequestError as error:
        return error.message


def read_both(settings, data: bytes, **options):
    """What each reader makes of the workbook, the calamine one first (asserting it was
    the one used when the workbook opens)."""
    fast = read(data, **options)
    settings.BATCH_XLSX_FAST_MAX_CELLS = 0
    streamed = read(data, **options)
    settings.BATCH_XLSX_FAST_MAX_CELLS = xlsx_fast.DEFAULT_MAX_CELLS
    return fast, streamed


def assert_same(settings, data: bytes, **options):
    fast, streamed = read_both(settings, data, **options)
    if isinstance(fast, str):  # refused: by both, in the same words
        assert fast == streamed
        return fast
    assert fast[0] == "calamine"
    assert streamed[0] == "openpyxl"
    assert fast[1:] == streamed[1:]
    return fast[1:]


# Hostile workbooks -------------------------------------------------------------------------


def read_in_child(data: bytes, tmp_path: Path) -> subprocess.CompletedProcess:
    """Reads the workbook with the product reader in a fresh interpreter limited to 4 GiB
    of address space: prints the engine and the rows."""
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(data)
    code = (
        "import resource, sys, django\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "django.setup()\n"
        "from batch.files.readers import open_xlsx\n"
        "rows = open_xlsx(open(sys.argv[1], 'rb'))\n"
        "print(rows.engine, list(rows))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bigledger.settings"}
    return subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_cell_at_xfd1048576_is_read_by_openpyxl_not_calamine(tmp_path):
    far_cell = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    data = with_sheet_xml(
        small_workbook(), lambda xml: xml.replace(b"</sheetData>", far_cell + b"</sheetData>")
    )
    assert len(data) < 10_000

    child = read_in_child(data, tmp_path)

    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "openpyxl [(2, {'name': 'Acme'})]"


def with_shared_strings(data: bytes, strings: bytes) -> bytes:
    """The workbook with its inline strings "Acme" and "x" turned into references to shared
    string 0, and `strings` as its shared strings part."""
    data = with_sheet_xml(
        data,
        lambda xml: xml.replace(b't="inlineStr"><is><t>Acme</t></is>', b't="s"><v>0</v>').replace(
            b't="inlineStr"><is><t>x</t></is>', b't="s"><v>0</v>'
        ),
    )
    source = zipfile.ZipFile(io.BytesIO(data))
    types = source.read("[Content_Types].xml").replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    rels = source.read("xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>",
        b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/officeDocument/'
        b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    changes = {
        "[Content_Types].xml": types,
        "xl/_rels/workbook.xml.rels": rels,
        "xl/sharedStrings.xml": strings,
    }
    return rewritten(data, changes)


def shared_strings_part(count: str, text: bytes) -> bytes:
    return (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        + count.encode()
        + b"><si><t>"
        + text
        + b"</t></si></sst>"
    )


def test_shared_strings_declaring_billions_of_strings_are_read_by_openpyxl(tmp_path):
    strings = shared_strings_part('count="1" uniqueCount="4000000000"', b"Acme")
    data = with_shared_strings(small_workbook(), strings)

    child = read_in_child(data, tmp_path)

    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "openpyxl [(2, {'name': 'Acme'})]"


def test_a_long_shared_string_in_many_cells_is_read_by_openpyxl():
    """Calamine would copy the string into each cell: 20,000 copies of 30,000 characters
    (600 MB from a 100 KB file; a million cells would abort the process)."""
    workbook = Workbook()
    workbook.active.append(["name"])
    for _ in range(20_000):
        workbook.active.append(["x"])
    data = with_shared_strings(
        workbook_bytes(workbook),
        shared_strings_part('count="20000" uniqueCount="1"', b"y" * 30_000),
    )
    assert len(data) < 200_000
    rows = open_xlsx(io.BytesIO(data))
    assert rows.engine == "openpyxl"
    assert rows.count_rows(30_000) == 20_000
    short = with_shared_strings(
        workbook_bytes(workbook), shared_strings_part('count="20000" uniqueCount="1"', b"y" * 30)
    )
    assert open_xlsx(io.BytesIO(short)).engine == "calamine"


def test_a_sheet_over_the_cap_is_streamed_by_openpyxl(settings):
    workbook = Workbook()
    for n in range(10):
        workbook.active.append([f"c{column}" if n == 0 else n for column in range(5)])
    data = workbook_bytes(workbook)
    settings.BATCH_XLSX_FAST_MAX_CELLS = 50  # the sheet spans 10 x 5
    assert read(data)[0] == "calamine"
    settings.BATCH_XLSX_FAST_MAX_CELLS = 49
    assert read(data)[0] == "openpyxl"


def test_a_dimension_that_lies_does_not_hide_the_extent(settings):
    data = with_sheet_xml(
        small_workbook(),
        lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', xml).replace(
            b"</sheetData>",
            b'<row r="9"><c r="Q9" t="inlineStr"><is><t>far</t></is></c></row></sheetData>',
        ),
    )
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert xlsx_fast.sheet_extent(archive, SHEET) == xlsx_fast.Extent(rows=9, columns=17)
    settings.BATCH_XLSX_FAST_MAX_CELLS = 9 * 17 - 1
    assert read(data)[0] == "openpyxl"


def test_the_extent_is_found_across_the_scans_chunks(monkeypatch):
    workbook = Workbook()
    for n in range(1, 301):
        workbook.active.append([f"row {n}", n, n * 0.5])
    workbook.active["AB777"] = "last"
    archive = zipfile.ZipFile(io.BytesIO(workbook_bytes(workbook)))
    for chunk in (7, 64, 1000):
        monkeypatch.setattr(xlsx_fast, "SCAN_BYTES", chunk)
        assert xlsx_fast.sheet_extent(archive, SHEET) == xlsx_fast.Extent(rows=777, columns=28)


@pytest.mark.parametrize(
    "change",
    [
        (b'<c r="A2" ', b"<c "),  # a cell placed by its position, not its reference
        (b'<c r="A2" t="inlineStr"', b'<c t="inlineStr" r="A2"'),  # the reference not first
        (b'<c r="A2" ', b'<c\tr="A2" '),  # a tab before the reference
        (b'<c r="A2" ', b'<c r="a2" '),  # a reference the scan does not read
        (b"<sheetData>", b"<sheetData><!-- a comment -->"),
        (b"<is><t>Acme</t>", b"<is><t><![CDATA[Acme]]></t>"),
    ],
    ids=[
        "cell without reference",
        "reference not first",
        "tab before reference",
        "lowercase reference",
        "comment",
        "cdata",
    ],
)
def test_xml_the_scan_cannot_vouch_for_is_read_by_openpyxl(change):
    data = with_sheet_xml(small_workbook(), lambda xml: xml.replace(*change))
    assert read(data) == ("openpyxl", ["name"], [(2, {"name": "Acme"})])


def test_error_cells_are_read_by_openpyxl_as_their_error(settings):
    workbook = Workbook()
    workbook.active.append(["name", "code"])
    workbook.active.append(["Acme", "#N/A"])  # openpyxl writes an error cell (t="e")
    assert read(workbook_bytes(workbook)) == (
        "openpyxl",
        ["name", "code"],
        [(2, {"name": "Acme", "code": "#N/A"})],
    )


def test_an_integer_too_long_for_a_float_is_read_by_openpyxl_exactly():
    data = with_sheet_xml(
        small_workbook(),
        lambda xml: xml.replace(
            b'<c r="A2" t="inlineStr"><is><t>Acme</t></is></c>',
            b'<c r="A2" t="n"><v>12345678901234567</v></c>',
        ),
    )
    assert read(data) == ("openpyxl", ["name"], [(2, {"name": "12345678901234567"})])


# Same rows as openpyxl ---------------------------------------------------------------------

VALUES = [
    "  Acme  ",
    "",
    None,
    0,
    -7,
    12.0,
    0.1 + 0.2,
    1e20,
    1e-7,
    -0.0,
    123456789.125,
    True,
    False,
    datetime.date(2024, 2, 29),
    datetime.datetime(2024, 1, 15, 9, 30, 5),
    datetime.datetime(2024, 1, 15),
    datetime.time(17, 45),
    "Café Ñandú ✓",
    "=not a formula",
    "0012",
]


def varied(row: int, column: int):
    return VALUES[(row * 7 + column) % len(VALUES)]


@pytest.mark.parametrize("entity", sorted(registered_handlers()))
def test_each_excel_template_filled_with_varied_values_reads_the_same(settings, entity):
    workbook = load_workbook(io.BytesIO(excel_template(get_handler(entity))))
    sheet = workbook["Data"]
    width = sheet.max_column
    for row in range(2, 60):
        for column in range(1, width + 1):
            cell = sheet.cell(row, column)
            if cell.data_type != "f":  # the template's own formula columns stay
                cell.value = varied(row, column)
    sheet.merge_cells(start_row=61, start_column=1, end_row=62, end_column=min(width, 3))
    sheet.cell(61, 1).value = "merged"
    sheet.cell(70, 1).value = "after blank rows"

    data = workbook_bytes(workbook)
    headers, rows = assert_same(settings, data)

    assert [number for number, _ in rows][-2:] == [61, 70]
    assert_same(settings, data, sheet="Instructions")


def test_cached_values_of_formulas_are_read_as_openpyxl_reads_them(settings):
    workbook = Workbook()
    workbook.active.append(["quantity", "price", "amount", "label", "flag"])
    workbook.active.append([2, 5, None, None, None])
    cells = (
        b'<c r="C2"><f>A2*B2</f><v>10</v></c>'
        b'<c r="D2" t="str"><f>"x"&amp;A2</f><v>x2</v></c>'
        b'<c r="E2" t="b"><f>A2&gt;1</f><v>1</v></c>'
    )
    data = with_sheet_xml(
        workbook_bytes(workbook),
        lambda xml: re.sub(rb'(<c r="B2"[^>]*>.*?</c>)', lambda m: m[1] + cells, xml, count=1),
    )
    _, rows = assert_same(settings, data)
    assert rows == [
        (2, {"quantity": "2", "price": "5", "amount": "10", "label": "x2", "flag": "true"})
    ]


def test_the_data_sheet_a_named_sheet_and_an_offset_sheet_read_the_same(settings):
    workbook = Workbook()
    workbook.active.title = "Notes"
    workbook.active["C3"] = "not row 1"
    data_sheet = workbook.create_sheet("Data")
    data_sheet.append(["name", "amount"])
    data_sheet.append(["Acme", 1.5])
    other = workbook.create_sheet("Other")
    other["B1"], other["C1"], other["C4"] = "name", "city", "Ipoh"
    data = workbook_bytes(workbook)

    assert assert_same(settings, data) == (
        ["name", "amount"],
        [(2, {"name": "Acme", "amount": "1.5"})],
    )
    assert assert_same(settings, data, sheet="Other") == (
        ["", "name", "city"],
        [(4, {"": "", "name": "", "city": "Ipoh"})],
    )
    assert assert_same(settings, data, sheet="Notes") == "The header row (row 1) is empty."
    assert assert_same(settings, data, sheet="Nope").startswith("The workbook has no sheet 'Nope'")


def test_the_caps_refuse_in_the_same_words(settings):
    wide = Workbook()
    wide.active.append([f"c{n}" for n in range(8)])
    assert (
        assert_same(settings, workbook_bytes(wide), max_columns=7)
        == "The file has more than 7 columns."
    )
    long = Workbook()
    for n in range(12):
        long.active.append([f"row {n}"])
    assert (
        assert_same(settings, workbook_bytes(long), max_rows=5) == "The sheet has more than 5 rows."
    )
    fast, streamed = read_both(settings, workbook_bytes(long), max_rows=10)
    assert isinstance(fast, str) and fast == streamed == "The sheet has more than 10 rows."


def test_an_exported_dataset_reads_back_the_same(settings):
    """A round trip: what the admin's export (tablib) writes, both readers read alike."""
    import tablib

    dataset = tablib.Dataset(headers=["code", "name", "balance", "opened", "active"])
    for n in range(200):
        dataset.append(
            [f"C{n:04}", f"Customer {n}", n * 1.1, datetime.date(2024, 1, 1 + n % 28), n % 2 == 0]
        )
    data = dataset.export("xlsx")

    headers, rows = assert_same(settings, data)

    assert headers == ["code", "name", "balance", "opened", "active"]
    assert rows[3] == (
        5,
        {
            "code": "C0003",
            "name": "Customer 3",
            "balance": "3.3",
            "opened": "2024-01-04",
            "active": "false",
        },
    )
    assert len(rows) == 200
