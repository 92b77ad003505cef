"""File import streaming: memory and speed of reading + mapping a large customers file,
without touching the database.

Generates a 1,000,000-row customers CSV (every column the template has) in a temporary
directory, then reads it through batch.files.readers.open_csv and mapping.read_operations
in chunks of the handler's max_records, and prints rows/s, the file size and the peak RSS
(resource.getrusage) of each pass, run in its own interpreter. A second pass also parses each
record with the handler's schema (the engine's first step); a third reads an XLSX of
BENCH_XLSX_ROWS rows (default 200,000).

    python bench/file_stream.py            # BENCH_ROWS=1000000 BENCH_XLSX_ROWS=200000
"""

import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
XLSX_ROWS = int(os.environ.get("BENCH_XLSX_ROWS", 200_000))
HEADER = [
    "name",
    "email",
    "phone",
    "address.street",
    "address.city",
    "address.postalCode",
    "address.country",
    "credit_limit",
    "payment_terms",
    "tax_number",
    "status",
]


def customer_row(n: int) -> list:
    return [
        f"Customer {n} Sdn Bhd",
        f"billing{n}@example.com",
        f"+6012{n:07d}",
        f"{n} Jalan Ampang",
        "Kuala Lumpur",
        "50450",
        "MY",
        f"{n % 50_000}.50",
        "30",
        f"{n:012d}",
        "active",
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow(customer_row(n))


def write_xlsx(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Data")
    sheet.append(HEADER)
    for n in range(rows):
        sheet.append(customer_row(n))
    workbook.save(path)


PHASES = {
    # name: (reader, parse each record with the schema too)
    "CSV read + map": ("csv", False),
    "CSV read + map + schema": ("csv", True),
    "XLSX read + map": ("xlsx", False),
}


def stream(path: Path, kind: str, *, clean: bool) -> tuple[int, int, float]:
    from batch.engine.handlers import get_handler
    from batch.files.mapping import read_operations
    from batch.files.readers import open_csv, open_xlsx

    handler = get_handler("customers")
    schema = handler.create_schema
    opener = open_csv if kind == "csv" else open_xlsx
    operations = chunks = 0
    started = time.perf_counter()
    with path.open("rb") as file:
        for chunk in read_operations(handler, opener(file)):
            chunks += 1
            operations += len(chunk.operations)
            if clean:
                for operation in chunk.operations:
                    schema.clean(operation["data"])
    return operations, chunks, time.perf_counter() - started


def run_phase(name: str, path: Path, rows: int) -> None:
    """In a fresh interpreter, so the peak RSS is this phase's own."""
    import django

    django.setup()
    baseline = peak_rss_mb()
    kind, clean = PHASES[name]
    operations, chunks, seconds = stream(path, kind, clean=clean)
    assert operations == rows, (operations, rows)
    size_mb = path.stat().st_size / 1024 / 1024
    print(
        f"{name:<25} {rows:>9,} rows {size_mb:7.1f} MB {seconds:6.1f} s "
        f"{rows / seconds:>9,.0f} rows/s {chunks:>5,} chunks  "
        f"peak RSS {peak_rss_mb():6.1f} MB (Django loaded: {baseline:.1f} MB)",
        flush=True,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        csv_path = Path(directory) / "customers.csv"
        write_csv(csv_path, ROWS)
        for name in ("CSV read + map", "CSV read + map + schema"):
            subprocess.run([sys.executable, __file__, name, str(csv_path), str(ROWS)], check=True)
        csv_path.unlink()
        if XLSX_ROWS:
            xlsx_path = Path(directory) / "customers.xlsx"
            write_xlsx(xlsx_path, XLSX_ROWS)
            subprocess.run(
                [sys.executable, __file__, "XLSX read + map", str(xlsx_path), str(XLSX_ROWS)],
                check=True,
            )


if __name__ == "__main__":
    if len(sys.argv) == 4:
        run_phase(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
