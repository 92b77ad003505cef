"""When a job refreshes the planner's statistics: only when its inserts are a large share of
the table, so a small job on a big table pays nothing that grows with the table."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batch.engine.bulk import copy_insert
from batch.engine.envelope import BatchOptions, BatchRequest, parse_operations
from batch.jobs.processing import process_job
from batch.jobs.submit import submit_job
from ledger.handlers.parties import CustomerHandler
from ledger.models import Customer
from tests.helpers import make_company, numbered_customer


def fill_customers(rows: int) -> None:
    """`rows` customers of another company, then ANALYZE, as autovacuum would have."""
    if rows:
        other = make_company("Other Sdn Bhd").company
        copy_insert(
            Customer,
            [
                Customer(company=other, number=f"CUST-{i}", name=f"Other {i}", email=f"o{i}@x.io")
                for i in range(1, rows + 1)
            ],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_customer")


def run_job(credentials, records: int) -> list[str]:
    """Submit and process a job of `records` new customers; the SQL its processing ran."""
    operations = parse_operations([numbered_customer(i) for i in range(records)])
    company = credentials.company
    job = submit_job(
        company=company,
        user=get_user_model().objects.get(username=credentials.username),
        handler=CustomerHandler,
        request=BatchRequest(operations, BatchOptions(run_async=True)),
    )
    with CaptureQueriesContext(connection) as queries:
        process_job(job.pk)
    assert Customer.objects.for_company(company).count() == records
    return [query["sql"] for query in queries.captured_queries]


def analyzes(statements: list[str]) -> int:
    return sum(sql.startswith("ANALYZE") for sql in statements)


def counted_rows() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'ledger_customer'::regclass")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_small_job_on_a_big_table_runs_no_analyze(credentials):
    fill_customers(10_000)

    statements = run_job(credentials, 1_500)  # adds 15% of the table

    assert analyzes(statements) == 0
    assert counted_rows() == 10_000  # the planner's picture is still the one it had


@pytest.mark.django_db
def test_a_1000_record_job_reads_no_statistics_at_all(credentials):
    fill_customers(1_000)

    statements = run_job(credentials, 1_000)  # two chunks: 500 rows in before the second

    assert not [sql for sql in statements if "pg_class" in sql or sql.startswith("ANALYZE")]


@pytest.mark.django_db
def test_a_job_that_doubles_a_table_analyzes_it_once_it_has_grown(credentials):
    fill_customers(1_000)

    statements = run_job(credentials, 1_500)  # ANALYZE before the third chunk, at 2,000 rows

    assert analyzes(statements) == 1
    assert counted_rows() == 2_000


@pytest.mark.django_db
def test_a_job_filling_an_empty_table_analyzes_it_each_time_it_has_doubled(credentials):
    fill_customers(0)

    statements = run_job(credentials, 4_500)  # ANALYZE at 1,000, 2,000 and 4,000 rows

    assert analyzes(statements) == 3
    assert counted_rows() == 4_000
