"""The uploaded file's own cells, kept per operation, so the rows that did not go in come back
as the file had them: its headers, in its order, each failed row with its original cells
(before any transformation) and why. Fixed in a spreadsheet, the CSV uploads again with the
same mapping profile; the error columns (mapping.RESULT_COLUMNS) are ignored then.

An operation's cells are a list of rows (one for a record, one per line for a document
with lines), each a list of cells in the order of the file's headers."""

import csv
import io
from collections.abc import Iterable, Iterator

from batch.files.mapping import RESULT_COLUMNS, FileChunk
from batch.files.security import safe_cell

ERROR_COLUMNS = ("rowNumber", "errorCode", "errorField", "errorMessage", "errorDetails")
NOT_WRITTEN = {"failed", "skipped", "rolled_back"}

Cells = list[list[str]]


class RowRecorder:
    """Passes (row number, {header: text}) through, remembering each row's cells until the
    chunk holding it takes them (cells_of), so no more than a chunk's rows are held."""

    def __init__(self, rows: Iterable[tuple[int, dict[str, str]]], headers: list[str]):
        self.rows, self.headers = rows, headers
        self.kept: dict[int, list[str]] = {}

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        for row_number, row in self.rows:
            self.kept[row_number] = [row.get(header) or "" for header in self.headers]
            yield row_number, row

    def cells_of(self, chunk: FileChunk) -> list[Cells]:
        """Each operation's rows of cells; rows read before the chunk's last are let go."""
        found = []
        for row_number, line_rows in zip(chunk.row_numbers, chunk.line_rows, strict=True):
            numbers = sorted({row_number, *line_rows})
            found.append([self.kept[n] for n in numbers if n in self.kept])
        last = max((max(numbers, default=0) for numbers in chunk.line_rows), default=0)
        last = max(last, *chunk.row_numbers, 0)
        self.kept = {n: cells for n, cells in self.kept.items() if n > last}
        return found


def failed_rows_csv(headers: list[str], chunks: Iterable[tuple[int, list, list | None]]):
    """CSV lines: the file's headers (less any error columns an earlier export added) and
    the error columns, then each record that did not go in as its file rows, the first with
    why. `chunks` are (first index, results, cells per operation or None)."""
    keep = [position for position, name in enumerate(headers) if name not in RESULT_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(cell) for cell in cells])
        return buffer.getvalue()

    yield line([headers[position] for position in keep] + list(ERROR_COLUMNS))
    blank = [""] * len(ERROR_COLUMNS)
    for first_index, results, cells in chunks:
        for result in results:
            if result["status"] not in NOT_WRITTEN:
                continue
            position = result["index"] - first_index
            rows = cells[position] if cells and position < len(cells) and cells[position] else [[]]
            for number, row in enumerate(rows):
                own = [row[p] if p < len(row) else "" for p in keep]
                yield line(own + (_error_cells(result) if number == 0 else blank))


def _error_cells(result: dict) -> list:
    error = result.get("error") or {}
    details = "; ".join(
        f"{d.get('field')}: {d.get('message')} ({d.get('code')})" for d in error.get("details", [])
    )
    row_number = (error.get("context") or {}).get("rowNumber", result["index"] + 1)
    return [
        row_number,
        error.get("code", ""),
        error.get("field") or "",
        error.get("message", ""),
        details,
    ]
