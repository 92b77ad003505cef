"""New rows made for a batch without Model.__init__ are the rows the model would make, and
look-ups by `= ANY(array)` find what `IN (…)` finds."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.db.models.functions import Lower
from django.test.utils import CaptureQueriesContext

from batch.engine.bulk import AnyOf, copy_insert
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


def test_any_of_finds_what_in_finds(customers):
    wanted = ["CUST-1", "CUST-3", "CUST-9", None]

    found = customers.filter(AnyOf(F("number"), wanted))

    assert sorted(found.values_list("number", flat=True)) == ["CUST-1", "CUST-3"]
    assert set(found) == set(customers.filter(number__in=wanted))


def test_any_of_on_an_expression(customers):
    found = customers.filter(AnyOf(Lower("email"), ["mixed2@example.com", "Mixed3@Example.com"]))

    assert list(found.values_list("number", flat=True)) == ["CUST-2"]


def test_any_of_sends_one_array_whatever_the_number_of_values(customers):
    def statement(count: int) -> tuple[str, tuple]:
        rows = customers.filter(AnyOf(F("number"), [f"CUST-{i}" for i in range(count)]))
        return rows.query.sql_with_params()

    (few, few_params), (many, many_params) = statement(2), statement(500)

    assert few == many
    assert '"ledger_customer"."number" IN (SELECT unnest(%s::varchar(' in many
    assert len(many_params[-1]) == 500 and len(many_params) == len(few_params)


def test_any_of_is_planned_without_weighing_each_value(customers):
    """The array is unnested in a subquery: = ANY(array) made PostgreSQL's planner weigh
    every element against the column's statistics, which took longer than the query."""
    rows = customers.filter(AnyOf(F("number"), [f"CUST-{i}" for i in range(500)]))
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert "unnest" in plan.lower() and "= ANY" not in plan


def test_any_of_nothing_finds_nothing_without_a_query(customers):
    with CaptureQueriesContext(connection) as queries:
        assert list(customers.filter(AnyOf(F("number"), [None]))) == []
    assert len(queries) == 0
