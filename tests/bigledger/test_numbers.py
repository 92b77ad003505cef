import threading

import pytest
from django.db import transaction

from bigledger.numbers import allocate_numbers
from tests import builders

pytestmark = pytest.mark.django_db


def test_numbers_are_consecutive_per_company(company, other_company):
    with transaction.atomic():
        first = allocate_numbers(company=company, prefix="CUST", width=4, count=2)
        other = allocate_numbers(company=other_company, prefix="CUST", width=4, count=1)
        second = allocate_numbers(company=company, prefix="CUST", width=4, count=1)

    assert first == ["CUST-0001", "CUST-0002"]
    assert second == ["CUST-0003"]
    assert other == ["CUST-0001"]


def test_a_rolled_back_transaction_leaves_no_gap(company):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        assert allocate_numbers(company=company, prefix="INV", width=6, count=3)
        raise Abort

    with transaction.atomic():
        assert allocate_numbers(company=company, prefix="INV", width=6, count=1) == ["INV-000001"]


def test_a_failed_invoice_gives_its_numbers_back(company):
    party = builders.customer(company)
    with pytest.raises(ValueError), transaction.atomic():
        builders.invoice(company, party)
        raise ValueError("the batch failed after the invoice was written")

    kept = builders.invoice(company, party)

    assert kept.number == "INV-000001"
    assert kept.journal_entry.number == "JE-000001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_transactions_take_distinct_numbers_of_a_new_sequence():
    """Both start before the company has a sequence row: the second waits for the first's
    row and continues after its numbers, whichever commits first."""
    from django.db import connection

    from bigledger.tenancy import create_company

    company = create_company(name="Numbers", username="numbers", password="x-pw-12345").company
    both_started, taken = threading.Barrier(2), {}

    def take(name: str, count: int) -> None:
        try:
            with transaction.atomic():
                both_started.wait(timeout=10)
                taken[name] = allocate_numbers(company=company, prefix="ADJ", width=6, count=count)
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=args) for args in (("a", 2), ("b", 3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    numbers = sorted(taken["a"] + taken["b"])
    assert numbers == [f"ADJ-{n:06d}" for n in range(1, 6)]
    assert taken["a"] in (numbers[:2], numbers[3:])  # each transaction's run is consecutive
    assert allocate_numbers_now(company) == ["ADJ-000006"]


def allocate_numbers_now(company) -> list[str]:
    with transaction.atomic():
        return allocate_numbers(company=company, prefix="ADJ", width=6, count=1)
