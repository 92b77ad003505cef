"""A job's operations and results as stored JSON text: exact decimals, compact."""

import orjson
import simplejson

from batch.engine.envelope import Operation
from batch.engine.fields import Detail
from bigledger import json_text

# An operation read from a file carries its rows' original cells (Operation.cells), stored
# under this key; a job keeps them per chunk instead (BatchChunk.file_cells).
CELLS_KEY = "cells"


# Stored text written without a Decimal starts with this blank, which any JSON reader skips.
# orjson reads such text back as it was (its numbers are integers), about four times faster
# than simplejson; text holding a Decimal needs simplejson's use_decimal (orjson would read a
# float), as does text stored without the mark. A file's operations carry their numbers as
# the cells' text, so they are stored marked. No float is ever stored: a client's numbers
# are read as Decimals, a file's cells as text.
ORJSON_READABLE = " "


def dumps(value) -> str:
    wrote_decimal = False

    def exact_decimal(item):
        nonlocal wrote_decimal
        wrote_decimal = True
        return json_text.exact_decimal(item)

    try:
        text = json_text.dumps(value, default=exact_decimal).decode()
    except TypeError:  # what only simplejson writes as it should (bigledger.json_text)
        return simplejson.dumps(value, use_decimal=True, separators=(",", ":"))
    return text if wrote_decimal else ORJSON_READABLE + text


def loads(text: str):
    if text.startswith(ORJSON_READABLE):
        return orjson.loads(text)
    return simplejson.loads(text, use_decimal=True)


def operation_json(op: Operation) -> dict:
    body = {
        "index": op.index,
        "operation": op.operation,
        "referenceId": op.reference_id,
        "data": op.data,
        "rowNumber": op.row_number,
    }
    if op.line_rows:  # from a file: where each line came from, for its errors' rowNumber
        body["lineRows"] = op.line_rows
    if op.problems:
        body["problems"] = [problem.as_json() for problem in op.problems]
    if op.sheet:  # from a workbook of several sheets: which one, for its errors' context
        body["sheet"] = op.sheet
    if op.cells:  # a file's own cells, for its failed rows
        body[CELLS_KEY] = op.cells
    return body


def operation_from_json(raw: dict) -> Operation:
    data = raw["data"]
    return Operation(
        index=raw["index"],
        operation=raw["operation"],
        reference_id=raw["referenceId"],
        data=data,
        row_number=raw["rowNumber"],
        original=data if isinstance(data, dict) else {},
        line_rows=raw.get("lineRows", []),
        problems=[Detail(**problem) for problem in raw.get("problems", ())],
        sheet=raw.get("sheet"),
        cells=raw.get(CELLS_KEY),
    )
