"""Formula injection: a cell we export that begins with = + - @ tab or CR would be run as a
formula by a spreadsheet opening the file. safe_cell() makes such a value plain text by
prefixing an apostrophe (the OWASP advice); mapping.cell_value() removes that apostrophe
again when the file comes back, so an exported file round-trips unchanged."""

from typing import Any

FORMULA_TRIGGERS = frozenset("=+-@\t\r")


def safe_cell(value: Any) -> Any:
    """The value to write into an exported cell (CSV or XLSX). Non-strings pass unchanged."""
    if isinstance(value, str) and value and value[0] in FORMULA_TRIGGERS:
        return "'" + value
    return value
