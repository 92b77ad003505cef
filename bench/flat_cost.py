"""A job's cost flat in table size: the same async customer job (1,000 and 10,000 records) on
a company whose customers table is empty and on one whose table holds 1,000,000 customers.

Company A's job runs on an empty ledger_customer (truncated, then analyzed); then 1,000,000
customers of company B are loaded with COPY (batch.engine.bulk.copy_insert) and analyzed
once, as autovacuum would, and B runs the same jobs. Each job is submitted and then processed
in this process by batch.jobs.processing.process_job, exactly as a worker runs it, so the
times are the engine's (no HTTP, no broker); B's job rows are deleted after each run so every
run meets the same table; one unmeasured job warms the process up first. Prints, for each job
size, the median over BENCH_RUNS runs (default 5) of seconds and records/s on each table and
the ratio B/A (goal <= 1.2) — with the current statistics policy (TableStatistics in
batch/jobs/processing.py) and, in the same run, the old one (ANALYZE before chunks 1, 2, 4,
8 …), unless BENCH_OLD_POLICY=0.

It truncates ledger_customer (and what refers to it), so it runs in a database of its own.
BENCH_SCALE (default 1.0) scales the 1,000,000 rows for a quick run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigledger_bench_flat python bench/flat_cost.py
"""

import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bigledger_bench_flat")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")

SCALE = float(os.environ.get("BENCH_SCALE", 1.0))
TABLE_ROWS = max(1, round(1_000_000 * SCALE))
JOB_SIZES = (1_000, 10_000)
RUNS = int(os.environ.get("BENCH_RUNS", 5))
OLD_POLICY = os.environ.get("BENCH_OLD_POLICY", "1") != "0"
LOAD_BATCH = 50_000


def prepare() -> None:
    """A migrated database; jobs are processed here, so none is handed to a broker."""
    import django

    django.setup()
    from bench.sync_batch import ensure_database

    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from batch.jobs import submit

    submit.enqueue = lambda job_pk: None


def execute(sql: str, params=()) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def new_company(label: str):
    from django.contrib.auth import get_user_model

    from bigledger.tenancy import create_company

    run = time.time_ns()
    credentials = create_company(
        name=f"{label} {run}", username=f"flat-{run}", password="x-pw-12345"
    )
    return credentials.company, get_user_model().objects.get(username=credentials.username)


def load_customers(company, rows: int) -> float:
    """`rows` customers of `company` by COPY, its number sequence past them, then ANALYZE:
    the seconds it took."""
    from batch.engine.bulk import copy_insert
    from bigledger.models import NumberSequence
    from ledger.models import Customer

    started = time.perf_counter()
    for first in range(1, rows + 1, LOAD_BATCH):
        copy_insert(
            Customer,
            [
                Customer(
                    company=company,
                    number=f"CUST-{i:04d}",
                    name=f"Customer {i}",
                    email=f"b{i}@example.com",
                    phone="+60123456789",
                    city="Kuala Lumpur",
                    credit_limit=Decimal("10000.00"),
                    tax_number="123456789012",
                )
                for i in range(first, min(first + LOAD_BATCH, rows + 1))
            ],
        )
    NumberSequence.objects.update_or_create(
        company=company, key="CUST", defaults={"last_value": rows}
    )
    execute("ANALYZE ledger_customer")
    return time.perf_counter() - started


def operations(size: int, tag: str) -> list[dict]:
    return [
        {
            "operation": "create",
            "referenceId": f"r{i}",
            "data": {
                "name": f"Customer {tag}-{i}",
                "email": f"job{tag}-{i}@example.com",
                "phone": "+60123456789",
                "address": {"city": "Kuala Lumpur", "country": "MY"},
                "creditLimit": "10000.00",
                "paymentTerms": 30,
                "taxNumber": "123456789012",
            },
        }
        for i in range(size)
    ]


def run_job(company, user, size: int) -> float:
    """Submit a job of `size` new customers, then process it: the processing's seconds."""
    from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
    from batch.jobs.processing import process_job
    from batch.jobs.submit import submit_job
    from batch.models import BatchJob, JobStatus
    from ledger.handlers.parties import CustomerHandler

    request = BatchRequest(
        parse_operations(operations(size, str(time.time_ns()))), BatchOptions(run_async=True)
    )
    job = submit_job(company=company, user=user, handler=CustomerHandler, request=request)
    started = time.perf_counter()
    process_job(job.pk)
    elapsed = time.perf_counter() - started
    job = BatchJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.COMPLETED and job.successful_records == size, job.error
    return elapsed


def old_policy(self, done: int) -> None:
    """What jobs did before: ANALYZE the table before chunks 1, 2, 4, 8 …"""
    if done & (done - 1) == 0:
        execute(f"ANALYZE {self.handler.model._meta.db_table}")


def policies() -> dict:
    """Each policy to measure: its name and EntityChunks.refresh_statistics."""
    from batch.jobs.processing import EntityChunks

    measured = {"current": EntityChunks.refresh_statistics}
    if OLD_POLICY:
        measured["old"] = old_policy
    return measured


def measure_empty(size: int, refresh) -> float:
    """The job on an empty, analyzed ledger_customer, for a new company."""
    from batch.jobs.processing import EntityChunks

    execute("TRUNCATE ledger_customer CASCADE")
    execute("ANALYZE ledger_customer")
    company, user = new_company("Empty")
    EntityChunks.refresh_statistics = refresh
    return run_job(company, user, size)


def measure_full(company, user, size: int, refresh) -> float:
    """The job for the company holding the big table; its rows go again afterwards."""
    from batch.jobs.processing import EntityChunks

    EntityChunks.refresh_statistics = refresh
    elapsed = run_job(company, user, size)
    execute(
        "DELETE FROM ledger_customer WHERE company_id = %s AND email LIKE 'job%%'", [company.pk]
    )
    return elapsed


def measure_neighbour(size: int, refresh) -> float:
    """The job for a new company on the table another company fills, whose statistics know
    nothing of the new one (what a tenant signing up meets); its rows go again afterwards."""
    from batch.jobs.processing import EntityChunks

    company, user = new_company("Neighbour")
    EntityChunks.refresh_statistics = refresh
    elapsed = run_job(company, user, size)
    execute("DELETE FROM ledger_customer WHERE company_id = %s", [company.pk])
    return elapsed


def main() -> None:
    prepare()
    measured = policies()
    measure_empty(JOB_SIZES[0], measured["current"])  # imports, caches, connections
    empty = {
        (size, name): statistics.median(measure_empty(size, refresh) for _ in range(RUNS))
        for size in JOB_SIZES
        for name, refresh in measured.items()
    }
    execute("TRUNCATE ledger_customer CASCADE")
    company, user = new_company("Full")
    load_seconds = load_customers(company, TABLE_ROWS)
    full = {
        (size, name): statistics.median(
            measure_full(company, user, size, refresh) for _ in range(RUNS)
        )
        for size in JOB_SIZES
        for name, refresh in measured.items()
    }
    print(
        f"table: {TABLE_ROWS:,} customers loaded and analyzed in {load_seconds:.1f} s; "
        f"median of {RUNS} runs; {os.cpu_count()} CPUs"
    )
    print(f"{'job':>7} {'policy':<8} {'empty table':>22} {'full table':>22} {'B/A':>6}")
    for (size, name), a in empty.items():
        b = full[(size, name)]
        print(
            f"{size:>7,} {name:<8} {a:7.2f} s {size / a:7,.0f} rec/s "
            f"{b:7.2f} s {size / b:7,.0f} rec/s {b / a:5.2f}x"
        )
    print("goal: B/A <= 1.2 with the current policy")


if __name__ == "__main__":
    main()
