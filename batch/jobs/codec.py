"""A job's operations and results as stored JSON text: exact decimals, compact."""

import simplejson

from batch.engine.envelope import Operation
from batch.engine.fields import Detail
from bigledger import json_text

# An operation read from a file carries its rows' original cells (Operation.cells), stored
# under this key; a job keeps them per chunk instead (BatchChunk.file_cells).
CELLS_KEY = "cells"


def dumps(value) -> str:
    try:
        return json_text.dumps(value).decode()
    except TypeError:  # what only simplejson writes as it should (bigledger.json_text)
        return simplejson.dumps(value, use_decimal=True, separators=(",", ":"))


def loads(text: str):
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
