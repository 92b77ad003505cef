"""XLSX reading: the product's reader (batch.files.readers.open_xlsx, which reads with
python-calamine when batch.files.xlsx_fast finds the sheet safe to) against the same reader
made to stream with openpyxl (BATCH_XLSX_FAST_MAX_CELLS=0), on one customers workbook, in
the same run.

Writes a BENCH_XLSX_ROWS-row customers workbook (default 100,000; the columns of
bench/file_stream.py) with openpyxl once, to a temporary file, then reads it in a fresh
interpreter per reader and prints rows/s, the ratio, each reader's peak RSS over the
interpreter's own (Django loaded) and that growth per cell of the sheet — the figure
BATCH_XLSX_FAST_MAX_CELLS is chosen from. Both produce the rows the import maps ({header:
text}, blank rows skipped) and the run checks they are the same rows; only the reading is
timed, not the digest of the rows that checks it.

    python bench/xlsx_read.py            # BENCH_XLSX_ROWS=100000

Calamine builds the whole sheet in memory before the first row is read, where openpyxl
streams; the product reader first scans the sheet's XML for its extent (included in its
time), and streams with openpyxl a sheet over the cap.
"""

import hashlib
import itertools
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
BLOCK = 1_000  # rows read between two looks at the clock


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def product_rows(path: Path):
    """The product's reader (batch.files.readers.open_xlsx), as the settings choose."""
    from batch.files.readers import open_xlsx

    with path.open("rb") as file:
        rows = open_xlsx(file)
        print(f"engine {rows.engine}", flush=True)
        yield from rows


# name: BATCH_XLSX_FAST_MAX_CELLS in its interpreter (None: the setting's default)
READERS = {"product reader": None, "openpyxl read_only": "0"}


def run_reader(name: str, path: Path, rows: int) -> None:
    """In a fresh interpreter, so the peak RSS is this reader's own. Prints one line and,
    last, seconds and a digest of the rows read."""
    import django

    django.setup()
    from bench.file_stream import HEADER

    baseline = peak_rss_mb()
    digest = hashlib.sha256()
    rows_read = product_rows(path)
    seconds, count = 0.0, 0
    while True:
        # Only the reading is timed: the rows are taken a block at a time, and the digest
        # that checks both readers read the same rows is made outside the clock.
        started = time.perf_counter()
        block = list(itertools.islice(rows_read, BLOCK))
        seconds += time.perf_counter() - started
        if not block:
            break
        count += len(block)
        for row_number, row in block:
            digest.update(repr((row_number, row)).encode())
    assert count == rows, (count, rows)
    growth = peak_rss_mb() - baseline
    per_cell = growth * 1024 * 1024 / ((rows + 1) * len(HEADER))
    print(
        f"{name:<20} {count:>9,} rows {seconds:6.2f} s {count / seconds:>9,.0f} rows/s  "
        f"peak RSS {peak_rss_mb():6.1f} MB, +{growth:.1f} MB over Django loaded "
        f"({per_cell:.0f} bytes a cell)",
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
        for name, max_cells in READERS.items():
            env = dict(os.environ)
            if max_cells is not None:
                env["BATCH_XLSX_FAST_MAX_CELLS"] = max_cells
            out = subprocess.run(
                [sys.executable, __file__, name, str(path), str(rows)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout.splitlines()
            print(f"{out[1]}  [{out[0]}]", flush=True)
            seconds, digest = out[-1].split()
            results[name] = (float(seconds), digest)
    digests = {digest for _, digest in results.values()}
    assert len(digests) == 1, "the readers read different rows"
    return {name: seconds for name, (seconds, _) in results.items()}


def main() -> None:
    new, old = read_both(ROWS).values()
    print(
        f"same rows; the product reader is {old / new:.1f}x openpyxl, goal {GOAL:,} rows/s: ",
        end="",
    )
    print("met" if ROWS / new >= GOAL else "not met")


if __name__ == "__main__":
    if len(sys.argv) == 4:
        run_reader(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
