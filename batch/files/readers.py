"""Streaming readers for uploaded CSV and XLSX files.

Both yield (row_number, {header: text}) where row 1 is the header and row_number is the row
a spreadsheet shows; blank rows are skipped; every value is a string ("" when empty). Before
the import reads them, `count_rows(up_to)` may read ahead to count the data rows (the rate
limiter's question); the rows it read are kept, so the file is still read once. A CSV
row with more values than the header has keeps the surplus under the key None (usually a
value with an unquoted delimiter: mapping reports it); XLSX cells right of the header are
not read. CSV is decoded chunk by chunk, never held whole. An XLSX sheet is read with calamine
when it is small enough to hold in memory (batch.files.xlsx_fast checks that from its cells
before calamine sees it), else streamed with openpyxl's read-only mode (which parses through
defusedxml when installed, as it is here).

Anything wrong with the file as a whole raises RequestError(INVALID_FILE). Most of that is
found when the reader opens (encoding, delimiter, header, archive sizes); a few problems can
only be seen while reading (a row over MAX_ROWS, a quote that is never closed, bytes that are
not of the detected encoding in a stream that cannot be scanned ahead) and raise from the
iteration."""

import codecs
import csv
import datetime
import itertools
import re
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import BinaryIO

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from batch.files import xlsx_fast
from bigledger.errors import RequestError

INVALID_FILE = "INVALID_FILE"

MAX_ROWS = 1_000_000  # data rows, the header excluded
MAX_COLUMNS = 200
MAX_LINE_CHARS = 1_000_000  # one physical CSV line
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024  # all members of the archive together
MAX_COMPRESSION_RATIO = 100  # per member, for members over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_ARCHIVE_MEMBERS = 10_000

CHUNK_BYTES = 1024 * 1024
SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")
DATA_SHEET = "Data"  # the templates' data sheet; read before the first sheet when present

EXTRA_CELLS = None  # key of the values a CSV row has beyond its header (as csv.DictReader)

Row = tuple[int, dict[str | None, str]]


def refuse(message: str, **details) -> RequestError:
    return RequestError(INVALID_FILE, message, details=[details] if details else None)


class DataRows:
    """One pass over a file's data rows, which `count_rows` may read ahead of."""

    def __init__(self):
        self._source: Iterator[Row] | None = None
        self._ahead: deque[Row] = deque()
        self._failure: RequestError | None = None

    def _read(self) -> Iterator[Row]:
        raise NotImplementedError

    def _rows(self) -> Iterator[Row]:
        if self._source is None:
            self._source = self._read()
        return self._source

    def count_rows(self, up_to: int) -> int:
        """How many data rows the file holds (blank rows are not), counting no further than
        `up_to`. The rows are read as the import reads them and kept for it, so no more than
        `up_to` are held; a problem met on the way is raised when the import reaches it."""
        while len(self._ahead) < up_to and self._failure is None:
            try:
                row = next(self._rows(), None)
            except RequestError as error:
                self._failure = error
                break
            if row is None:
                break
            self._ahead.append(row)
        return len(self._ahead)

    def check_whole(self) -> bool:
        """Whether reading the rest of the file is known to raise nothing: found without
        reading the import's rows (CsvRows reads the file once more, ahead; a sheet held
        in memory knows its extent). What it finds wrong is raised now."""
        if self._failure is not None:
            raise self._failure
        return False

    def __iter__(self) -> Iterator[Row]:
        while self._ahead:
            yield self._ahead.popleft()
        if self._failure is not None:
            raise self._failure
        yield from self._rows()


# CSV ---------------------------------------------------------------------------------------


class CsvRows(DataRows):
    """An opened CSV file: its encoding, delimiter and header, and its rows (one pass)."""

    def __init__(self, file: BinaryIO, *, max_rows: int = MAX_ROWS, max_columns: int = MAX_COLUMNS):
        super().__init__()
        self.max_rows = max_rows
        sample = file.read(SAMPLE_BYTES)
        if not sample.strip():
            raise refuse("The file is empty.")
        scan = _scan(file, sample)
        self.encoding = _detect_encoding(sample, scan)
        decoded = sample.decode(self.encoding, errors="replace").lstrip("\ufeff")
        newline = "\r" if "\r" in decoded and "\n" not in decoded else "\n"
        self.delimiter, self._sep_line = _sniff_delimiter(decoded)
        self._file, self._newline = file, newline
        self._records = self._open_records(_rewound(file, sample))
        self.headers = _header(self._records.next(1), max_columns)

    def _open_records(self, chunks: Iterator[bytes]) -> "_Records":
        return _Records(
            _text_lines(chunks, self.encoding, self._newline),
            self.delimiter,
            self.encoding,
            sep_line=self._sep_line,
        )

    def check_whole(self) -> bool:
        """Read the file once more, ahead of the import, as far as the import's problems
        with it are found (records, not rows: csv.reader's work in C, mostly), and raise the
        first now. False for a stream that cannot be read twice."""
        super().check_whole()
        if not _seekable(self._file):
            return False
        position = self._file.tell()
        try:
            records = self._open_records(_rewound(self._file, b""))
            records.next(1)  # the header
            for row_number in itertools.count(2):
                if records.next(row_number) is None:
                    return True
                self._check_row_count(row_number)
        finally:
            self._file.seek(position)

    def _check_row_count(self, row_number: int) -> None:
        if row_number > self.max_rows + 1:
            raise refuse(f"The file has more than {self.max_rows:,} rows.", row=row_number)

    def _read(self) -> Iterator[Row]:
        headers, width = self.headers, len(self.headers)
        for row_number in itertools.count(2):
            record = self._records.next(row_number)
            if record is None:
                return
            self._check_row_count(row_number)
            if not "".join(record).strip():
                continue  # a blank row
            if len(record) < width:
                record += [""] * (width - len(record))
            row = dict(zip(headers, record, strict=False))
            if len(record) > width and any(value.strip() for value in record[width:]):
                row[EXTRA_CELLS] = record[width:]
            yield row_number, row


class _Records:
    """A CSV file's records from its decoded lines, refused as the import refuses them."""

    def __init__(self, lines: Iterator[str], delimiter: str, encoding: str, *, sep_line: bool):
        self._lines, self.encoding = lines, encoding
        self._lines_before = 0  # lines of the file before those csv.reader counts
        if sep_line:
            next(self._lines, None)  # Excel's "sep=;" line is not a row of the sheet
            self._lines_before = 1
        self._records = csv.reader(lines, delimiter=delimiter)

    def next(self, row_number: int) -> list[str] | None:
        # Where the record starts (a quoted value may span lines): csv.reader counts lines.
        line = self._lines_before + self._records.line_num + 1
        try:
            record = next(self._records, None)
        except UnicodeDecodeError:
            raise refuse(
                f"Row {row_number} is not valid {self.encoding} text. Save the file as UTF-8.",
                row=row_number,
            ) from None
        except csv.Error as error:
            raise refuse(_unreadable(error, row_number, line), row=row_number, line=line) from None
        # csv.reader ends a record at a line break outside quotes; one it could only end at
        # the end of the file (the lines' generator has finished: it has no frame) opened a
        # quote that never closed (it would swallow every row after it into one value).
        if record is not None and self._lines.gi_frame is None:
            raise refuse(
                f"Row {row_number} (line {line}) opens a quote that is never closed. "
                'Close it, or double a quote that is part of a value ("").',
                row=row_number,
                line=line,
            )
        return record


def _unreadable(error: csv.Error, row_number: int, line: int) -> str:
    if "field larger than field limit" in str(error):
        return (
            f"Row {row_number} (line {line}) holds a value over {csv.field_size_limit():,} "
            "characters: most likely a quote opened there is never closed."
        )
    return f"Row {row_number} (line {line}) cannot be read: {error}."


def open_csv(
    file: BinaryIO, *, max_rows: int = MAX_ROWS, max_columns: int = MAX_COLUMNS
) -> CsvRows:
    """Open an uploaded CSV (binary file object). UTF-8 with or without BOM; UTF-16 with a
    BOM; otherwise Windows-1252 (or Latin-1 when the bytes are not valid cp1252) — the
    choice is `rows.encoding`. Comma, semicolon or tab, from the header line."""
    return CsvRows(file, max_rows=max_rows, max_columns=max_columns)


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAGIC = (
    (b"PK\x03\x04", "This is an Excel (.xlsx) or other zip file, not a CSV: use import-excel."),
    (b"\xd0\xcf\x11\xe0", "This is a legacy Excel (.xls) file, not a CSV: save it as CSV UTF-8."),
    (b"%PDF", "This is a PDF, not a CSV."),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_NOT_CP1252 = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")  # undefined in Windows-1252


@dataclass
class _Scan:
    """What one pass over the raw bytes found (only the sample when the stream cannot be
    read twice)."""

    valid_utf8: bool
    not_cp1252: bool


def _scan(file: BinaryIO, sample: bytes) -> _Scan:
    decoder = codecs.getincrementaldecoder("utf-8")()
    seekable = _seekable(file)
    valid, not_cp1252 = True, False
    for chunk in _rewound(file, b"") if seekable else [sample]:
        not_cp1252 = not_cp1252 or bool(_NOT_CP1252.search(chunk))
        if valid:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                valid = False
    if valid and seekable:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    return _Scan(valid, not_cp1252)


def _detect_encoding(sample: bytes, scan: _Scan) -> str:
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            if encoding == "utf-8-sig" and not scan.valid_utf8:
                raise refuse("The file starts as UTF-8 but is not valid UTF-8 text.")
            return encoding
    for magic, message in _MAGIC:
        if sample.startswith(magic):
            raise refuse(message)
    if b"\x00" in sample:
        raise refuse(_nul_message(sample))
    encoding = "utf-8"
    if not scan.valid_utf8:  # Windows-1252, unless it has bytes that code page leaves undefined
        encoding = "latin-1" if scan.not_cp1252 else "cp1252"
    text = sample.decode(encoding, errors="replace")
    if len(_CONTROL.findall(text)) > max(2, len(text) // 100):
        raise refuse("The file is not text (it holds control characters): upload a CSV.")
    return encoding


def _nul_message(sample: bytes) -> str:
    odd_nuls = sample[1::2].count(0)
    even_nuls = sample[0::2].count(0)
    if max(odd_nuls, even_nuls) > len(sample) // 4:
        return (
            "The file looks like UTF-16 text without a byte-order mark. "
            "Save it as CSV UTF-8 (or UTF-16 with a BOM)."
        )
    return "The file is binary, not CSV text."


def _seekable(file) -> bool:
    try:
        return bool(file.seekable())
    except (AttributeError, ValueError):
        return False


def _rewound(file: BinaryIO, sample: bytes) -> Iterator[bytes]:
    """The file's bytes from its start, in chunks; a stream that cannot seek starts with the
    sample already read."""
    if _seekable(file):
        file.seek(0)
    elif sample:
        yield sample
    while chunk := file.read(CHUNK_BYTES):
        yield chunk


def _text_lines(chunks: Iterable[bytes], encoding: str, newline: str) -> Iterator[str]:
    """Decoded lines, ends kept (what csv.reader wants from a file opened with newline='')."""
    decoder = codecs.getincrementaldecoder(encoding)()
    pending = ""
    for chunk in itertools.chain(chunks, [None]):
        text = pending + decoder.decode(chunk or b"", final=chunk is None)
        lines = text.split(newline)
        pending = lines.pop()
        if len(pending) > MAX_LINE_CHARS:
            raise refuse(f"A line of the file is longer than {MAX_LINE_CHARS:,} characters.")
        for line in lines:
            yield line + newline
    if pending:
        yield pending


_SEP_HINT = re.compile(r"sep=(.)\r?$")


def _sniff_delimiter(text: str) -> tuple[str, bool]:
    """The delimiter the header line uses most (outside quotes); comma when none.
    Excel's first-line hint "sep=;" is honoured. Returns (delimiter, skip the hint line)."""
    first = text.splitlines()[0] if text else ""
    hint = _SEP_HINT.fullmatch(first)
    if hint and hint[1] in DELIMITERS:
        return hint[1], True
    unquoted = re.sub(r'"[^"]*"', "", first)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])  # ties: the first
    return (best if counts[best] else ","), False


def _header(record: list[str] | None, max_columns: int) -> list[str]:
    if record is None:
        raise refuse("The file has no header row.")
    headers = [str(value).strip().lstrip("\ufeff") for value in record]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise refuse("The header row (row 1) is empty.")
    if len(headers) > max_columns:
        raise refuse(f"The file has more than {max_columns} columns.", columns=len(headers))
    seen: set[str] = set()
    duplicates = sorted({h for h in headers if h and (h in seen or seen.add(h))})
    if duplicates:
        raise refuse(
            f"Columns appear more than once in the header: {', '.join(duplicates)}.",
            columns=duplicates,
        )
    return headers


# XLSX --------------------------------------------------------------------------------------


class XlsxRows(DataRows):
    """An opened XLSX workbook's data sheet: its header and rows (one pass). Read with
    calamine when batch.files.xlsx_fast finds it safe (`engine` says which), else streamed
    with openpyxl; the rows are the same either way."""

    def __init__(
        self,
        file: BinaryIO,
        *,
        sheet: str | None = None,
        max_rows: int = MAX_ROWS,
        max_columns: int = MAX_COLUMNS,
        max_uncompressed: int = MAX_XLSX_UNCOMPRESSED,
        max_ratio: float = MAX_COMPRESSION_RATIO,
    ):
        super().__init__()
        check_xlsx_archive(file, max_uncompressed=max_uncompressed, max_ratio=max_ratio)
        choose = partial(_choose_sheet, name=sheet)
        self.sheet = xlsx_fast.open_fast(file, choose) or _StreamedSheet.open(file, choose)
        self.engine = "calamine" if isinstance(self.sheet, xlsx_fast.FastSheet) else "openpyxl"
        self.max_rows = max_rows
        try:
            first = self.sheet.header(max_columns + 1)
            self.headers = _header([cell_text(value) for value in first or ()], max_columns)
        except Exception:
            self.close()
            raise
        # The rows the sheet declares (formatted or formula-filled ones too, so more than its
        # data rows): far over the cap, it is refused without reading it.
        if self.sheet.extent.rows - 1 > 2 * max_rows:
            self.close()
            raise refuse(f"The sheet has more than {max_rows:,} rows.")

    def check_whole(self) -> bool:
        """A sheet calamine holds in memory is read without surprises once its extent is
        within the cap; one openpyxl streams can only tell by being read."""
        super().check_whole()
        return self.engine == "calamine" and self.sheet.extent.rows <= self.max_rows + 1

    def _read(self) -> Iterator[Row]:
        headers, width = self.headers, len(self.headers)
        try:
            for row_number, values in enumerate(self.sheet.data_rows(width), start=2):
                if row_number > self.max_rows + 1:
                    raise refuse(f"The sheet has more than {self.max_rows:,} rows.")
                texts = [value if value.__class__ is str else cell_text(value) for value in values]
                texts += [""] * (width - len(texts))
                if "".join(texts).strip():  # a cell not blank (faster than any() over them)
                    yield row_number, dict(zip(headers, texts, strict=False))
            # Rows calamine leaves out at the end (formulas without a value) still count
            # against the cap, as openpyxl reads them.
            if self.sheet.extent.rows > self.max_rows + 1:
                raise refuse(f"The sheet has more than {self.max_rows:,} rows.")
        finally:
            self.close()

    def close(self) -> None:
        self.sheet.close()


def _choose_sheet(names: list[str], name: str | None) -> str:
    """`name`, else the templates' data sheet, else the first sheet."""
    if name is not None and name not in names:
        raise refuse(f"The workbook has no sheet '{name}'. Its sheets: {', '.join(names)}.")
    return name or (DATA_SHEET if DATA_SHEET in names else names[0])


class _StreamedSheet:
    """A sheet streamed with openpyxl's read-only mode (which parses through defusedxml)."""

    def __init__(self, workbook, title: str):
        self.workbook = workbook
        self.title = title
        self._sheet = workbook[title]
        self.extent = xlsx_fast.Extent(self._sheet.max_row or 1, self._sheet.max_column or 1)

    @classmethod
    def open(cls, file: BinaryIO, choose) -> "_StreamedSheet":
        try:
            workbook = load_workbook(file, read_only=True, data_only=True, keep_links=False)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            raise refuse(f"The workbook cannot be read: {error}.") from None
        try:
            return cls(workbook, choose(workbook.sheetnames))
        except Exception:
            workbook.close()
            raise

    def header(self, max_columns: int) -> tuple:
        """Row 1's first `max_columns` cells (None when empty)."""
        rows = self._sheet.iter_rows(max_row=1, max_col=max_columns, values_only=True)
        return next(rows, None) or ()

    def data_rows(self, width: int) -> Iterator[tuple]:
        """Every row from row 2 (blank ones too), its first `width` cells."""
        return self._sheet.iter_rows(min_row=2, max_col=width, values_only=True)

    def close(self) -> None:
        self.workbook.close()


def open_xlsx(
    file: BinaryIO,
    *,
    sheet: str | None = None,
    max_rows: int = MAX_ROWS,
    max_columns: int = MAX_COLUMNS,
    max_uncompressed: int = MAX_XLSX_UNCOMPRESSED,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> XlsxRows:
    """Open an uploaded .xlsx (binary, seekable file object) after checking the archive;
    reads `sheet`, else the "Data" sheet of a template, else the first sheet."""
    return XlsxRows(
        file,
        sheet=sheet,
        max_rows=max_rows,
        max_columns=max_columns,
        max_uncompressed=max_uncompressed,
        max_ratio=max_ratio,
    )


def check_xlsx_archive(
    file: BinaryIO,
    *,
    max_uncompressed: int = MAX_XLSX_UNCOMPRESSED,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> None:
    """Refuse what is not an .xlsx, and zip bombs, from the archive's directory alone —
    before openpyxl inflates anything. zipfile never inflates a member past the size its
    directory declares, so the declared sizes bound the work."""
    start = file.read(8)
    file.seek(0)
    if start.startswith(b"\xd0\xcf\x11\xe0"):
        raise refuse("This is a legacy Excel (.xls) file: save it as .xlsx (Excel Workbook).")
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise refuse("The file is not an .xlsx workbook.") from None
    finally:
        file.seek(0)
    names = {member.filename for member in members}
    if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
        raise refuse("The file is a zip archive but not an .xlsx workbook.")
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise refuse("The workbook has too many parts.")
    total = sum(member.file_size for member in members)
    if total > max_uncompressed:
        raise refuse(
            f"The workbook expands to {total:,} bytes, over the limit of {max_uncompressed:,}.",
            uncompressed=total,
            limit=max_uncompressed,
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR and ratio > max_ratio:
            raise refuse(
                f"The workbook part {member.filename} is compressed {ratio:.0f} to 1, "
                f"over the limit of {max_ratio:.0f}: it is refused as a possible zip bomb.",
                part=member.filename,
                ratio=round(ratio),
            )


def cell_text(value) -> str:
    """A cell as the text a CSV would hold: dates YYYY-MM-DD, whole floats without ".0",
    booleans true/false."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)
