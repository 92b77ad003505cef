"""Two batches racing for the same unique value: one wins, the other is told why."""

import threading

import pytest
import simplejson
from django.db import connection

from ledger.handlers.parties import CustomerHandler
from ledger.models import Customer
from tests.helpers import api_client_for, make_company


def run_concurrently(clients, bodies) -> list:
    responses = [None] * len(clients)

    def post(position):
        try:
            responses[position] = clients[position].post(
                "/v1/batch/customers",
                simplejson.dumps(bodies[position]),
                content_type="application/json",
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def one_customer(email, name):
    return {"operations": [{"operation": "create", "data": {"name": name, "email": email}}]}


@pytest.mark.django_db(transaction=True)
def test_both_batches_validate_before_either_writes_and_exactly_one_wins(monkeypatch):
    credentials = make_company()
    clients = [api_client_for(credentials), api_client_for(credentials)]
    both_validated = threading.Barrier(2)
    original_write = CustomerHandler.write

    def write_after_both_validated(self, records):
        both_validated.wait(timeout=20)
        return original_write(self, records)

    monkeypatch.setattr(CustomerHandler, "write", write_after_both_validated)

    responses = run_concurrently(
        clients,
        [
            one_customer("race@acme.com", "First"),
            one_customer("RACE@acme.com", "Second"),
        ],
    )

    assert [response.status_code for response in responses] == [200, 200]
    results = sorted((r.json()["data"]["results"][0] for r in responses), key=lambda r: r["status"])
    assert [r["status"] for r in results] == ["created", "failed"]
    assert results[1]["error"]["code"] == "DUPLICATE_ERROR"
    assert results[1]["error"]["field"] == "email"
    assert Customer.objects.filter(company=credentials.company).count() == 1
    assert results[0]["data"]["customerNumber"] == "CUST-0001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_many_overlapping_emails_never_duplicate():
    credentials = make_company()
    clients = [api_client_for(credentials) for _ in range(4)]
    bodies = [
        {
            "operations": [
                {"operation": "create", "data": {"name": f"C{n}-{i}", "email": f"c{i}@x.com"}}
                for i in range(50)
            ]
        }
        for n in range(4)
    ]

    responses = run_concurrently(clients, bodies)

    assert {response.status_code for response in responses} == {200}
    created = sum(r.json()["data"]["summary"]["created"] for r in responses)
    duplicates = sum(
        1
        for r in responses
        for result in r.json()["data"]["results"]
        if result["status"] == "failed" and result["error"]["code"] == "DUPLICATE_ERROR"
    )
    assert created == 50 and duplicates == 150
    numbers = sorted(
        Customer.objects.filter(company=credentials.company).values_list("number", flat=True)
    )
    assert numbers == [f"CUST-{i:04d}" for i in range(1, 51)]


@pytest.mark.django_db(transaction=True)
def test_records_skipped_after_a_write_time_conflict_are_not_written(monkeypatch):
    credentials = make_company()
    both_validated, winner_committed = threading.Barrier(2), threading.Event()
    original_write = CustomerHandler.write

    def write_in_a_fixed_order(self, records):
        if not getattr(self, "_waited", False):
            self._waited = True
            both_validated.wait(timeout=20)
            if len(records) == 3:  # the stopping batch writes after the winner committed
                winner_committed.wait(timeout=20)
        return original_write(self, records)

    monkeypatch.setattr(CustomerHandler, "write", write_in_a_fixed_order)
    stopping = {
        "operations": [
            {"operation": "create", "data": {"name": "First", "email": "first@acme.com"}},
            {"operation": "create", "data": {"name": "Loser", "email": "race@acme.com"}},
            {"operation": "create", "data": {"name": "After", "email": "after@acme.com"}},
        ],
        "options": {"continueOnError": False},
    }
    responses = {}

    def post(name, body, then=None):
        try:
            responses[name] = api_client_for(credentials).post(
                "/v1/batch/customers", simplejson.dumps(body), content_type="application/json"
            )
        finally:
            connection.close()
            if then:
                then.set()

    threads = [
        threading.Thread(
            target=post, args=("winner", one_customer("RACE@acme.com", "Winner"), winner_committed)
        ),
        threading.Thread(target=post, args=("stopping", stopping)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    results = responses["stopping"].json()["data"]["results"]
    assert [r["status"] for r in results] == ["created", "failed", "skipped"]
    assert results[1]["error"]["code"] == "DUPLICATE_ERROR"
    names = set(Customer.objects.filter(company=credentials.company).values_list("name", flat=True))
    assert names == {"Winner", "First"}  # "After" was reported skipped: it must not exist
