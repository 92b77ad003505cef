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
