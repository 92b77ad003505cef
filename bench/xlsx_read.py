"""XLSX reading: the product's reader (openpyxl read-only, streamed) against python-calamine,
on one customers workbook, in the same run.

Writes a BENCH_XLSX_ROWS-row customers workbook (default 100,000; the columns of
bench/file_stream.py) with openpyxl once, to a temporary file, then reads it in a fresh
interpreter per reader and prints rows/s, the ratio and each reader's peak RSS. Both produce
the rows the import maps — {header: text}, blank rows skipped, cells as
batch.files.readers.cell_text renders them — and the run checks they are the same rows.

    python bench/xlsx_read.py            # BENCH_XLSX_ROWS=100000

Calamine builds the whole sheet in memory as a grid from its first to its last cell before
the first row is read (32 bytes a cell of the grid, plus each cell's text), where openpyxl
streams; the peak RSS column shows what that costs.
"""

import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")

from bench.file_stream import write_xlsx  # noqa: E402

ROWS = int(os.environ.get("BENCH_XLSX_ROWS", 100_000))
GOAL = 50_000  # rows/s, issue #16


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def openpyxl_rows(path: Path):
    """The product's reader (batch.files.readers.open_xlsx: openpyxl read_only)."""
    from batch.files.readers import open_xlsx

    with path.open("rb") as file:
        yield from open_xlsx(file)


def calamine_rows(path: Path):
    """The same rows read with python-calamine: row 1 the header, cells as text."""
    from python_calamine import CalamineWorkbook

    from batch.files.readers import cell_text

    with path.open("rb") as file:
        workbook = CalamineWorkbook.from_filelike(file)
    sheet = workbook.get_sheet_by_name("Data")
    rows = sheet.iter_rows()
    headers = [cell_text(value).strip() for value in next(rows)]
    width = len(headers)
    for row_number, values in enumerate(rows, start=2):
        texts = [v if v.__class__ is str else cell_text(v) for v in values[:width]]
        if "".join(texts).strip():
            yield row_number, dict(zip(headers, texts, strict=False))
    workbook.close()


READERS = {"openpyxl read_only": openpyxl_rows, "python-calamine": calamine_rows}


def run_reader(name: str, path: Path, rows: int) -> None:
    """In a fresh interpreter, so the peak RSS is this reader's own. Prints one line and,
    last, seconds and a digest of the rows read."""
    import django

    django.setup()
    baseline = peak_rss_mb()
    digest = hashlib.sha256()
    started = time.perf_counter()
    count = 0
    for row_number, row in READERS[name](path):
        count += 1
        digest.update(repr((row_number, row)).encode())
    seconds = time.perf_counter() - started
    assert count == rows, (count, rows)
    print(
        f"{name:<20} {count:>9,} rows {seconds:6.2f} s {count / seconds:>9,.0f} rows/s  "
        f"peak RSS {peak_rss_mb():6.1f} MB (Django loaded: {baseline:.1f} MB)",
        flush=True,
    )
    print(f"{seconds} {digest.hexdigest()}", flush=True)


def read_both(rows: int) -> dict[str, float]:
    """Write a `rows`-row workbook, read it with each reader in its own interpreter (printing
    each one's line) and check they read the same rows: the seconds of each reader."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "customers.xlsx"
        started = time.perf_counter()
        write_xlsx(path, rows)
        size_mb = path.stat().st_size / 1024 / 1024
        print(f"wrote {rows:,} rows, {size_mb:.1f} MB, in {time.perf_counter() - started:.1f} s")
        results = {}
        for name in READERS:
            out = subprocess.run(
                [sys.executable, __file__, name, str(path), str(rows)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.splitlines()
            print(out[0], flush=True)
            seconds, digest = out[-1].split()
            results[name] = (float(seconds), digest)
    digests = {digest for _, digest in results.values()}
    assert len(digests) == 1, "the readers read different rows"
    return {name: seconds for name, (seconds, _) in results.items()}


def main() -> None:
    old, new = read_both(ROWS).values()
    print(f"same rows; calamine is {old / new:.1f}x the old reader, goal {GOAL:,} rows/s: ", end="")
    print("met" if ROWS / new >= GOAL else "not met")


if __name__ == "__main__":
    if len(sys.argv) == 4:
        run_reader(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
