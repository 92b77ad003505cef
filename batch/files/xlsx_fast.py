"""The fast XLSX reader (python-calamine) and the checks that keep it safe.

Calamine reads a sheet about ten times faster than openpyxl's streaming reader, but it builds
the whole sheet in memory first, as a grid from its first to its last cell, and it sizes some
of its memory from what the file declares. A few kilobytes can make it ask for hundreds of
gigabytes, which aborts the process (no exception to catch): one cell at XFD1048576, a
shared strings part declaring billions of strings, or a long shared string that a million
cells refer to (each gets its own copy). So before calamine sees a workbook, the
sheet's XML is streamed out of the archive (already checked against zip bombs) and its cell
references scanned to find the cells it really spans; `<dimension>` is not trusted. Only a
sheet of at most BATCH_XLSX_FAST_MAX_CELLS cells, every one of them located by its reference,
and whose shared strings cannot expand past TEXT_BYTES_PER_CELL a cell, is given to
calamine; anything else — bigger, unusual XML, or cells calamine renders
differently from openpyxl (error cells such as #N/A, integers too long for a float) — is read
by openpyxl as before. Both give the rows the same texts (readers.cell_text)."""

import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from operator import itemgetter
from posixpath import join, normpath
from typing import BinaryIO

from defusedxml import ElementTree
from django.conf import settings
from python_calamine import CalamineError, CalamineWorkbook, WorkbookClosed

SCAN_BYTES = 1024 * 1024
DEFAULT_MAX_CELLS = 2_000_000
# Calamine copies a shared string into every cell that refers to it: the text those copies may
# take is held to this much a cell of the cap.
TEXT_BYTES_PER_CELL = 100

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_RELATION_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"

# A cell whose tag does not open with the reference calamine places it by: its refs would not
# account for every cell.
_UNPLACED_CELL = re.compile(rb'<c(?! r="[A-Z]{1,3}[0-9]{1,7}")[\s/>]')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")  # <x:c …>: a namespace prefix the scan does not read
_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3}[0-9]{1,7})"')
_DIGITS, _LETTERS = b"0123456789", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# What calamine reads otherwise than openpyxl: error cells (it gives "" for #N/A) and an
# integer of 16 digits or more (it reads a float, openpyxl the exact int).
_ERROR_CELL = re.compile(rb't="e"')  # a regex: its literal search outruns `in` on this XML
_LONG_INTEGER = re.compile(rb"<v>-?[0-9]{16}")
_UNIQUE_COUNT = re.compile(rb'<(?:\w+:)?sst\b[^>]*?\buniqueCount="([0-9]+)"')
_SMALLEST_STRING = len(b"<si/>")


@dataclass(frozen=True)
class Extent:
    """The rows and columns a sheet's cells span, from A1, and how many of its cells refer
    to a shared string."""

    rows: int
    columns: int
    shared_strings: int = 0

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def max_cells() -> int:
    return getattr(settings, "BATCH_XLSX_FAST_MAX_CELLS", DEFAULT_MAX_CELLS)


class FastSheet:
    """A sheet read with calamine: its title, its extent and its rows as cell values."""

    def __init__(self, workbook: CalamineWorkbook, title: str, extent: Extent):
        self.workbook = workbook
        self.title = title
        self.extent = extent
        self._rows = self._all_rows(workbook.get_sheet_by_name(title))

    @staticmethod
    def _all_rows(sheet) -> Iterator[list]:
        """Every row from row 1 (blank ones too, as empty lists); empty cells are ""."""
        if sheet.start is None:
            return
        first_row, first_column = sheet.start
        yield from ([] for _ in range(first_row))
        if first_column:
            pad = [""] * first_column
            yield from (pad + values for values in sheet.iter_rows())
        else:
            yield from sheet.iter_rows()

    def header(self, max_columns: int) -> list:
        """Row 1's first `max_columns` cells."""
        return next(self._rows, [])[:max_columns]

    def data_rows(self, width: int) -> Iterator[list]:
        """Every row from row 2 (blank ones too), its first `width` cells (fewer when the
        sheet is narrower: the reader pads them)."""
        return map(itemgetter(slice(width)), self._rows)  # no generator frame a row

    def close(self) -> None:
        with suppress(WorkbookClosed):  # closing twice is harmless, as with openpyxl
            self.workbook.close()


def open_fast(file: BinaryIO, choose: Callable[[list[str]], str]) -> FastSheet | None:
    """The sheet `choose` picks from the workbook's sheet names, opened with calamine when
    that is safe; None when openpyxl should read it. `choose` may refuse (an unknown sheet)."""
    cap = max_cells()
    if cap <= 0:
        return None
    try:
        with zipfile.ZipFile(file) as archive:
            parts = sheet_parts(archive)
            if parts is None:
                return None
            title = choose(list(parts))
            longest = longest_shared_string(archive)
            if parts[title] is None or longest is None:
                return None
            extent = sheet_extent(archive, parts[title])
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, ElementTree.ParseError):
        return None
    finally:
        file.seek(0)
    if extent is None or extent.cells > cap:
        return None
    if extent.shared_strings * longest > cap * TEXT_BYTES_PER_CELL:
        return None
    try:
        workbook = CalamineWorkbook.from_filelike(file)
        return FastSheet(workbook, title, extent)
    except CalamineError:
        return None
    finally:
        file.seek(0)


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str | None] | None:
    """{sheet name: its worksheet part} in the workbook's order (None for a sheet that is
    not a worksheet part found in the archive); None when the workbook part cannot be read."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels_name = "xl/_rels/workbook.xml.rels"
    if rels_name not in archive.NameToInfo:
        return None
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in ElementTree.fromstring(archive.read(rels_name)).iter(
            f"{_RELATIONSHIPS}Relationship"
        )
    }
    parts: dict[str, str | None] = {}
    for sheet in workbook.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(_RELATION_ID), "")
        part = target.lstrip("/") if target.startswith("/") else normpath(join("xl", target))
        parts[sheet.get("name", "")] = part if part in archive.NameToInfo else None
    return parts or None


def longest_shared_string(archive: zipfile.ZipFile) -> int | None:
    """The most bytes one shared string can take once read — the length of its XML bounds
    it, an escape never being shorter than what it stands for — 0 without shared strings;
    None when the part declares more strings than it can hold (calamine reserves memory for
    as many as it declares)."""
    part = next(
        (name for name in archive.NameToInfo if name.lower() == "xl/sharedstrings.xml"), None
    )
    if part is None:
        return 0
    longest = since = 0
    with archive.open(part) as stream:
        head = stream.read(SCAN_BYTES)
        declared = _UNIQUE_COUNT.search(head)
        if b"uniqueCount" in head[:4096] and declared is None:
            return None
        if declared and int(declared[1]) > archive.getinfo(part).file_size // _SMALLEST_STRING:
            return None
        chunk = head
        while chunk:
            # Gaps between one <si and the next; a <si cut by the chunk's end joins two
            # gaps, which only overstates.
            pieces = chunk.split(b"<si")
            since += len(pieces[0])
            if len(pieces) > 1:
                longest = max(longest, since, *map(len, pieces[1:-1]))
                since = len(pieces[-1])
            chunk = stream.read(SCAN_BYTES)
    return max(longest, since)


def sheet_extent(archive: zipfile.ZipFile, part: str) -> Extent | None:
    """The rows and columns the sheet's cells span, read from their references in a bounded
    stream of the part; None when a cell has no reference calamine would place it by, the
    XML holds comments, CDATA or declarations, or a cell is one openpyxl must read."""
    rows = columns = shared_strings = 0
    tail = b""
    with archive.open(part) as stream:
        while chunk := stream.read(SCAN_BYTES):
            data = tail + chunk
            cut = data.rfind(b"<", max(0, len(data) - 64))  # a tag cut by the chunk's end
            data, tail = (data[:cut], data[cut:]) if cut >= 0 else (data, b"")
            scanned = _scan(data)
            if scanned is None:
                return None
            rows, columns = max(rows, scanned[0]), max(columns, scanned[1])
            shared_strings += scanned[2]
    scanned = _scan(tail)
    if scanned is None:
        return None
    return Extent(max(rows, scanned[0]), max(columns, scanned[1]), shared_strings + scanned[2])


def _scan(data: bytes) -> tuple[int, int, int] | None:
    """(last row, last column, cells referring to a shared string) of a run of whole tags."""
    # "!" first: one byte is searched far faster than "<", which every tag starts with.
    if b"!" in data and b"<!" in data:
        return None
    if _ERROR_CELL.search(data) or _LONG_INTEGER.search(data):
        return None
    if _PREFIXED_CELL.search(data) or _UNPLACED_CELL.search(data):
        return None
    refs = _CELL_REF.findall(data)
    if not refs:
        return 0, 0, 0
    joined = b" ".join(refs)  # B12 C12 … → its rows and its columns, without a loop per cell
    rows = set(joined.translate(None, _LETTERS).split())
    columns = set(joined.translate(None, _DIGITS).split())
    last_row, last_column = max(map(int, rows)), max(map(column_number, columns))
    return last_row, last_column, data.count(b't="s"')


def column_number(letters: bytes) -> int:
    """B → 2, AA → 27."""
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number
