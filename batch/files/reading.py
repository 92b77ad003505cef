"""A file read for an import: its rows through the transformations, the mapping and the
lookups, each chunk keeping its operations' original cells. What an import asks of a file
(mapping, transformations) is checked before any row is read."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from batch.engine.handlers import Handler
from batch.files.columns import LINE, REFERENCE_ID_COLUMN
from batch.files.file_rows import RowRecorder
from batch.files.mapping import (
    FileChunk,
    ImportPlan,
    parse_mapping,
    plan_import,
    planned_operations,
)
from batch.files.readers import CsvRows, XlsxRows
from batch.files.transforms import ColumnTransforms, parse_transforms, resolve_lookups


@dataclass
class FileRead:
    headers: list[str]  # the file's own, in its order
    chunks: Iterator[FileChunk]
    # A column gives referenceIds: one repeated refuses the whole file when it is read.
    names_reference_ids: bool = False


def read_file(
    handler: type[Handler],
    rows: CsvRows | XlsxRows,
    *,
    mapping: Any = None,
    transforms: Any = None,
    company=None,
) -> FileRead:
    """The file's chunks, each with `cells`; `mapping` is {apiField: header} (or its JSON),
    `transforms` {header: [transformation, …]} (or its JSON). Lookups need `company`."""
    headers = list(rows.headers)
    column_transforms = parse_transforms(transforms, headers)
    mapping = column_transforms.mapping(parse_mapping(mapping))
    plan = plan_import(
        handler,
        column_transforms.headers(headers),
        mapping or None,
        decimal_comma=getattr(rows, "delimiter", None) == ";",
    )
    lookups = _lookup_paths(plan, column_transforms)
    recorder = RowRecorder(rows, headers)
    chunks = planned_operations(
        plan,
        column_transforms.apply(recorder) if column_transforms else recorder,
        handler.max_records,
    )
    return FileRead(
        headers,
        _kept(chunks, recorder, lookups, company),
        names_reference_ids=any(
            source.column.name == REFERENCE_ID_COLUMN for source in plan.sources
        ),
    )


def _kept(chunks, recorder: RowRecorder, lookups: list, company) -> Iterator[FileChunk]:
    for chunk in chunks:
        chunk.cells = recorder.cells_of(chunk)
        if lookups:
            resolve_lookups(chunk, lookups, company)
        yield chunk


def _lookup_paths(plan: ImportPlan, column_transforms: ColumnTransforms) -> list:
    """(lookup, field path, whether a line field) for each lookup of a mapped column."""
    if not column_transforms.lookups:
        return []
    sources = {source.header.casefold(): source.column for source in plan.sources}
    found = []
    for lookup in column_transforms.lookups:
        column = sources.get(lookup.header.casefold())
        if column is not None:
            found.append((lookup, column.path, column.scope == LINE))
    return found
