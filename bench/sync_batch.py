"""Sync batch throughput over real HTTP on PostgreSQL, against a naive baseline.

For each scenario (500 customers, 1000 items, 100 invoices, 100 invoices of 2 stock lines —
each taking stock out at the moving average and posting cost of goods sold — 100 journal
entries) it posts
fresh batches to a WSGI server on 127.0.0.1 in this process, and prints the p50 over the
runs, records/s, the SQL queries one batch makes, and the ratio against a naive baseline run
in this same process: one ORM save() per record with per-record uniqueness and reference
queries, in one transaction, without HTTP or JSON (which flatters the baseline).

The server answers every request on one long-lived thread, one request at a time, so its
PostgreSQL connection is opened once and reused (CONN_MAX_AGE), as a production worker
(gunicorn's sync workers) reuses its own; a thread per request would open a connection per
request and time that too.

Then the nightly sync of customers by external id, beside 500 plain creates in the same run:
500 upserts of which half are new and half change a stored customer (goal ≤ 1.3× the
creates), and the same 500 upserts sent again, which change nothing (goal: faster than the
creates); with the queries of a 50- and a 500-record batch of each, which must be equal.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigledger_bench python bench/sync_batch.py
"""

import http.client
import itertools
import os
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bigledger_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")
# A benchmark measures throughput, not the per-company request limits.
os.environ.setdefault("BATCH_RATE_LIMIT", "100000/min")
os.environ.setdefault("BATCH_LARGE_RATE_LIMIT", "100000/min")

RUNS = int(os.environ.get("BENCH_RUNS", 7))
_unique = itertools.count(1)


def ensure_database() -> None:
    import psycopg
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect(
        host=settings.DATABASES["default"]["HOST"] or "127.0.0.1",
        user=settings.DATABASES["default"]["USER"] or "postgres",
        dbname="postgres",
        autocommit=True,
    ) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def serve() -> int:
    """A server on one thread of its own: requests one after another, on one connection to
    PostgreSQL kept between them."""
    from bigledger.wsgi import application  # the product's WSGI entry, as gunicorn serves it

    server = make_server(
        "127.0.0.1",
        0,
        application,
        server_class=WSGIServer,
        handler_class=QuietHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_port


# Payloads: fresh unique values each call.


def customer_data(label: str, credit: str = "10000.00") -> dict:
    return {
        "name": f"Customer {label}",
        "email": f"{label}@example.com",
        "phone": "+60123456789",
        "address": {"street": "1 Jalan", "city": "Kuala Lumpur", "country": "MY"},
        "creditLimit": Decimal(credit),
        "paymentTerms": 30,
        "taxNumber": "123456789012",
    }


def customers_payload(size: int) -> list[dict]:
    run = next(_unique)
    return [
        {"operation": "create", "referenceId": f"c{run}-{i}", "data": customer_data(f"c{run}-{i}")}
        for i in range(size)
    ]


def items_payload(size: int, item_type: str = "inventory") -> list[dict]:
    run = next(_unique)
    return [
        {
            "operation": "create",
            "referenceId": f"i{run}-{i}",
            "data": {
                "itemCode": f"W{run}-{i}",
                "name": f"Widget {run}-{i}",
                "type": item_type,
                "unitOfMeasure": "pieces",
                "costPrice": Decimal("25.00"),
                "sellingPrice": Decimal("50.00"),
                "taxCode": "SST",
                "reorderLevel": 100,
            },
        }
        for i in range(size)
    ]


def invoices_payload(size: int, customers: list[str], items: list[str]) -> list[dict]:
    run = next(_unique)
    return [
        {
            "operation": "create",
            "referenceId": f"inv{run}-{i}",
            "data": {
                "customerNumber": customers[i % len(customers)],
                "invoiceDate": "2024-01-15",
                "dueDate": "2024-02-14",
                "reference": f"SO-{run}-{i}",
                "items": [
                    {
                        "itemCode": items[i % len(items)],
                        "description": "Professional Services",
                        "quantity": 10,
                        "unitPrice": Decimal("100.00"),
                        "taxCode": "SST",
                    },
                    {
                        "description": "Consulting",
                        "quantity": 5,
                        "unitPrice": Decimal("200.00"),
                        "taxCode": "SST",
                    },
                ],
            },
        }
        for i in range(size)
    ]


def stock_invoices_payload(size: int, customers: list[str], items: list[str]) -> list[dict]:
    """Invoices of two stock lines each: every line takes a unit out of the warehouse."""
    run = next(_unique)
    return [
        {
            "operation": "create",
            "referenceId": f"sinv{run}-{i}",
            "data": {
                "customerNumber": customers[i % len(customers)],
                "invoiceDate": "2024-01-15",
                "dueDate": "2024-02-14",
                "reference": f"SO-{run}-{i}",
                "items": [
                    {
                        "itemCode": code,
                        "description": "Widget",
                        "quantity": 1,
                        "unitPrice": Decimal("50.00"),
                        "taxCode": "SST",
                    }
                    for code in items
                ],
            },
        }
        for i in range(size)
    ]


def opening_stock_payload(items: list[str]) -> list[dict]:
    return [
        {
            "operation": "create",
            "data": {
                "itemCode": code,
                "locationCode": "WH",
                "adjustmentType": "increase",
                "quantity": 100000,
                "unitCost": Decimal("25.00"),
                "reason": "Opening stock",
            },
        }
        for code in items
    ]


def journals_payload(size: int) -> list[dict]:
    run = next(_unique)
    return [
        {
            "operation": "create",
            "referenceId": f"je{run}-{i}",
            "data": {
                "date": "2024-01-15",
                "reference": f"JE-{run}-{i}",
                "description": "Monthly depreciation",
                "lines": [
                    {"accountCode": "6000", "debit": Decimal("5000.00"), "credit": 0},
                    {"accountCode": "1620", "debit": 0, "credit": Decimal("5000.00")},
                ],
            },
        }
        for i in range(size)
    ]


def upserts_payload(size: int, run: int, *, credit: str = "10000.00") -> list[dict]:
    """Customers keyed by external id; the same `run` names the same customers again."""
    return [
        {
            "operation": "upsert",
            "referenceId": f"u{run}-{i}",
            "data": {"externalId": f"crm-{run}-{i}", **customer_data(f"u{run}-{i}", credit)},
        }
        for i in range(size)
    ]


def half_new_upserts(port: int, key: str, size: int) -> list[dict]:
    """`size` upserts: the first half name customers stored now (and change their credit
    limit), the second half customers that do not exist yet."""
    run = next(_unique)
    post(port, key, "customers", upserts_payload(size // 2, run))
    return upserts_payload(size, run, credit="20000.00")


def sync_scenarios(port: int, key: str) -> None:
    size = 500
    print(
        f"\nnightly sync of {size} customers by externalId"
        f"\n{'batch':<22}{'p50 ms':>10}{'rec/s':>10}{'q@50':>7}{'q@500':>7}{'vs create':>11}"
    )
    runs: dict[str, list[float]] = {"create": [], "upsert half new": [], "upsert unchanged": []}
    for _ in range(RUNS):
        runs["create"].append(post(port, key, "customers", customers_payload(size))[0])
        operations = half_new_upserts(port, key, size)
        elapsed, result = post(port, key, "customers", operations)
        summary = result["data"]["summary"]
        assert (summary["created"], summary["updated"]) == (size // 2, size // 2), summary
        runs["upsert half new"].append(elapsed)
        elapsed, result = post(port, key, "customers", operations)
        assert result["data"]["summary"]["unchanged"] == size, result["data"]["summary"]
        runs["upsert unchanged"].append(elapsed)

    def queries(label: str, n: int) -> int:
        if label == "create":
            return count_queries(key, "customers", customers_payload(n))
        operations = half_new_upserts(port, key, n)
        if label == "upsert unchanged":
            post(port, key, "customers", operations)
        return count_queries(key, "customers", operations)

    base = statistics.median(runs["create"])
    for label, times in runs.items():
        p50 = statistics.median(times)
        print(
            f"{label:<22}{p50 * 1000:>10.1f}{size / p50:>10.0f}{queries(label, 50):>7}"
            f"{queries(label, size):>7}{p50 / base:>10.2f}x"
        )


def post(port: int, key: str, entity: str, operations: list[dict]) -> tuple[float, dict]:
    import simplejson

    body = simplejson.dumps({"operations": operations})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    connection.request(
        "POST",
        f"/v1/batch/{entity}",
        body=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    result = simplejson.loads(payload, use_decimal=True)
    if response.status != 200 or result["data"]["failedRecords"]:
        raise SystemExit(f"{entity}: HTTP {response.status} {payload[:500]!r}")
    return elapsed, result


def count_queries(key: str, entity: str, operations: list[dict]) -> int:
    import simplejson
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    reset_queries()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/v1/batch/{entity}",
            simplejson.dumps({"operations": operations}),
            content_type="application/json",
        )
    assert response.status_code == 200, response.content
    return len(queries)


# The naive baseline: what a straightforward per-record implementation does.


def naive_customers(company, operations) -> None:
    from django.db import transaction
    from django.db.models.functions import Lower

    from bigledger.numbers import allocate_numbers
    from ledger.models import Customer

    with transaction.atomic():
        for operation in operations:
            data = operation["data"]
            if (
                Customer.objects.filter(company=company)
                .annotate(e=Lower("email"))
                .filter(e=data["email"].lower())
                .exists()
            ):
                raise SystemExit("naive: duplicate")
            (number,) = allocate_numbers(company=company, prefix="CUST", width=4, count=1)
            customer = Customer(
                company=company,
                number=number,
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                street=data["address"]["street"],
                city=data["address"]["city"],
                country=data["address"]["country"],
                credit_limit=data["creditLimit"],
                payment_terms=data["paymentTerms"],
                tax_number=data["taxNumber"],
            )
            customer.full_clean(validate_unique=False, validate_constraints=False)
            customer.save()


def naive_items(company, operations) -> None:
    from django.db import transaction

    from inventory.models import Item
    from ledger.models import TaxCode

    with transaction.atomic():
        for operation in operations:
            data = operation["data"]
            if Item.objects.filter(company=company, item_code=data["itemCode"]).exists():
                raise SystemExit("naive: duplicate item")
            tax_code = TaxCode.objects.get(company=company, code=data["taxCode"])
            item = Item(
                company=company,
                item_code=data["itemCode"],
                name=data["name"],
                type=data["type"],
                unit_of_measure=data["unitOfMeasure"],
                cost_price=data["costPrice"],
                selling_price=data["sellingPrice"],
                tax_code=tax_code,
                reorder_level=data["reorderLevel"],
            )
            item.full_clean(validate_unique=False, validate_constraints=False)
            item.save()


def naive_invoices(company, operations) -> None:
    import datetime

    from django.db import transaction

    from inventory.models import Item
    from ledger.models import Customer, TaxCode
    from ledger.services.documents import TradeDocumentDraft, TradeLineDraft, create_invoices

    with transaction.atomic():
        for operation in operations:
            data = operation["data"]
            customer = Customer.objects.get(company=company, number=data["customerNumber"])
            lines = []
            for line in data["items"]:
                item = None
                if "itemCode" in line:
                    item = Item.objects.get(company=company, item_code=line["itemCode"])
                lines.append(
                    TradeLineDraft(
                        quantity=Decimal(line["quantity"]),
                        unit_price=line["unitPrice"],
                        tax_code=TaxCode.objects.get(company=company, code=line["taxCode"]),
                        description=line["description"],
                        item=item,
                    )
                )
            create_invoices(
                company=company,
                drafts=[
                    TradeDocumentDraft(
                        party=customer,
                        date=datetime.date.fromisoformat(data["invoiceDate"]),
                        due_date=datetime.date.fromisoformat(data["dueDate"]),
                        reference=data["reference"],
                        lines=lines,
                    )
                ],
            )


def naive_journals(company, operations) -> None:
    import datetime

    from django.db import transaction

    from ledger.models import Account
    from ledger.services.journals import JournalDraft, LineDraft, post_journal_entries

    with transaction.atomic():
        for operation in operations:
            data = operation["data"]
            lines = [
                LineDraft(
                    Account.objects.get(company=company, code=line["accountCode"]),
                    debit=Decimal(line["debit"]),
                    credit=Decimal(line["credit"]),
                )
                for line in data["lines"]
            ]
            post_journal_entries(
                company=company,
                drafts=[
                    JournalDraft(
                        date=datetime.date.fromisoformat(data["date"]),
                        reference=data["reference"],
                        description=data["description"],
                        lines=lines,
                    )
                ],
            )


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    import django

    django.setup()
    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bigledger.tenancy import create_company

    credentials = create_company(
        name=f"Bench {time.time_ns()}", username=f"bench-{time.time_ns()}", password="bench-pw-1"
    )
    company, key = credentials.company, credentials.api_key
    port = serve()

    post(port, key, "customers", customers_payload(20))  # customers and items to refer to
    post(port, key, "items", items_payload(20, "service"))
    from inventory.models import Item
    from ledger.models import Customer

    customer_numbers = list(
        Customer.objects.filter(company=company).values_list("number", flat=True)
    )
    item_codes = list(Item.objects.filter(company=company).values_list("item_code", flat=True))
    post(port, key, "items", items_payload(2))  # two stock items, with stock to sell
    stock_codes = list(
        Item.objects.filter(company=company, type="inventory").values_list("item_code", flat=True)
    )
    post(port, key, "stock-adjustments", opening_stock_payload(stock_codes))

    scenarios = [
        ("customers", 500, lambda: customers_payload(500), naive_customers),
        ("items", 1000, lambda: items_payload(1000), naive_items),
        (
            "invoices",
            100,
            lambda: invoices_payload(100, customer_numbers, item_codes),
            naive_invoices,
        ),
        (
            "invoices+stock",
            100,
            lambda: stock_invoices_payload(100, customer_numbers, stock_codes),
            naive_invoices,
        ),
        ("journal-entries", 100, lambda: journals_payload(100), naive_journals),
    ]
    print(
        f"{'entity':<16}{'records':>8}{'p50 ms':>10}{'rec/s':>10}{'queries':>9}"
        f"{'naive ms':>10}{'naive q':>9}{'speed-up':>10}"
    )
    for label, size, payload, naive in scenarios:
        entity = label.split("+")[0]  # "invoices+stock" posts invoices
        post(port, key, entity, payload())  # warm-up
        times = [post(port, key, entity, payload())[0] for _ in range(RUNS)]
        queries = count_queries(key, entity, payload())
        naive_times = []
        for _ in range(max(3, RUNS // 2)):
            operations = payload()
            naive_times.append(timed(lambda ops=operations, run=naive: run(company, ops)))
        naive_queries = count_naive_queries(naive, company, payload())
        p50, naive_p50 = statistics.median(times), statistics.median(naive_times)
        print(
            f"{label:<16}{size:>8}{p50 * 1000:>10.1f}{size / p50:>10.0f}{queries:>9}"
            f"{naive_p50 * 1000:>10.1f}{naive_queries:>9}{naive_p50 / p50:>9.1f}x"
        )
    sync_scenarios(port, key)


def count_naive_queries(naive, company, operations) -> int:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()  # the query log is capped; start it empty so the count is whole
    with CaptureQueriesContext(connection) as queries:
        naive(company, operations)
    return len(queries)


if __name__ == "__main__":
    main()
