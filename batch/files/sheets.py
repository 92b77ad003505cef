"""A migration file's sheets → the operations of one composite request (docs/api.md "The
migration workbook").

Two shapes of file hold several entities: an .xlsx workbook with one sheet per entity (the
migration template, batch.files.workbook) and a .zip of CSV files named <entity>.csv. Each
sheet (or CSV) is read exactly as the entity's own import reads it (batch.files.mapping), its
operations tagged with their entity and sheet; sheets are read in the order the request runs
them (batch.engine.composite.ENTITY_ORDER), so operations are numbered in that order.

Which sheets count: a sheet named after an entity (case-insensitive); the template's own
"Instructions" and "Lists" and any sheet with a blank first row are left alone. A sheet of
another name that holds something is refused, naming it: a misspelt sheet would otherwise be
left out without a word. In a zip, files that are not .csv (a README, macOS's __MACOSX
folder) are left alone, a .csv of another name is refused, folders are ignored (only a
file's own name counts, and nothing is ever extracted to disk), and the archive is checked
against the limits an .xlsx is (readers.py: members, total size, compression ratio) before
anything is inflated."""

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePosixPath
from typing import BinaryIO

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from batch.engine.codes import RequestCode
from batch.engine.composite import ENTITY_ORDER
from batch.engine.fields import Detail
from batch.engine.handlers import get_handler
from batch.files.mapping import FileChunk, read_operations
from batch.files.readers import (
    MAX_ARCHIVE_MEMBERS,
    MAX_COMPRESSION_RATIO,
    MAX_XLSX_UNCOMPRESSED,
    RATIO_FLOOR,
    CsvRows,
    XlsxRows,
    cell_text,
    check_xlsx_archive,
    open_csv,
    open_xlsx,
    refuse,
)
from batch.files.templates import INSTRUCTIONS_SHEET, LISTS_SHEET
from bigledger.errors import RequestError

TEMPLATE_SHEETS = frozenset({INSTRUCTIONS_SHEET.casefold(), LISTS_SHEET.casefold()})
CSV_SUFFIX = ".csv"


@dataclass
class Migration:
    """The operations of a migration file in composite form ({entity, operation,
    referenceId, data}), and for each where it came from: its sheet, its spreadsheet row,
    its lines' rows and what the file says is wrong with it (as a FileChunk keeps them)."""

    operations: list[dict] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    line_rows: list[list[int]] = field(default_factory=list)
    problems: list[list[Detail]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.operations)

    def add(self, entity: str, sheet: str, chunk: FileChunk) -> None:
        self.operations += [{"entity": entity, **operation} for operation in chunk.operations]
        self.sheets += [sheet] * len(chunk)
        self.row_numbers += chunk.row_numbers
        self.line_rows += chunk.line_rows
        self.problems += chunk.problems


@dataclass(frozen=True)
class Sheet:
    """One entity's rows: a sheet of the workbook, or a CSV of the zip (`name` is what the
    user calls it: the sheet's name, or the CSV's path in the archive). `open()` opens its
    rows as the entity's own import opens a file."""

    name: str
    entity: str
    open: Callable[[], CsvRows | XlsxRows]


def read_migration(sheets: Iterator[Sheet], *, limit: int) -> Migration:
    """Every sheet's operations, refused as BATCH_TOO_LARGE as soon as there are more than
    `limit` (reading stops there). What is wrong with a sheet as a whole (its columns, its
    encoding) is refused naming the sheet."""
    migration = Migration()
    for sheet in sheets:
        for chunk in _sheet_chunks(sheet):
            migration.add(sheet.entity, sheet.name, chunk)
            if len(migration) > limit:
                raise _too_large(limit)
    if not migration.operations:
        raise refuse("No sheet of the file has rows below its header.")
    return migration


def _sheet_chunks(sheet: Sheet) -> Iterator[FileChunk]:
    handler = get_handler(sheet.entity)
    try:
        rows = sheet.open()
        try:
            yield from read_operations(handler, rows)
        finally:
            if isinstance(rows, XlsxRows):
                rows.close()
    except RequestError as error:  # which sheet it is about, in the message and details
        details = [
            {"sheet": sheet.name, **detail} if isinstance(detail, dict) else detail
            for detail in error.details
        ]
        raise type(error)(
            error.code, f"Sheet '{sheet.name}': {error.message}", details=details or None
        ) from None


def _too_large(limit: int) -> RequestError:
    return RequestError(
        RequestCode.BATCH_TOO_LARGE,
        f"A migration file takes at most {limit:,} operations at a time (a document with "
        "lines counts once); this one has more. Split it into several files.",
        details=[{"field": "file", "max": limit}],
    )


def entity_named(name: str) -> str | None:
    """The entity a sheet or CSV of this name holds ("Customers" → "customers")."""
    folded = name.strip().casefold()
    return next((entity for entity in ENTITY_ORDER if entity == folded), None)


def _in_entity_order(found: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(entity, name) in the order the request runs them."""
    for entity in ENTITY_ORDER:
        if entity in found:
            yield entity, found[entity]


def _claim(found: dict[str, str], entity: str, name: str, what: str) -> None:
    if entity in found:
        raise refuse(
            f"Two {what}s hold {entity}: '{found[entity]}' and '{name}'. Keep one.",
            entity=entity,
        )
    found[entity] = name


def _refuse_unknown(names: list[str], what: str) -> None:
    if names:
        raise refuse(
            f"The file has {what}s that are not entities: {', '.join(names)}. Name each "
            f"{what} after the entity it holds ({', '.join(ENTITY_ORDER)}), or remove it.",
            unknown=names,
        )


# Workbook ------------------------------------------------------------------------------------


def workbook_sheets(file: BinaryIO, *, max_rows: int) -> Iterator[Sheet]:
    """The entity sheets of an uploaded .xlsx. What is wrong with the workbook as a whole
    is raised now; each sheet is opened when it is read."""
    check_xlsx_archive(file)
    found = _entity_sheets(file)
    return (
        Sheet(name, entity, partial(open_xlsx, file, sheet=name, max_rows=max_rows))
        for entity, name in _in_entity_order(found)
    )


def _entity_sheets(file: BinaryIO) -> dict[str, str]:
    """{entity: sheet name} of the entity sheets that are not blank; refuses a sheet of
    another name that holds something."""
    try:
        workbook = load_workbook(file, read_only=True, data_only=True, keep_links=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise refuse(f"The workbook cannot be read: {error}.") from None
    found: dict[str, str] = {}
    unknown: list[str] = []
    try:
        for name in workbook.sheetnames:
            entity = entity_named(name)
            if name.casefold() in TEMPLATE_SHEETS or not _has_header(workbook[name]):
                continue
            if entity is None:
                unknown.append(name)
            else:
                _claim(found, entity, name, "sheet")
    finally:
        workbook.close()
        file.seek(0)
    _refuse_unknown(unknown, "sheet")
    return found


def _has_header(sheet) -> bool:
    first = next(sheet.iter_rows(max_row=1, values_only=True), None) or ()
    return any(cell_text(value).strip() for value in first)


# Zip of CSVs ---------------------------------------------------------------------------------


def zip_sheets(file: BinaryIO, *, max_rows: int) -> Iterator[Sheet]:
    """The <entity>.csv files of an uploaded zip, each opened as the per-entity CSV import
    opens its file, one at a time."""
    archive = _open_zip(file)
    found: dict[str, str] = {}
    unknown: list[str] = []
    members: dict[str, zipfile.ZipInfo] = {}
    for member in archive.infolist():
        name = _csv_name(member)
        if name is None:
            continue
        entity = entity_named(name[: -len(CSV_SUFFIX)])
        if entity is None:
            unknown.append(name)
            continue
        _claim(found, entity, member.filename, "file")
        members[entity] = member
    _refuse_unknown(unknown, "file")
    return (
        Sheet(name, entity, partial(_open_member, archive, members[entity], max_rows))
        for entity, name in _in_entity_order(found)
    )


def _open_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, max_rows: int) -> CsvRows:
    return open_csv(archive.open(member), max_rows=max_rows)


def _open_zip(file: BinaryIO) -> zipfile.ZipFile:
    """The archive, refused before anything is inflated when it is not a zip, is an .xlsx,
    or is over the limits an .xlsx is held to (a zip bomb)."""
    try:
        archive = zipfile.ZipFile(file)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise refuse(
            "Send a .zip of CSV files named after their entities (customers.csv …), or a "
            "single CSV to /v1/batch/{entity}/import-csv."
        ) from None
    names = {member.filename for member in members}
    if "xl/workbook.xml" in names:
        raise refuse("This is an Excel workbook, not a zip of CSVs: use import-excel.")
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise refuse("The zip has too many files.")
    total = sum(member.file_size for member in members)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise refuse(
            f"The zip expands to {total:,} bytes, over the limit of {MAX_XLSX_UNCOMPRESSED:,}.",
            uncompressed=total,
            limit=MAX_XLSX_UNCOMPRESSED,
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR and ratio > MAX_COMPRESSION_RATIO:
            raise refuse(
                f"{member.filename} is compressed {ratio:.0f} to 1, over the limit of "
                f"{MAX_COMPRESSION_RATIO:.0f}: it is refused as a possible zip bomb.",
                part=member.filename,
                ratio=round(ratio),
            )
        if member.flag_bits & 0x1:
            raise refuse(f"{member.filename} is encrypted: zip the CSVs without a password.")
    return archive


def _csv_name(member: zipfile.ZipInfo) -> str | None:
    """The file's own name when the member is a CSV to read; None for folders, other files,
    macOS's resource forks (__MACOSX/, ._name) and hidden files."""
    path = PurePosixPath(member.filename.replace("\\", "/"))
    if member.is_dir() or "__MACOSX" in path.parts or path.name.startswith("."):
        return None
    return path.name if path.name.casefold().endswith(CSV_SUFFIX) else None
