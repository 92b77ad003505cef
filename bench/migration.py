"""A migration as one async composite job, beside the same data as per-entity async jobs.

2,000 customers, 500 service items, 10,000 invoices of 3 lines and 10,000 payments, each
paying its invoice in full, go in twice in one run, each way into a fresh company of its own:

- composite: one POST /v1/batch with options.async (docs/api.md "Migrations in one
  request"), the invoices naming their customer and items and the payments their customer and
  invoice by "$ref:";
- per entity: four async jobs, POST /v1/batch/{customers,items,invoices,payments}, one after
  another, each waited for before the next, the references given by external id
  (customerExternalId, lines' itemExternalId, allocations' invoiceExternalId).

Both write the same rows (the composite's records carry the same external ids). The web
server and a Celery worker (2 processes) run as subprocesses on PostgreSQL and Redis, as in
bench/async_job.py. Prints, for each way, the seconds from its first POST to its last job
done and records/s, then the ratio composite / per-entity (goal: composite no slower, <= 1.0),
with the machine's CPUs and PostgreSQL version. BENCH_SCALE (default 1.0) scales every count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigledger_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/11 REDIS_URL=redis://127.0.0.1:6379/11 \\
    BENCH_SCALE=0.1 python bench/migration.py
"""

import datetime
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bigledger_bench")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")
# A benchmark measures throughput, not the per-company request limits.
os.environ.setdefault("BATCH_RATE_LIMIT", "100000/min")
os.environ.setdefault("BATCH_LARGE_RATE_LIMIT", "100000/min")

from bench.async_job import (  # noqa: E402  (after the environment it reads)
    prepare,
    request,
    start_processes,
    stop_processes,
    wait_for_job,
)

SCALE = float(os.environ.get("BENCH_SCALE", 1.0))
CUSTOMERS = max(1, round(2_000 * SCALE))
ITEMS = max(3, round(500 * SCALE))
INVOICES = max(1, round(10_000 * SCALE))
LINES = 3
TAX_CODE = "ZR"  # zero-rated (ledger/defaults.py): an invoice's total is the sum of its lines
DATE = (datetime.date.today() - datetime.timedelta(days=30)).isoformat()
POLL_SECONDS = 0.1
ENTITIES = ("customers", "items", "invoices", "payments")


def price(n: int) -> Decimal:
    """A unit price that varies from line to line, in cents."""
    return Decimal(1000 + (n * 37) % 9000) / 100


def customer(n: int) -> dict:
    return {
        "externalId": f"c{n}",
        "name": f"Customer {n}",
        "email": f"c{n}@example.com",
        "address": {"city": "Kuala Lumpur", "country": "MY"},
        "paymentTerms": 30,
    }


def item(n: int) -> dict:
    return {
        "externalId": f"i{n}",
        "itemCode": f"SVC-{n:05d}",
        "name": f"Service {n}",
        "type": "service",
        "sellingPrice": str(price(n)),
    }


def invoice_lines(n: int) -> list[tuple[int, Decimal]]:
    """The (item, unit price) of each line of invoice n: three distinct items."""
    return [((n * LINES + k) % ITEMS, price(n + k)) for k in range(LINES)]


def invoice(n: int, by_ref: bool) -> dict:
    lines = [
        {
            **({"itemId": f"$ref:i{it}"} if by_ref else {"itemExternalId": f"i{it}"}),
            "quantity": 1,
            "unitPrice": str(unit),
            "taxCode": TAX_CODE,
        }
        for it, unit in invoice_lines(n)
    ]
    party = n % CUSTOMERS
    return {
        "externalId": f"v{n}",
        **({"customerId": f"$ref:c{party}"} if by_ref else {"customerExternalId": f"c{party}"}),
        "invoiceDate": DATE,
        "items": lines,
    }


def payment(n: int, by_ref: bool) -> dict:
    """Pays invoice n in full: with a 0% tax code its total is the sum of its lines."""
    total = str(sum(unit for _, unit in invoice_lines(n)))
    party = n % CUSTOMERS
    return {
        "externalId": f"p{n}",
        **({"customerId": f"$ref:c{party}"} if by_ref else {"customerExternalId": f"c{party}"}),
        "paymentDate": DATE,
        "amount": total,
        "method": "bank_transfer",
        "allocations": [
            {
                **({"invoiceId": f"$ref:v{n}"} if by_ref else {"invoiceExternalId": f"v{n}"}),
                "amount": total,
            }
        ],
    }


def records(entity: str, by_ref: bool) -> list[tuple[str, dict]]:
    """The entity's migration records as (referenceId, data)."""
    if entity == "customers":
        return [(f"c{n}", customer(n)) for n in range(CUSTOMERS)]
    if entity == "items":
        return [(f"i{n}", item(n)) for n in range(ITEMS)]
    if entity == "invoices":
        return [(f"v{n}", invoice(n, by_ref)) for n in range(INVOICES)]
    return [(f"p{n}", payment(n, by_ref)) for n in range(INVOICES)]


def composite_body() -> bytes:
    import simplejson

    operations = [
        {"entity": entity, "operation": "create", "referenceId": ref, "data": data}
        for entity in ENTITIES
        for ref, data in records(entity, by_ref=True)
    ]
    return simplejson.dumps({"operations": operations, "options": {"async": True}}).encode()


def entity_body(entity: str) -> bytes:
    import simplejson

    operations = [
        {"operation": "create", "referenceId": ref, "data": data}
        for ref, data in records(entity, by_ref=False)
    ]
    return simplejson.dumps({"operations": operations, "options": {"async": True}}).encode()


def run_jobs(port: int, key: str, posts: list[tuple[str, bytes, int]]) -> tuple[float, list]:
    """Post each job and wait for it before the next: (seconds end to end, the jobs)."""
    jobs = []
    started = time.perf_counter()
    for path, body, size in posts:
        status, accepted = request(port, "POST", path, key, body)
        assert status == 202, accepted
        jobs.append(wait_for_job(port, key, accepted["data"]["jobId"], size, POLL_SECONDS))
    return time.perf_counter() - started, jobs


def second_company(run: str):
    """A fresh company for the other way, so neither sees the other's rows."""
    from bigledger.tenancy import create_company

    return create_company(
        name=f"Migration per-entity bench {run}",
        username=f"migration-per-entity-{run}",
        password="x-pw-12345",
    )


def machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), PostgreSQL {version}"


def main() -> None:
    run, composite_company, env = prepare("Migration composite")
    per_entity_company = second_company(run)
    total = CUSTOMERS + ITEMS + 2 * INVOICES
    composite_posts = [("/v1/batch", composite_body(), total)]
    entity_posts = [
        (f"/v1/batch/{entity}", entity_body(entity), len(records(entity, by_ref=False)))
        for entity in ENTITIES
    ]
    server, port, worker = start_processes(env)
    try:
        composite_seconds, composite_jobs = run_jobs(
            port, composite_company.api_key, composite_posts
        )
        entity_seconds, entity_jobs = run_jobs(port, per_entity_company.api_key, entity_posts)
    finally:
        stop_processes(server, worker)
    print(f"machine:     {machine()}")
    print(
        f"records:     {total} ({CUSTOMERS} customers, {ITEMS} items, "
        f"{INVOICES} invoices of {LINES} lines, {INVOICES} payments; BENCH_SCALE={SCALE})"
    )
    print(
        f"composite:   {composite_seconds:7.2f} s end to end  ->  "
        f"{total / composite_seconds:,.0f} records/s  "
        f"(worker {composite_jobs[0]['data']['executionTime']:.2f} s)"
    )
    workers = ", ".join(
        f"{entity} {job['data']['executionTime']:.2f}"
        for entity, job in zip(ENTITIES, entity_jobs, strict=True)
    )
    print(
        f"per entity:  {entity_seconds:7.2f} s end to end  ->  "
        f"{total / entity_seconds:,.0f} records/s  (worker s: {workers})"
    )
    print(f"ratio composite / per entity: {composite_seconds / entity_seconds:.2f}x (goal <= 1.0)")


if __name__ == "__main__":
    main()
