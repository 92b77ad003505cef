import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction

from inventory.models import Location
from ledger.models import Account, Customer, TaxCode
from tests import builders
from tests.helpers import make_company


@pytest.mark.django_db
def test_a_new_company_starts_with_a_chart_tax_codes_and_a_warehouse(company):
    roles = set(
        Account.objects.for_company(company).exclude(role=None).values_list("role", flat=True)
    )

    assert {"bank", "receivables", "payables", "sales", "purchases", "tax_output"} <= roles
    assert TaxCode.objects.get(company=company, code="SST").rate == 8
    assert Location.objects.filter(company=company, code="WH").exists()


@pytest.mark.django_db
def test_scoped_queries_never_see_another_companys_rows(company, other_company):
    builders.customer(company, name="Ours", email="a@example.com")
    builders.customer(other_company, name="Theirs", email="a@example.com")

    names = list(Customer.objects.for_company(company).values_list("name", flat=True))

    assert names == ["Ours"]


@pytest.mark.django_db
def test_email_is_unique_per_company_ignoring_case(company):
    builders.customer(company, email="Billing@Acme.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        builders.customer(company, name="Copy", email="billing@acme.COM")


@pytest.mark.django_db
def test_customers_without_email_do_not_collide(company):
    builders.customer(company, name="One")
    builders.customer(company, name="Two")

    assert Customer.objects.for_company(company).count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_racing_transactions_cannot_both_create_the_same_email():
    company = make_company().company
    barrier = threading.Barrier(2)
    outcomes = []

    def create(number: str, email: str) -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                Customer.objects.create(company=company, number=number, name=number, email=email)
                time.sleep(0.3)  # the other insert now waits on our index entry
            outcomes.append("created")
        except IntegrityError:
            outcomes.append("duplicate")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=create, args=("CUST-0001", "race@acme.com")),
        threading.Thread(target=create, args=("CUST-0002", "RACE@acme.com")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert Customer.objects.filter(company=company).count() == 1
    assert sorted(outcomes) == ["created", "duplicate"]
