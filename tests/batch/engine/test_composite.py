"""A migration in one request (POST /v1/batch): operations of several entities naming each
other with "$ref:<referenceId>", run in dependency order, with groups that succeed together."""

import simplejson

from batch.engine.composite import ENTITY_ORDER
from batch.engine.handlers import registered_handlers
from inventory.models import Item
from ledger.models import Account, Customer, Invoice, JournalEntry, Payment
from tests.books import assert_books_sound
from tests.helpers import count_queries

TODAY = "2024-01-15"


def post_composite(api, operations, *, status=200, **options) -> dict:
    body = {"operations": operations}
    if options:
        body["options"] = options
    response = api.post("/v1/batch", simplejson.dumps(body), content_type="application/json")
    assert response.status_code == status, response.content
    return simplejson.loads(response.content, use_decimal=True)


def op(entity, reference_id, data, operation="create", group=None) -> dict:
    body = {"entity": entity, "operation": operation, "referenceId": reference_id, "data": data}
    if group is not None:
        body["group"] = group
    return body


def customer(reference_id, name="Acme", **extra):
    return op("customers", reference_id, {"name": name, **extra})


def invoice(reference_id, customer_ref, item_ref=None, price="100.00", **extra):
    line = {"quantity": 1, "unitPrice": price, "taxCode": "SST", "description": "Work"}
    if item_ref:
        line["itemId"] = f"$ref:{item_ref}"
    data = {"customerId": f"$ref:{customer_ref}", "invoiceDate": TODAY, "items": [line]}
    return op("invoices", reference_id, data, **extra)


def payment(reference_id, invoice_ref, amount, customer_ref, **extra):
    data = {
        "customerId": f"$ref:{customer_ref}",
        "paymentDate": TODAY,
        "amount": amount,
        "allocations": [{"invoiceId": f"$ref:{invoice_ref}", "amount": amount}],
    }
    return op("payments", reference_id, data, **extra)


def item(reference_id, code):
    return op("items", reference_id, {"itemCode": code, "name": code, "type": "service"})


def by_reference(answer) -> dict[str, dict]:
    return {result["referenceId"]: result for result in answer["data"]["results"]}


def test_a_migration_in_any_order_runs_in_dependency_order(api, company):
    operations = [
        payment("p1", "i1", "50.00", "c1"),
        invoice("i1", "c1", item_ref="w1"),
        item("w1", "W-1"),
        customer("c1"),
    ]

    answer = post_composite(api, operations)

    results = answer["data"]["results"]
    assert [(r["index"], r["entity"], r["status"]) for r in results] == [
        (0, "payments", "created"),
        (1, "invoices", "created"),
        (2, "items", "created"),
        (3, "customers", "created"),
    ]
    stored = Invoice.objects.get(company=company)
    assert stored.customer.public_id == results[3]["data"]["id"]
    assert stored.lines.get().item == Item.objects.get(company=company, item_code="W-1")
    assert stored.amount_paid == 50
    assert Payment.objects.get(company=company).public_id == results[0]["data"]["id"]
    assert answer["data"]["summary"]["created"] == 4
    assert_books_sound(company)


def test_journal_entries_post_to_accounts_created_in_the_same_request(api, company):
    operations = [
        op(
            "journal-entries",
            "je1",
            {
                "date": TODAY,
                "lines": [
                    {"accountId": "$ref:a1", "debit": "10.00"},
                    {"accountId": "$ref:a2", "credit": "10.00"},
                ],
            },
        ),
        op("accounts", "a1", {"code": "6990", "name": "Migration expense", "type": "expense"}),
        op("accounts", "a2", {"code": "3990", "name": "Migration equity", "type": "equity"}),
    ]

    answer = post_composite(api, operations)

    assert [r["status"] for r in answer["data"]["results"]] == ["created"] * 3
    entry = JournalEntry.objects.get(company=company, source="manual")
    assert {line.account.code for line in entry.lines.all()} == {"6990", "3990"}
    assert_books_sound(company)


def test_a_cycle_is_refused_naming_its_reference_ids(api, company):
    operations = [
        op(
            "accounts",
            "a1",
            {"code": "6991", "name": "A", "type": "expense", "parentId": "$ref:a2"},
        ),
        op(
            "accounts",
            "a2",
            {"code": "6992", "name": "B", "type": "expense", "parentId": "$ref:a1"},
        ),
    ]

    answer = post_composite(api, operations, status=400)

    assert answer["error"]["code"] == "INVALID_REQUEST"
    assert (
        "a1 → a2 → a1" in answer["error"]["message"] or "a2 → a1 → a2" in answer["error"]["message"]
    )
    assert not Account.objects.filter(company=company, code__in=["6991", "6992"]).exists()


def test_a_ref_to_no_operation_of_the_request_is_that_records_reference_error(api, company):
    answer = post_composite(api, [customer("c1"), invoice("i1", "c9")])

    failed = by_reference(answer)["i1"]
    assert failed["error"]["code"] == "REFERENCE_ERROR"
    assert failed["error"]["field"] == "customerId"
    assert "c9" in failed["error"]["message"]
    assert by_reference(answer)["c1"]["status"] == "created"


def test_a_record_whose_dependency_failed_is_skipped_and_the_others_go_on(api, company):
    operations = [
        customer("bad", name=""),
        invoice("i-bad", "bad"),
        customer("good"),
        invoice("i-good", "good"),
    ]

    answer = post_composite(api, operations)

    results = by_reference(answer)
    assert results["bad"]["status"] == "failed"
    assert results["i-bad"]["status"] == "skipped"
    assert results["i-bad"]["error"]["code"] == "DEPENDENCY_FAILED"
    assert "'bad'" in results["i-bad"]["error"]["message"]
    assert (results["good"]["status"], results["i-good"]["status"]) == ("created", "created")
    assert answer["data"]["skippedRecords"] == 1


def test_validate_only_checks_the_whole_graph_and_writes_nothing(api, company):
    operations = [customer("c1"), invoice("i1", "c1"), payment("p1", "i1", "500.00", "c1")]

    answer = post_composite(api, operations, validateOnly=True)

    results = by_reference(answer)
    assert (results["c1"]["status"], results["i1"]["status"]) == ("validated", "validated")
    assert results["p1"]["error"]["details"][0]["code"] == "OVER_ALLOCATED"  # 108 is owed
    assert not Customer.objects.filter(company=company).exists()
    assert not Invoice.objects.filter(company=company).exists()


def test_rollback_on_error_undoes_every_entity(api, company):
    operations = [customer("c1"), invoice("i1", "c1"), payment("p1", "i1", "500.00", "c1")]

    answer = post_composite(api, operations, rollbackOnError=True)

    assert answer["data"]["status"] == "rolled_back"
    statuses = [r["status"] for r in answer["data"]["results"]]
    assert statuses == ["rolled_back", "rolled_back", "failed"]
    assert not Customer.objects.filter(company=company).exists()


def test_a_group_succeeds_together_or_not_at_all(api, company):
    operations = [
        customer("c1"),
        invoice("i1", "c1", group="g1"),
        payment("p1", "i1", "500.00", "c1", group="g1"),  # more than is owed
        invoice("i2", "c1", group="g2"),
        payment("p2", "i2", "108.00", "c1", group="g2"),
    ]

    answer = post_composite(api, operations)

    results = by_reference(answer)
    assert results["p1"]["status"] == "failed"
    assert results["i1"]["status"] == "rolled_back"
    assert results["i1"]["error"]["code"] == "ROLLED_BACK"
    assert "g1" in results["i1"]["error"]["message"]
    assert [results[ref]["status"] for ref in ("c1", "i2", "p2")] == ["created"] * 3
    assert Invoice.objects.filter(company=company).count() == 1
    assert Invoice.objects.get(company=company).public_id == results["i2"]["data"]["id"]
    assert Invoice.objects.get(company=company).number == "INV-000001"  # no gap
    assert_books_sound(company)


def test_an_unknown_entity_fails_its_record_only(api, company):
    answer = post_composite(api, [op("widgets", "x", {}), customer("c1")])

    first, second = answer["data"]["results"]
    assert (first["status"], first["error"]["details"][0]["field"]) == ("failed", "entity")
    assert second["status"] == "created"


def test_more_than_the_sync_limit_is_refused(api):
    answer = post_composite(api, [customer(f"c{n}") for n in range(1001)], status=400)

    assert answer["error"]["code"] == "BATCH_TOO_LARGE"


def test_each_stage_costs_the_same_queries_whatever_its_size(api, company, settings):
    settings.BATCH_RATE_LIMIT = "1000/min"

    def migration(size, run):
        return [
            operation
            for n in range(size)
            for operation in (customer(f"c{run}-{n}"), invoice(f"i{run}-{n}", f"c{run}-{n}"))
        ]

    post_composite(api, migration(1, "warm-up"))
    small = count_queries(lambda: post_composite(api, migration(3, "a")))
    large = count_queries(lambda: post_composite(api, migration(30, "b")))

    assert small == large


def test_match_on_applies_to_the_entities_that_take_it(api, company):
    post_composite(api, [customer("c0", email="ap@acme.com")])
    operations = [
        op("customers", "c1", {"email": "AP@acme.com", "name": "Acme Bhd"}, operation="upsert"),
        invoice("i1", "c1"),
    ]

    answer = post_composite(api, operations, matchOn=["email"])

    assert [r["status"] for r in answer["data"]["results"]] == ["updated", "created"]
    assert Customer.objects.get(company=company).name == "Acme Bhd"
    refused = post_composite(api, operations, status=400, matchOn=["colour"])
    assert "colour" in refused["error"]["message"]


def test_every_batch_entity_has_its_turn_in_the_entity_order():
    assert sorted(ENTITY_ORDER) == sorted(registered_handlers())
