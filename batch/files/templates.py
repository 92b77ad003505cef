"""CSV and Excel templates for a handler's files; a filled template uploads back as is.

Both carry the same example rows (example_rows), valid as they are: a template uploaded
unchanged with validateOnly validates, so a person sees what a good row looks like before
replacing the examples with their own.

The Excel template has three sheets:
- "Instructions": what each column takes, whether it is required, and how rows are grouped;
  it says which rows of "Data" are examples to replace;
- "Data": the header row (the field names readers.py and mapping.py understand), frozen, a
  comment on each header cell, validation on each column (dropdowns for enumerations and for
  the company's own codes, numbers, dates, text lengths) and, for entities with lines, the
  calculated columns (line amount; journal running totals and balance check) filled with
  formulas — grey, and ignored on upload (layout.computed_columns); then the example rows,
  typed as a person types them (dates as dates, amounts and counts as numbers) so the
  columns' validation accepts them. An entity with lines keeps ONE data sheet with one row
  per line: the document fields go on a document's first line and may be repeated or left
  blank on its other lines, and the reference is repeated on every line (it is what groups
  the lines). One sheet keeps the file a plain table that also saves as CSV and reads back
  through the same code;
- "Lists" (hidden): the dropdowns' values, each list a named range."""

import csv
import datetime
import io
import re
from decimal import Decimal

from django.db.models import QuerySet
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import (
    absolute_coordinate,
    column_index_from_string,
    get_column_letter,
    quote_sheetname,
)
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from batch.engine.handlers import Handler
from batch.files.columns import (
    BALANCE_CHECK,
    BOOLEAN,
    CHOICE,
    COUNTRY,
    DATE,
    EMAIL,
    HEADER,
    INTEGER,
    LINE,
    LINE_AMOUNT,
    META,
    MONEY,
    NUMBER,
    OPERATION_COLUMN,
    PHONE,
    REFERENCE,
    RUNNING_CREDIT,
    RUNNING_DEBIT,
    TEXT,
    Column,
    Layout,
    layout_for,
)
from batch.files.readers import DATA_SHEET
from batch.files.security import safe_cell

INSTRUCTIONS_SHEET = "Instructions"
LISTS_SHEET = "Lists"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LAST_ROW = 1_048_576  # Excel's last row: validations cover the whole column
FORMULA_ROWS = 1_000  # rows pre-filled with the calculated columns' formulas
AUTHOR = "BigLedger"

Lists = dict[str, list[str]]

_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", start_color="DDEBF7")
_COMPUTED_FILL = PatternFill("solid", start_color="EDEDED")
_COMPUTED_FONT = Font(italic=True, color="595959")
_NUMBER_FORMATS = {DATE: "yyyy-mm-dd", MONEY: "#,##0.00", NUMBER: "General", INTEGER: "0"}
_TEXT_FORMAT = "@"  # codes, phones and postcodes stay text ("0123", "+60…")


# CSV ---------------------------------------------------------------------------------------

TEMPLATE_LIST_LIMIT = 5_000  # values per dropdown list of a template


def template_list(queryset: QuerySet, field: str) -> list[str]:
    """One dropdown of a template: at most TEMPLATE_LIST_LIMIT values of `field`, in order.
    For handlers' `template_lists(company)`."""
    values = queryset.order_by(field).values_list(field, flat=True)[:TEMPLATE_LIST_LIMIT]
    return [str(value) for value in values]


def csv_template(handler: type[Handler], lists: Lists | None = None) -> str:
    """The header row of the handler's columns and an example row (for an entity with
    lines, two rows: one document with two lines). Examples use the company's own codes
    from `lists` when given."""
    layout = layout_for(handler)
    columns = [column for column in layout.template_columns if not column.computed]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(column.name) for column in columns])
    for row in example_rows(handler, lists or {}):
        writer.writerow([safe_cell(row.get(column.name, "")) for column in columns])
    return out.getvalue()


def example_rows(handler: type[Handler], lists: Lists) -> list[dict[str, str]]:
    """Example rows {column: value} for a create, valid as they are in a company holding
    the codes of `lists`. A handler may declare its own as `file_example` (a list of such
    rows, naming the default chart's accounts and tax codes); otherwise they are made from
    the columns: identifiers blank, one of each id/code/external-id trio, references only
    where the company's lists offer codes, document totals left to the system, and for
    debit/credit lines a debit on the first line and a credit on the second."""
    layout = layout_for(handler)
    if handler.file_example:
        return [_with_company_codes(row, layout, lists) for row in handler.file_example]
    first = {}
    for column in layout.template_columns:
        value = None if column.computed else _example(column, lists, layout)
        if value is not None:
            first[column.name] = value
    if not layout.has_lines:
        return [first]
    second = {
        name: value
        for name, value in first.items()
        if name == layout.group_column or layout.by_name[name].scope == LINE
    }
    debit, credit = f"{layout.list_name}.debit", f"{layout.list_name}.credit"
    if debit in first and credit in first:
        del first[credit], second[debit]
    return [first, second]


def _with_company_codes(row: dict[str, str], layout: Layout, lists: Lists) -> dict[str, str]:
    """A declared example row, where it names a code the company does not have (a customer
    number, an account code), naming the company's first one instead."""
    own = {}
    for name, value in row.items():
        column = layout.by_name.get(name)
        codes = _company_list(column, lists) if column and column.kind == REFERENCE else []
        own[name] = value if not codes or value in codes else codes[0]
    return own


_EXAMPLE_TEXT = {
    "street": "1 Jalan Example",
    "city": "Kuala Lumpur",
    "state": "Selangor",
    "postalCode": "50000",
    "reference": "REF-001",
    "description": "Consulting services",
    "notes": "Imported from a spreadsheet",
    "reason": "Stock count",
    "taxNumber": "202001012345",  # a Malaysian business registration number
    "category": "General",
    "method": "bank_transfer",
}
_EXAMPLE_KIND = {
    DATE: "2024-01-15",
    MONEY: "100.00",
    NUMBER: "1",
    EMAIL: "billing@example.com",
    PHONE: "03-2345 6789",
    COUNTRY: "MY",
    BOOLEAN: "true",
}
_KEY_SUFFIX = re.compile(r"(Id|Code|Number)$")


def _example(column: Column, lists: Lists, layout: Layout) -> str | None:
    if column.name == OPERATION_COLUMN:
        return "create"
    if column.scope == META or "create" not in column.operations:
        return None  # referenceId, group, and the identifiers of updates and deletes
    document_total = column.kind == MONEY and layout.has_lines and column.scope == HEADER
    if document_total and not column.required:
        return None  # computed by the system, and checked against it when sent
    if column.kind == REFERENCE:
        if column.leaf.endswith("Id") and (column.hint or column.leaf.endswith("ExternalId")):
            return None  # its code/number twin carries the example
        values = _company_list(column, lists)
        if lists and column.name not in lists and column.leaf not in lists:
            return None  # codes the company's lists do not offer: a made-up one would fail
        stem = _KEY_SUFFIX.sub("", column.leaf).upper() or "REF"
        return values[0] if values else f"{stem}-001"
    if column.kind == CHOICE:
        return column.parser.choices[0] if column.parser.choices else None
    if column.kind == INTEGER:
        low = int(column.parser.minimum or 0)
        high = int(column.parser.maximum if column.parser.maximum is not None else 30)
        return str(max(low, min(30, high)))
    if column.kind == TEXT:
        if column.leaf == "name":
            text = f"Example {layout.entity.removesuffix('s').replace('-', ' ')}"
        elif column.leaf in _EXAMPLE_TEXT:
            text = _EXAMPLE_TEXT[column.leaf]
        elif _KEY_SUFFIX.search(column.leaf):
            text = f"{_KEY_SUFFIX.sub('', column.leaf).upper()}-001"
        else:
            text = _EXAMPLE_TEXT.get(column.leaf, f"Example {column.leaf}")
        return text[: column.parser.max_length or None]
    return _EXAMPLE_KIND.get(column.kind)


def _company_list(column: Column, lists: Lists) -> list[str]:
    return list(lists.get(column.name) or lists.get(column.leaf) or [])


# Excel -------------------------------------------------------------------------------------


def excel_template(handler: type[Handler], lists: Lists | None = None) -> bytes:
    """The .xlsx template. `lists` holds the company's own values for dropdowns, keyed by
    field name ("taxCode", "customerNumber", "itemCode", "accountCode", "locationCode", …)
    or by column name ("items.taxCode"); a reference column gets the list of its name."""
    layout = layout_for(handler)
    columns = list(layout.template_columns)
    workbook = Workbook()
    instructions = workbook.active
    instructions.title = INSTRUCTIONS_SHEET
    data = workbook.create_sheet(DATA_SHEET)
    hidden = workbook.create_sheet(LISTS_SHEET)
    hidden.sheet_state = "hidden"
    named_lists = _write_lists(workbook, hidden, columns, lists or {})
    write_data_sheet(data, layout, columns, named_lists)
    examples = example_rows(handler, lists or {})
    _write_examples(data, columns, examples)
    _write_instructions(instructions, layout, columns, named_lists, len(examples))
    workbook.active = workbook.index(data)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _write_lists(workbook: Workbook, sheet: Worksheet, columns, lists: Lists) -> dict[str, str]:
    """One column per list on the hidden sheet, each a workbook-level name; returns
    {column name: defined name}."""
    named: dict[str, str] = {}
    by_values: dict[tuple, str] = {}
    for column in columns:
        values = list_values(column, lists)
        if not values:
            continue
        key = tuple(values)
        if key not in by_values:
            position = len(by_values) + 1
            letter = get_column_letter(position)
            sheet.cell(1, position, safe_cell(column.leaf))
            for row, value in enumerate(values, start=2):
                sheet.cell(row, position, safe_cell(value))
            name = f"list_{re.sub(r'[^A-Za-z0-9_]', '_', column.name)}"
            area = absolute_coordinate(f"{letter}2:{letter}{len(values) + 1}")
            workbook.defined_names[name] = DefinedName(
                name, attr_text=f"{quote_sheetname(LISTS_SHEET)}!{area}"
            )
            by_values[key] = name
        named[column.name] = by_values[key]
    return named


def list_values(column: Column, lists: Lists) -> list[str]:
    """The values of a column's dropdown: the company's codes for a reference, the choices
    of an enumeration; none for other columns."""
    if column.computed:
        return []
    if column.kind == REFERENCE:
        return [str(value) for value in _company_list(column, lists) if str(value).strip()]
    if column.kind in (CHOICE, COUNTRY):
        return list(column.parser.choices)
    return []


def write_data_sheet(sheet: Worksheet, layout: Layout, columns, named_lists) -> None:
    """A data sheet: headers with comments, formats, validations and calculated columns.
    `named_lists` gives a column its dropdown: {column name: a defined name or a range}
    (the migration workbook's sheets share one Lists sheet and point at each other)."""
    letters = {column.name: get_column_letter(i) for i, column in enumerate(columns, start=1)}
    for position, column in enumerate(columns, start=1):
        letter = letters[column.name]
        cell = sheet.cell(1, position, safe_cell(column.name))
        if column.computed:
            cell.font, cell.fill = _COMPUTED_FONT, _COMPUTED_FILL
        else:
            cell.font, cell.fill = _BOLD, _HEADER_FILL
        comment = Comment(f"{column.name}\n{column.description}", AUTHOR)
        comment.width, comment.height = 300, 120
        cell.comment = comment
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(12, len(column.name) + 4)
        dimension.number_format = _NUMBER_FORMATS.get(column.kind, _TEXT_FORMAT)
        if column.computed:
            _write_formulas(sheet, column, letters, layout)
            continue
        validation = _validation(column, named_lists.get(column.name))
        if validation is not None:
            sheet.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{LAST_ROW}")
    sheet.freeze_panes = "A2"


def _write_examples(sheet: Worksheet, columns, rows: list[dict[str, str]]) -> None:
    """The example rows under the header row, each cell of its column's kind and format."""
    for row_number, row in enumerate(rows, start=2):
        for position, column in enumerate(columns, start=1):
            text = row.get(column.name)
            if text is None or column.computed:
                continue
            cell = sheet.cell(row_number, position, _typed(column, text))
            cell.number_format = _NUMBER_FORMATS.get(column.kind, _TEXT_FORMAT)


def _typed(column: Column, text: str):
    """An example's text as the cell a person would type: a date, a number, or text."""
    if column.kind == DATE:
        return datetime.date.fromisoformat(text)
    if column.kind in (MONEY, NUMBER):
        return Decimal(text)
    if column.kind == INTEGER:
        return int(text)
    return safe_cell(text)


def _validation(column: Column, list_name: str | None) -> DataValidation | None:
    traits = column.parser
    settings: dict = {}
    if list_name:
        strict = column.kind in (CHOICE, COUNTRY)
        settings = {
            "type": "list",
            "formula1": list_name,
            "errorStyle": "stop" if strict else "warning",
        }
    elif column.kind == BOOLEAN:
        settings = {"type": "list", "formula1": '"true,false"'}
    elif column.kind in (MONEY, NUMBER):
        if traits.positive:
            settings = {"type": "decimal", "operator": "greaterThan", "formula1": "0"}
        elif traits.minimum is not None:
            minimum = str(traits.minimum)
            settings = {"type": "decimal", "operator": "greaterThanOrEqual", "formula1": minimum}
        else:
            settings = {"type": "decimal", "operator": "between", "formula1": "-1E+15"}
            settings["formula2"] = "1E+15"
    elif column.kind == INTEGER:
        low = str(traits.minimum if traits.minimum is not None else 0)
        high = str(traits.maximum if traits.maximum is not None else 2_147_483_647)
        settings = {"type": "whole", "operator": "between", "formula1": low, "formula2": high}
    elif column.kind == DATE:  # serial numbers of 1900-01-01 and 9999-12-31
        settings = {"type": "date", "operator": "between", "formula1": "1", "formula2": "2958465"}
    elif column.kind == TEXT and traits.max_length:
        settings = {
            "type": "textLength",
            "operator": "lessThanOrEqual",
            "formula1": str(traits.max_length),
        }
    if not settings:
        return None
    return DataValidation(
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        promptTitle=column.name[:32],
        prompt=column.description[:255],
        errorTitle=f"Invalid {column.leaf}"[:32],
        error=column.description[:255],
        **settings,
    )


def _write_formulas(sheet: Worksheet, column: Column, letters: dict, layout: Layout) -> None:
    formula = _FORMULAS[column.computed]
    list_name = layout.list_name
    refs = {
        "group": letters.get(layout.group_column or ""),
        "quantity": letters.get(f"{list_name}.quantity"),
        "price": letters.get(f"{list_name}.unitPrice"),
        "debit": letters.get(f"{list_name}.debit"),
        "credit": letters.get(f"{list_name}.credit"),
        "running_debit": letters.get(f"{list_name}.runningDebit"),
        "running_credit": letters.get(f"{list_name}.runningCredit"),
    }
    if any(refs[name] is None for name in _FORMULA_NEEDS[column.computed]):
        return
    position = column_index_from_string(letters[column.name])
    for row in range(2, FORMULA_ROWS + 2):
        cell = sheet.cell(row, position, formula.format(r=row, p=row - 1, n=row + 1, **refs))
        cell.fill, cell.font = _COMPUTED_FILL, _COMPUTED_FONT


# {r}: this row, {p}: the row above, {n}: the row below. Each is blank on a blank line, so an
# untouched row of the template stays empty. Running totals restart when the reference
# changes; the balance check speaks on a document's last line.
_LINE_HAS_AMOUNTS = 'AND({debit}{r}="",{credit}{r}="")'
_SAME_DOCUMENT_ABOVE = "{group}{r}={group}{p}"
_FORMULAS = {
    LINE_AMOUNT: '=IF(OR({quantity}{r}="",{price}{r}=""),"",ROUND({quantity}{r}*{price}{r},2))',
    RUNNING_DEBIT: (
        f'=IF({_LINE_HAS_AMOUNTS},"",IF({_SAME_DOCUMENT_ABOVE},N({{running_debit}}{{p}}),0)'
        "+N({debit}{r}))"
    ),
    RUNNING_CREDIT: (
        f'=IF({_LINE_HAS_AMOUNTS},"",IF({_SAME_DOCUMENT_ABOVE},N({{running_credit}}{{p}}),0)'
        "+N({credit}{r}))"
    ),
    BALANCE_CHECK: (
        f'=IF({_LINE_HAS_AMOUNTS},"",'
        'IF(AND({group}{n}={group}{r},OR({debit}{n}<>"",{credit}{n}<>"")),"",'
        'IF(ROUND({running_debit}{r}-{running_credit}{r},2)=0,"Balanced",'
        '"Unbalanced by "&TEXT(ABS({running_debit}{r}-{running_credit}{r}),"0.00"))))'
    ),
}
_FORMULA_NEEDS = {
    LINE_AMOUNT: ("quantity", "price"),
    RUNNING_DEBIT: ("group", "debit", "credit", "running_debit"),
    RUNNING_CREDIT: ("group", "debit", "credit", "running_credit"),
    BALANCE_CHECK: ("group", "debit", "credit", "running_debit", "running_credit"),
}


def _write_instructions(
    sheet: Worksheet, layout: Layout, columns, named_lists, examples: int
) -> None:
    title = sheet.cell(1, 1, f"BigLedger import template: {layout.entity}")
    title.font = Font(bold=True, size=14)
    note = sheet.cell(3, 1, _examples_note(examples))
    note.font = _BOLD
    row = 3
    for paragraph in [note.value, *_guidance(layout, columns, named_lists)]:
        cell = sheet.cell(row, 1, safe_cell(paragraph))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
        sheet.row_dimensions[row].height = 15 * (1 + len(paragraph) // 110)
        row += 1
    row += 1
    for position, heading in enumerate(("Column", "Level", "Required", "What it takes"), 1):
        cell = sheet.cell(row, position, heading)
        cell.font, cell.fill = _BOLD, _HEADER_FILL
    for column in columns:
        row += 1
        level = {META: "row", HEADER: "document" if layout.has_lines else "record"}.get(
            column.scope, "line"
        )
        required = "calculated" if column.computed else ("yes" if column.required else "no")
        values = (column.name, level, required, column.description)
        for position, value in enumerate(values, start=1):
            cell = sheet.cell(row, position, safe_cell(value))
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCD", (28, 11, 11, 90), strict=True):
        sheet.column_dimensions[letter].width = width


def _examples_note(examples: int) -> str:
    """The Instructions' first paragraph, in bold: the Data sheet's examples are to go."""
    rows = "Row 2" if examples == 1 else f"Rows 2-{examples + 1}"
    return (
        f"{rows} of the '{DATA_SHEET}' sheet are an example: replace the example rows with "
        "your own before uploading. Uploaded as they are, they would be imported too."
    )


def _guidance(layout: Layout, columns, named_lists) -> list[str]:
    names = ", ".join(column.name for column in columns if not column.computed)
    text = [
        f"Fill in the '{DATA_SHEET}' sheet and upload the file as it is. Row 1 holds the "
        f"field names: keep it. Columns: {names}.",
        "Blank cells are left out of the record: an update changes only the cells you fill.",
        "Dates are YYYY-MM-DD (or a date cell). Amounts take up to 2 decimal places.",
    ]
    if len(layout.operations) > 1:
        identifiers = [
            c.name for c in columns if c.scope == HEADER and "create" not in c.operations
        ]
        text.append(
            "The operation column takes "
            + ", ".join(op for op in ("create", "update", "delete") if op in layout.operations)
            + " (blank means create). Update and delete rows name their record by "
            + (" or ".join(identifiers) or "its key")
            + "."
        )
    if layout.has_lines:
        line_columns = ", ".join(c.name for c in columns if c.scope == LINE and not c.computed)
        text.append(
            f"Each row is one line of a document. Rows with the same {layout.group_column}, "
            f"one after another, make one document: repeat the {layout.group_column} on every "
            "line; put the document fields on its first line and repeat them or leave them "
            f"blank on its other lines. Line columns: {line_columns}."
        )
    computed = [column.name for column in columns if column.computed]
    if computed:
        text.append(
            f"The grey columns ({', '.join(computed)}) are calculated for you and ignored on "
            f"upload. Their formulas fill the first {FORMULA_ROWS:,} rows; copy them down for "
            "more."
        )
    if any(column.kind == REFERENCE for column in columns if column.name in named_lists):
        text.append(
            "Dropdowns list your company's codes as of this download; a code created since can "
            "still be typed (Excel warns, the upload checks it)."
        )
    text.append(
        f"Up to {layout.max_records:,} records are processed at once; a larger file runs as a "
        "background job."
    )
    return text
