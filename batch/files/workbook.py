"""The migration workbook (docs/api.md "The migration workbook"): every entity's template
in one .xlsx, one sheet per entity, uploaded back as one request.

Sheets come in the order the request runs them (batch.engine.composite.ENTITY_ORDER), each
named after its entity and laid out as that entity's own Excel template lays out its "Data"
sheet (templates.write_data_sheet: the same columns, formats, validations and calculated
columns), so a sheet copied from one template to the other reads the same. An "Instructions"
sheet comes first and one hidden "Lists" sheet holds every sheet's dropdown values.

Sheets name each other by the keys users have, not by ids: an invoice names its customer by
customerNumber or customerExternalId, its items by itemCode or itemExternalId, a payment's
allocation its invoice by invoiceNumber or invoiceExternalId. Those columns' dropdowns offer
what the other sheet holds (SHEET_KEYS): a list validation over that sheet's column, e.g.
='invoices'!$N$2:$N$5001. They warn rather than stop, since a record the company already has
may be named too."""

import io
import re

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import absolute_coordinate, get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.worksheet import Worksheet

from batch.engine.composite import ENTITY_ORDER
from batch.engine.handlers import Handler
from batch.files.columns import LINE, META, REFERENCE, Column, Layout, layout_for
from batch.files.security import safe_cell
from batch.files.templates import (
    FORMULA_ROWS,
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    Lists,
    list_values,
    write_data_sheet,
)

MIGRATION = "migration"  # the name the workbook goes by in the template URL
SHEETS = ENTITY_ORDER
CROSS_SHEET_ROWS = 5_000  # rows of another sheet a cross-sheet dropdown offers

_ACCOUNTS_CODE = ("accounts", "code")
_ACCOUNTS_EXTERNAL = ("accounts", "externalId")
# A reference column (by its last name part) → the sheet and column that hold its values.
SHEET_KEYS: dict[str, tuple[str, str]] = {
    "customerNumber": ("customers", "customerNumber"),
    "customerExternalId": ("customers", "externalId"),
    "supplierNumber": ("suppliers", "supplierNumber"),
    "supplierExternalId": ("suppliers", "externalId"),
    "itemCode": ("items", "itemCode"),
    "itemExternalId": ("items", "externalId"),
    "accountCode": _ACCOUNTS_CODE,
    "salesAccountCode": _ACCOUNTS_CODE,
    "purchaseAccountCode": _ACCOUNTS_CODE,
    "accountExternalId": _ACCOUNTS_EXTERNAL,
    "salesAccountExternalId": _ACCOUNTS_EXTERNAL,
    "purchaseAccountExternalId": _ACCOUNTS_EXTERNAL,
    "parentExternalId": _ACCOUNTS_EXTERNAL,
    "invoiceNumber": ("invoices", "invoiceNumber"),
    "invoiceExternalId": ("invoices", "externalId"),
    "billNumber": ("bills", "billNumber"),
    "billExternalId": ("bills", "externalId"),
}

_BOLD = Font(bold=True)


def migration_workbook(handlers: list[type[Handler]], lists: dict[str, Lists]) -> bytes:
    """The .xlsx: Instructions, one sheet per handler (in the order given), the hidden
    Lists. `lists` holds each entity's company codes, as excel_template takes them."""
    layouts = [layout_for(handler) for handler in handlers]
    workbook = Workbook()
    instructions = workbook.active
    instructions.title = INSTRUCTIONS_SHEET
    sheets = {layout.entity: workbook.create_sheet(layout.entity) for layout in layouts}
    hidden = workbook.create_sheet(LISTS_SHEET)
    hidden.sheet_state = "hidden"
    letters = {layout.entity: _letters(layout) for layout in layouts}
    named = _write_lists(workbook, hidden, layouts, lists)
    for layout in layouts:
        dropdowns = {**named[layout.entity], **_cross_sheet(layout, letters)}
        columns = list(layout.template_columns)
        write_data_sheet(sheets[layout.entity], layout, columns, dropdowns)
    _write_instructions(instructions, layouts, letters)
    workbook.active = workbook.index(sheets[layouts[0].entity])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _letters(layout: Layout) -> dict[str, str]:
    """{column name: column letter} of a sheet, as write_data_sheet places them."""
    return {
        column.name: get_column_letter(position)
        for position, column in enumerate(layout.template_columns, start=1)
    }


def _cross_sheet(layout: Layout, letters: dict[str, dict[str, str]]) -> dict[str, str]:
    """{column name: the other sheet's range} for the reference columns whose values another
    sheet of the workbook holds."""
    ranges = {}
    for column in layout.template_columns:
        target = SHEET_KEYS.get(column.leaf)
        if column.kind != REFERENCE or target is None:
            continue
        sheet, key = target
        letter = letters.get(sheet, {}).get(key)
        if letter is None or (sheet, key) == (layout.entity, column.name):
            continue  # the sheet is not in the workbook, or the column is the key itself
        area = absolute_coordinate(f"{letter}2:{letter}{CROSS_SHEET_ROWS + 1}")
        ranges[column.name] = f"{quote_sheetname(sheet)}!{area}"
    return ranges


def _write_lists(workbook: Workbook, hidden: Worksheet, layouts, lists) -> dict[str, dict]:
    """Every sheet's dropdown values on the one hidden sheet, a column per distinct list,
    each a workbook-level name; returns {entity: {column name: defined name}}."""
    named: dict[str, dict[str, str]] = {}
    by_values: dict[tuple, str] = {}
    for layout in layouts:
        named[layout.entity] = {}
        for column in layout.template_columns:
            values = list_values(column, lists.get(layout.entity, {}))
            if not values:
                continue
            key = tuple(values)
            if key not in by_values:
                position = len(by_values) + 1
                by_values[key] = _add_list(workbook, hidden, position, layout, column, values)
            named[layout.entity][column.name] = by_values[key]
    return named


def _add_list(workbook, hidden: Worksheet, position: int, layout, column, values) -> str:
    """One list in column `position` of the hidden sheet, named after its first column."""
    letter = get_column_letter(position)
    hidden.cell(1, position, safe_cell(f"{layout.entity}.{column.name}"))
    for row, value in enumerate(values, start=2):
        hidden.cell(row, position, safe_cell(value))
    name = "list_" + re.sub(r"[^A-Za-z0-9_]", "_", f"{layout.entity}_{column.name}")
    area = absolute_coordinate(f"{letter}2:{letter}{len(values) + 1}")
    workbook.defined_names[name] = DefinedName(
        name, attr_text=f"{quote_sheetname(LISTS_SHEET)}!{area}"
    )
    return name


# Instructions --------------------------------------------------------------------------------


def _write_instructions(sheet: Worksheet, layouts: list[Layout], letters) -> None:
    title = sheet.cell(1, 1, "BigLedger migration workbook")
    title.font = Font(bold=True, size=14)
    row = 3
    for paragraph in _guidance(layouts):
        cell = sheet.cell(row, 1, safe_cell(paragraph))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
        sheet.row_dimensions[row].height = 15 * (1 + len(paragraph) // 110)
        row += 1
    for layout in layouts:
        row += 2
        sheet.cell(row, 1, layout.entity).font = Font(bold=True, size=12)
        row += 1
        for position, heading in enumerate(("Column", "Level", "Required", "What it takes"), 1):
            sheet.cell(row, position, heading).font = _BOLD
        for column in layout.template_columns:
            row += 1
            values = (column.name, _level(layout, column), _required(column), _what(column))
            for position, value in enumerate(values, start=1):
                cell = sheet.cell(row, position, safe_cell(value))
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCD", (30, 11, 11, 90), strict=True):
        sheet.column_dimensions[letter].width = width


def _level(layout: Layout, column: Column) -> str:
    if column.scope == META:
        return "row"
    if column.scope == LINE:
        return "line"
    return "document" if layout.has_lines else "record"


def _required(column: Column) -> str:
    return "calculated" if column.computed else ("yes" if column.required else "no")


def _what(column: Column) -> str:
    target = SHEET_KEYS.get(column.leaf)
    if column.kind == REFERENCE and target is not None:
        sheet, key = target
        return f"{column.description} Dropdown: the {sheet} sheet's {key} column."
    return column.description


def _guidance(layouts: list[Layout]) -> list[str]:
    order = ", ".join(layout.entity for layout in layouts)
    return [
        "One sheet per kind of record, named after it. Fill the sheets you need and leave "
        "the others empty; upload the file as it is (POST /v1/batch/import-excel). Row 1 of "
        "each sheet holds the field names: keep it. The whole file runs as one request.",
        f"The sheets run in this order, whatever their order in the file: {order}. So a row "
        "can name a record an earlier sheet creates, by the key you gave it there.",
        "Sheets name each other by your keys, not by ids: an invoice names its customer by "
        "customerNumber or customerExternalId (the customers sheet's customerNumber or "
        "externalId), its items by items.itemCode or items.itemExternalId, its accounts by "
        "items.accountCode; items name accounts by salesAccountCode and purchaseAccountCode; "
        "a payment names the invoices it pays by allocations.invoiceNumber or "
        "allocations.invoiceExternalId, bills likewise. Those columns' dropdowns offer what "
        f"the other sheet holds (its first {CROSS_SHEET_ROWS:,} rows); a record your company "
        "already has can be typed too (Excel warns, the upload checks it).",
        "Documents with lines (invoices, bills, payments, journal-entries): each row is one "
        "line; rows with the same reference, one after another, make one document. Put the "
        "document fields on its first line and repeat them or leave them blank on the others.",
        "Blank cells are left out of the record. Dates are YYYY-MM-DD (or a date cell); "
        "amounts take up to 2 decimal places. The operation column takes create, update, "
        "upsert or delete where the entity has them (blank means create).",
        f"The grey columns are calculated for you and ignored on upload; their formulas fill "
        f"the first {FORMULA_ROWS:,} rows.",
        "Each error of the upload's results names its sheet and row (error.context.sheet and "
        "rowNumber). Saved as one CSV per sheet named <sheet>.csv and zipped, the same data "
        "uploads to POST /v1/batch/import-csv.",
    ]
