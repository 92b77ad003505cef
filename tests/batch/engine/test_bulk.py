"""New rows made for a batch without Model.__init__ are the rows the model would make, COPY
stores them exactly (in binary where it can), and company_keys finds a company's rows by one
array of values, probing the unique index."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batch.engine.bulk import company_keys, company_keys_statement, copy_insert
from batch.engine.master import NewRows
from inventory.models import Item
from ledger.models import Customer
from tests.helpers import api_client_for, create, make_company, post_batch

pytestmark = pytest.mark.django_db


def field_values(row) -> dict:
    return {
        field.attname: getattr(row, field.attname)
        for field in type(row)._meta.concrete_fields
        if field.attname not in ("id", "public_id")
    }


@pytest.mark.parametrize("model", [Customer, Item])
def test_new_rows_are_what_the_model_makes(model):
    company = make_company().company
    new_rows = NewRows(model, company=company)

    first, second = new_rows(), new_rows()

    assert field_values(first) == field_values(model(company=company))
    assert first.company is company and first._state.adding and first.pk is None
    prefix = model(company=company).public_id.split("_")[0]
    assert first.public_id.startswith(f"{prefix}_") and second.public_id.startswith(f"{prefix}_")
    assert first.public_id != second.public_id


def test_new_rows_share_nothing_a_row_changes():
    company, other = make_company().company, make_company().company
    new_rows = NewRows(Customer, company=company)

    changed, untouched = new_rows(), new_rows()
    changed.company = other
    changed.name = "Changed"

    assert untouched.company is company and untouched.company_id == company.pk
    assert untouched.name == ""


def test_new_rows_are_stored_with_their_defaults():
    company = make_company().company
    new_rows = NewRows(Customer, company=company)
    rows = []
    for number in (1, 2):
        row = new_rows()
        row.number, row.name = f"CUST-{number}", f"Customer {number}"
        rows.append(row)

    copy_insert(Customer, rows)

    stored = Customer.objects.filter(company=company).order_by("number")
    assert [(c.public_id, c.country, c.status, c.payment_terms) for c in stored] == [
        (row.public_id, "MY", "active", 30) for row in rows
    ]
    assert all(c.credit_limit == Decimal("0.00") and c.created_at for c in stored)


def test_a_batch_creates_customers_with_their_own_ids_and_the_model_defaults():
    credentials = make_company()
    api = api_client_for(credentials)

    body = post_batch(api, "customers", [create({"name": "A"}), create({"name": "B"})])

    ids = [result["data"]["id"] for result in body["data"]["results"]]
    stored = Customer.objects.filter(company=credentials.company).order_by("number")
    assert [c.public_id for c in stored] == ids and len(set(ids)) == 2
    assert [(c.country, c.status, c.payment_terms, c.email) for c in stored] == [
        ("MY", "active", 30, "")
    ] * 2


@pytest.fixture
def customers():
    company = make_company().company
    rows = [
        Customer(company=company, number=f"CUST-{i}", name=f"C{i}", email=f"Mixed{i}@Example.com")
        for i in range(1, 4)
    ]
    copy_insert(Customer, rows)
    return Customer.objects.filter(company=company)


def keys(company, field: str, values, *, insensitive: bool = False) -> list[tuple]:
    return sorted(
        company_keys(
            Customer, company_id=company.pk, field=field, values=values, insensitive=insensitive
        )
    )


def test_company_keys_finds_the_companys_rows_by_a_unique_field(customers):
    company = customers.first().company
    pks = dict(customers.values_list("number", "pk"))

    found = keys(company, "number", ["CUST-1", "CUST-3", "CUST-9"])

    assert found == [("CUST-1", pks["CUST-1"]), ("CUST-3", pks["CUST-3"])]


def test_company_keys_compares_lower_cased_values_when_asked(customers):
    company = customers.first().company

    found = keys(company, "email", ["mixed2@example.com", "Mixed3@Example.com"], insensitive=True)

    assert found == [("mixed2@example.com", customers.get(number="CUST-2").pk)]


def test_company_keys_never_finds_another_companys_rows(customers):
    other = make_company().company
    copy_insert(Customer, [Customer(company=other, number="CUST-1", email="x@example.com")])

    assert keys(other, "number", ["CUST-1", "CUST-2"]) == [
        ("CUST-1", Customer.objects.get(company=other).pk)
    ]
    assert keys(other, "email", [""], insensitive=True) == []  # blank is never a key


def test_company_keys_sends_one_array_whatever_the_number_of_values(customers):
    company = customers.first().company
    with CaptureQueriesContext(connection) as queries:
        keys(company, "number", [f"CUST-{i}" for i in range(2)])
        keys(company, "number", [f"CUST-{i}" for i in range(500)])

    few, many = (query["sql"] for query in queries)
    assert few.split("FROM")[1].split("'")[0] == many.split("FROM")[1].split("'")[0]
    assert many.count("CUST-") == 500


def test_company_keys_probes_the_unique_index_for_a_company_the_statistics_do_not_know():
    """Another company fills the table and it is analyzed; then a new company's rows arrive.
    PostgreSQL's statistics count the new company as a row or two, so a WHERE company_id =
    constant led it to scan all of the company's rows for every look-up (each chunk of a job
    slower than the last: in this very state it scans ledger_customer_company_id_… with the
    values as a filter). The company as a column of the values, each probed in a LATERAL
    subquery, leaves it one probe of the unique index per value."""
    old, new = make_company().company, make_company().company
    copy_insert(
        Customer,
        [
            Customer(company=old, number=f"OLD-{i}", email=f"o{i}@example.com")
            for i in range(20_000)
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_customer")
    copy_insert(
        Customer,
        [Customer(company=new, number=f"NEW-{i}", email=f"n{i}@example.com") for i in range(3000)],
    )
    emails = [f"n{i}@example.com" for i in range(0, 3000, 6)]

    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN {company_keys_statement(Customer, 'email', True)}", [new.pk, emails]
        )
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert "Nested Loop" in plan and "customer_unique_email_ci" in plan, plan
    assert "company_id_" not in plan, plan  # not the company's own index, row by row
    assert len(keys(new, "email", emails, insensitive=True)) == 500


AWKWARD_TEXT = "Tab\there, new\nline, back\\slash, \\N, quote \" and 'é 中文 🙂'"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "text"])
def test_copy_insert_stores_every_value_as_it_was(binary, monkeypatch):
    """What COPY writes reads back exactly, in binary (the columns' types known) and in
    text (the fallback for a type psycopg cannot write in binary)."""
    from batch.engine import bulk
    from batch.models import BatchChunk, BatchJob

    if not binary:
        monkeypatch.setattr(bulk, "binary_types", lambda *args: ())
    company = make_company().company
    customer = NewRows(Customer, company=company)()
    customer.number, customer.name, customer.street = "CUST-77", AWKWARD_TEXT, ""
    customer.credit_limit, customer.payment_terms = Decimal("9999999999999999.99"), 365
    job = BatchJob.objects.create(company=company, public_id="job_copy", entity="customers")
    chunk = BatchChunk(job=job, position=0, first_index=0, size=1, operations=AWKWARD_TEXT)
    chunk.keys, chunk.completed_at = bytes(range(256)), timezone.now()

    copy_insert(Customer, [customer])
    copy_insert(BatchChunk, [chunk])

    stored = Customer.objects.get(company=company, number="CUST-77")
    assert field_values(stored) == field_values(customer)
    stored_chunk = BatchChunk.objects.get(job=job)
    assert stored_chunk.operations == AWKWARD_TEXT
    assert bytes(stored_chunk.keys) == bytes(range(256))
    assert stored_chunk.completed_at == chunk.completed_at


def test_copy_is_binary_only_where_every_column_has_a_binary_writer():
    from batch.engine.bulk import binary_types

    assert binary_types(connection, "ledger_customer", ("name", "credit_limit")) == (1043, 1700)
    # A column the table lacks has no type, so no binary writer: the COPY stays in text.
    assert binary_types(connection, "ledger_customer", ("name", "no_such_column")) == ()
