"""A 1,000,000-row customers CSV imported over HTTP as one async job, end to end.

Writes the CSV (the template's columns) to a temporary file, starts a web server and a
Celery worker (2 processes) as subprocesses on PostgreSQL and Redis — the same ones
bench/async_job.py starts — POSTs the file to /v1/batch/customers/import-csv as
multipart/form-data (streamed from disk), polls the job to completion and prints rows/s
(upload-to-202 and end to end) and the peak RSS (VmHWM) of the web process and of every
worker process. The goal is both under 300 MB: the file is never held in memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigledger_file_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/12 REDIS_URL=redis://127.0.0.1:6379/12 \\
    BENCH_ROWS=1000000 python bench/file_import.py

The broker's Redis database is flushed first: give the benchmark a database of its own.
"""

import csv
import http.client
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bigledger_file_bench")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")
os.environ.setdefault("BATCH_RATE_LIMIT", "100000/min")
os.environ.setdefault("BATCH_LARGE_RATE_LIMIT", "100000/min")
# 1,000,000 rows of these columns are about 110 MB, over the 100 MB default upload limit.
os.environ.setdefault("BATCH_MAX_UPLOAD_BYTES", str(512 * 1024 * 1024))

from bench.async_job import (  # noqa: E402  (after the env)
    peak_rss,
    prepare,
    start_processes,
    stop_processes,
    wait_for_job,
)

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
HEADER = [
    "name",
    "email",
    "phone",
    "address.street",
    "address.city",
    "address.country",
    "creditLimit",
    "paymentTerms",
    "taxNumber",
]
BOUNDARY = "----bigledger-bench-" + secrets.token_hex(8)


def write_csv(path: Path, rows: int, run: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow(
                [
                    f"Customer {n} Sdn Bhd",
                    f"c{run}-{n}@example.com",
                    f"+6012{n % 10_000_000:07d}",
                    f"{n} Jalan Ampang",
                    "Kuala Lumpur",
                    "MY",
                    f"{n % 50_000}.50",
                    "30",
                    f"{n:012d}",
                ]
            )


def write_multipart(
    csv_path: Path, body_path: Path, options: str = '{"continueOnError": true}'
) -> None:
    """The request body on disk: the file part, then the options part (JSON)."""
    with body_path.open("wb") as body, csv_path.open("rb") as source:
        body.write(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="customers.csv"\r\nContent-Type: text/csv\r\n\r\n'.encode()
        )
        while block := source.read(1024 * 1024):
            body.write(block)
        body.write(
            f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="options"\r\n\r\n'
            f"{options}\r\n--{BOUNDARY}--\r\n".encode()
        )


def post_file(port: int, key: str, body_path: Path) -> tuple[int, dict]:
    import simplejson

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600, blocksize=65536)
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(body_path.stat().st_size),
    }
    with body_path.open("rb") as body:
        connection.request("POST", "/v1/batch/customers/import-csv", body=body, headers=headers)
        response = connection.getresponse()
        data = simplejson.loads(response.read())
    connection.close()
    return response.status, data


def main() -> None:
    run, credentials, env = prepare("File")
    key = credentials.api_key
    with tempfile.TemporaryDirectory() as directory:
        csv_path, body_path = Path(directory) / "customers.csv", Path(directory) / "body"
        write_csv(csv_path, ROWS, run)
        size_mb = csv_path.stat().st_size / 1024 / 1024
        write_multipart(csv_path, body_path)
        csv_path.unlink()
        server, port, worker = start_processes(env)
        try:
            started = time.perf_counter()
            status, accepted = post_file(port, key, body_path)
            submitted = time.perf_counter() - started
            assert status == 202, accepted
            assert accepted["data"]["totalRecords"] == ROWS, accepted
            job = wait_for_job(port, key, accepted["data"]["jobId"], ROWS, 1)
            elapsed = time.perf_counter() - started
            rss = peak_rss(server, worker)
        finally:
            stop_processes(server, worker)
    processing = job["data"]["executionTime"]
    print(f"rows:                  {ROWS:,} ({size_mb:,.1f} MB of CSV)")
    print(f"upload to 202:         {submitted:.1f} s  ->  {ROWS / submitted:,.0f} rows/s")
    print(f"worker processing:     {processing:.1f} s  ->  {ROWS / processing:,.0f} rows/s")
    print(f"end to end:            {elapsed:.1f} s  ->  {ROWS / elapsed:,.0f} rows/s")
    for name, megabytes in rss.items():
        print(f"peak RSS {name:<18} {megabytes:,.0f} MB")


if __name__ == "__main__":
    main()
