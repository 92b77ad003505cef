"""POST /v1/batch/accounts: create and update the chart of accounts, read back through the
API. Parents may be created earlier in the same batch; accounts are never deleted."""

import pytest
import simplejson

from ledger.models import Account
from tests import builders
from tests.helpers import (
    count_queries,
    create,
    delete,
    detail_codes,
    post_batch,
    result_error,
    update,
)

pytestmark = pytest.mark.django_db

MAX = 200


def accounts(api, *operations, **options) -> dict:
    return post_batch(api, "accounts", list(operations), **options)["data"]


def read_account(api, code) -> dict:
    response = api.get("/v1/accounts", {"code": code})
    assert response.status_code == 200, response.content
    (account,) = simplejson.loads(response.content, use_decimal=True)["data"]
    return account


def stored(company, code) -> Account:
    return Account.objects.get(company=company, code=code)


# Create.


def test_accounts_are_created_under_stored_parents_and_parents_of_the_same_batch(api, company):
    current_assets = builders.account(company, "1000")

    data = accounts(
        api,
        create({"code": "1700", "name": "Deposits", "type": "asset", "parentId": "1000"}),
        create({"code": "1710", "name": "Rental Deposits", "type": "asset", "parentId": "1700"}),
        create({"code": "1711", "name": "Office Deposit", "type": "asset", "parentId": "1710"}),
        create({"code": "6300", "name": "Travel", "type": "expense", "active": False}),
    )

    assert [r["status"] for r in data["results"]] == ["created"] * 4
    assert set(data["results"][0]["data"]) == {"id", "code", "externalId"}
    deposits, rental, office, travel = (r["data"] for r in data["results"])
    read = read_account(api, "1700")
    assert read == {
        "id": deposits["id"],
        "externalId": None,
        "code": "1700",
        "name": "Deposits",
        "type": "asset",
        "parentId": current_assets.public_id,
        "role": None,
        "active": True,
        "updatedAt": read["updatedAt"],
    }
    assert read_account(api, "1710")["parentId"] == deposits["id"]
    assert read_account(api, "1711")["parentId"] == rental["id"]
    assert read_account(api, "6300")["active"] is False
    assert office["id"].startswith("acc_") and travel["code"] == "6300"


def test_a_parent_may_be_named_by_public_id_and_the_type_is_case_insensitive(api, company):
    parent = builders.account(company, "6000")

    data = accounts(
        api,
        create(
            {"code": "6010", "name": "Vehicle", "type": "Expense", "parentId": parent.public_id}
        ),
    )

    assert data["results"][0]["status"] == "created"
    assert stored(company, "6010").parent == parent
    assert stored(company, "6010").type == "expense"


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"name": "No code", "type": "asset"}, "code", "REQUIRED"),
        ({"code": "", "name": "Blank code", "type": "asset"}, "code", "REQUIRED"),
        ({"code": "X" * 21, "name": "Long code", "type": "asset"}, "code", "MAX_LENGTH"),
        ({"code": "7000", "type": "asset"}, "name", "REQUIRED"),
        ({"code": "7000", "name": "N" * 201, "type": "asset"}, "name", "MAX_LENGTH"),
        ({"code": "7000", "name": "No type"}, "type", "REQUIRED"),
        ({"code": "7000", "name": "Revenue", "type": "revenue"}, "type", "INVALID_CHOICE"),
        ({"code": "7000", "name": "N", "type": "asset", "active": "x"}, "active", "INVALID_TYPE"),
        ({"code": "7000", "name": "N", "type": "asset", "role": "bank"}, "role", "UNKNOWN_FIELD"),
    ],
)
def test_a_bad_field_is_a_validation_error_naming_it(api, company, data, field, code):
    before = Account.objects.for_company(company).count()

    error = result_error(accounts(api, create(data)))

    assert error["code"] == "VALIDATION_ERROR"
    assert error["field"] == field
    assert detail_codes(error) == {(field, code)}
    assert Account.objects.for_company(company).count() == before


def test_a_code_twice_in_one_batch_or_already_stored_is_a_duplicate(api, company):
    data = accounts(
        api,
        create({"code": "7000", "name": "Suspense", "type": "asset"}),
        create({"code": "7000", "name": "Again", "type": "asset"}),
        create({"code": "1000", "name": "Clash", "type": "asset"}),
    )

    assert data["results"][0]["status"] == "created"
    for index in (1, 2):
        error = result_error(data, index)
        assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "code")
    assert stored(company, "7000").name == "Suspense"
    assert stored(company, "1000").name == "Current Assets"


def test_codes_are_per_company(api, other_company):
    Account.objects.create(company=other_company, code="7000", name="Theirs", type="asset")

    assert (
        accounts(api, create({"code": "7000", "name": "Ours", "type": "asset"}))[
            "successfulRecords"
        ]
        == 1
    )


def test_an_unknown_parent_is_a_reference_error(api, other_company):
    theirs = Account.objects.create(company=other_company, code="7000", name="T", type="asset")

    data = accounts(
        api,
        create({"code": "7100", "name": "A", "type": "asset", "parentId": "9999"}),
        create({"code": "7200", "name": "B", "type": "asset", "parentId": theirs.public_id}),
    )

    for index in (0, 1):
        error = result_error(data, index)
        assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "parentId")


def test_a_child_of_a_parent_that_failed_in_the_batch_is_a_reference_error(api):
    data = accounts(
        api,
        create({"code": "7000", "name": "", "type": "asset"}),
        create({"code": "7010", "name": "Child", "type": "asset", "parentId": "7000"}),
    )

    assert result_error(data, 1)["code"] == "REFERENCE_ERROR"


def test_a_parent_of_another_type_is_refused(api, company):
    error = result_error(
        accounts(api, create({"code": "7000", "name": "X", "type": "expense", "parentId": "1000"}))
    )

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "parentId")
    assert detail_codes(error) == {("parentId", "INVALID_VALUE")}


# Update.


def test_an_update_named_by_code_changes_only_what_it_sends(api, company):
    data = accounts(api, update({"code": "1500", "name": "Prepayments"}))

    assert data["results"][0]["status"] == "updated"
    assert data["results"][0]["data"] == {
        "id": stored(company, "1500").public_id,
        "code": "1500",
        "externalId": None,
    }
    prepayments = read_account(api, "1500")
    assert (prepayments["name"], prepayments["type"]) == ("Prepayments", "asset")
    assert prepayments["parentId"] == builders.account(company, "1000").public_id


def test_an_update_named_by_id_may_change_the_code(api, company):
    prepaid = builders.account(company, "1500")

    data = accounts(
        api,
        update({"id": prepaid.public_id, "code": "1550"}),
        update({"code": "1500", "name": "Gone"}),
        create({"code": "1500", "name": "Short-term Investments", "type": "asset"}),
    )

    assert [r["status"] for r in data["results"]] == ["updated", "failed", "created"]
    assert data["results"][1]["error"]["code"] == "NOT_FOUND"
    assert stored(company, "1550").public_id == prepaid.public_id
    assert stored(company, "1500").name == "Short-term Investments"


def test_an_update_after_a_create_of_the_same_account_in_one_batch_works(api, company):
    data = accounts(
        api,
        create({"code": "7000", "name": "Suspense", "type": "asset"}),
        update({"code": "7000", "name": "Suspense Account", "parentId": "1000"}),
    )

    assert [r["status"] for r in data["results"]] == ["created", "updated"]
    assert read_account(api, "7000")["name"] == "Suspense Account"
    assert stored(company, "7000").parent == builders.account(company, "1000")


def test_an_account_may_move_under_a_parent_created_in_the_same_batch(api, company):
    data = accounts(
        api,
        create(
            {"code": "1050", "name": "Cash and Equivalents", "type": "asset", "parentId": "1000"}
        ),
        update({"code": "1010", "parentId": "1050"}),
    )

    assert [r["status"] for r in data["results"]] == ["created", "updated"]
    assert read_account(api, "1010")["parentId"] == data["results"][0]["data"]["id"]


def test_a_parent_of_null_makes_an_account_top_level(api, company):
    accounts(api, update({"code": "1500", "parentId": None}))

    assert stored(company, "1500").parent is None


@pytest.mark.parametrize(
    "operations",
    [
        [update({"code": "1000", "parentId": "1010"})],  # 1010 is under 1000
        [update({"code": "1000", "parentId": "1000"})],
        [
            create({"code": "1060", "name": "Deposits", "type": "asset", "parentId": "1500"}),
            update({"code": "1000", "parentId": "1060"}),
        ],
    ],
    ids=["child", "itself", "grandchild-created-in-the-batch"],
)
def test_a_parent_that_would_make_a_cycle_is_refused(api, company, operations):
    error = result_error(accounts(api, *operations), len(operations) - 1)

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "parentId")
    assert detail_codes(error) == {("parentId", "INVALID_VALUE")}
    assert stored(company, "1000").parent is None


def test_the_type_of_an_account_with_journal_lines_cannot_change(api, company):
    builders.journal(company, "6100", "1010", "100.00")

    data = accounts(
        api, update({"code": "6100", "type": "asset"}), update({"code": "6200", "type": "asset"})
    )

    error = result_error(data, 0)
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "type")
    assert detail_codes(error) == {("type", "INVALID_VALUE")}
    assert data["results"][1]["status"] == "updated"  # 6200 has no lines
    assert (stored(company, "6100").type, stored(company, "6200").type) == ("expense", "asset")


def test_the_type_of_an_account_with_sub_accounts_of_that_type_cannot_change(api, company):
    data = accounts(
        api,
        update({"code": "1600", "type": "expense"}),
        create({"code": "6400", "name": "Rent", "type": "expense"}),
        create({"code": "6410", "name": "Office Rent", "type": "expense", "parentId": "6400"}),
        update({"code": "6400", "type": "asset"}),
    )

    assert detail_codes(result_error(data, 0)) == {("type", "INVALID_VALUE")}
    assert detail_codes(result_error(data, 3)) == {("type", "INVALID_VALUE")}
    assert stored(company, "1600").type == "asset"


def test_a_posting_account_cannot_be_deactivated(api, company):
    data = accounts(
        api, update({"code": "1010", "active": False}), update({"code": "1500", "active": False})
    )

    error = result_error(data, 0)
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "active")
    assert data["results"][1]["status"] == "updated"
    assert (stored(company, "1010").active, stored(company, "1500").active) == (True, False)


def test_an_account_with_journal_lines_cannot_gain_sub_accounts(api, company):
    builders.journal(company, "6100", "1500", "100.00")

    data = accounts(
        api,
        create({"code": "6110", "name": "Fire Insurance", "type": "expense", "parentId": "6100"}),
        update({"code": "6200", "parentId": "6100"}),
        create({"code": "6210", "name": "Postage", "type": "expense", "parentId": "6200"}),
    )

    for index in (0, 1):
        error = result_error(data, index)
        assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "parentId")
        assert detail_codes(error) == {("parentId", "HEADER_ACCOUNT")}
        assert "6100 has journal lines" in error["message"]
    assert data["results"][2]["status"] == "created"  # 6200 has no lines
    assert not Account.objects.filter(company=company, parent__code="6100").exists()
    assert stored(company, "6200").parent is None


def test_a_posting_role_account_cannot_gain_sub_accounts(api, company):
    data = accounts(
        api, create({"code": "1011", "name": "Petty Cash", "type": "asset", "parentId": "1010"})
    )

    assert detail_codes(result_error(data)) == {("parentId", "HEADER_ACCOUNT")}
    assert not Account.objects.filter(company=company, code="1011").exists()


def test_an_account_keeps_the_parent_it_has_whatever_posts_to_it(api, company):
    builders.journal(company, "6100", "1500", "100.00")
    Account.objects.filter(company=company, code="6200").update(parent=stored(company, "6100"))

    data = accounts(api, update({"code": "6200", "name": "General", "parentId": "6100"}))

    assert data["results"][0]["status"] == "updated"
    assert stored(company, "6200").name == "General"


def test_update_of_an_unknown_account_is_not_found(api, other_company):
    theirs = Account.objects.create(company=other_company, code="7000", name="T", type="asset")

    data = accounts(
        api, update({"id": "acc_nope", "name": "X"}), update({"id": theirs.public_id, "name": "X"})
    )

    assert [result_error(data, i)["code"] for i in (0, 1)] == ["NOT_FOUND", "NOT_FOUND"]


def test_accounts_cannot_be_deleted(api, company):
    error = result_error(accounts(api, delete({"code": "1500"})))

    assert (error["code"], error["field"]) == ("UNSUPPORTED_OPERATION", "operation")
    assert Account.objects.filter(company=company, code="1500").exists()


# Options.


def test_validate_only_persists_nothing(api, company):
    before = list(Account.objects.for_company(company).values_list("code", "name", "parent"))

    data = accounts(
        api,
        create({"code": "7000", "name": "Suspense", "type": "asset"}),
        create({"code": "7010", "name": "Child", "type": "asset", "parentId": "7000"}),
        update({"code": "1500", "name": "Renamed", "parentId": "7000"}),
        validateOnly=True,
    )

    assert [r["status"] for r in data["results"]] == ["validated"] * 3
    after = list(Account.objects.for_company(company).values_list("code", "name", "parent"))
    assert after == before


def test_more_than_200_accounts_is_too_large(api):
    operations = [
        create({"code": f"9{i:04d}", "name": "N", "type": "asset"}) for i in range(MAX + 1)
    ]

    assert post_batch(api, "accounts", operations, status=400)["error"]["code"] == "BATCH_TOO_LARGE"


# Set-based: the queries do not grow with the batch (flat batches: one insert wave).


def account_data(i: int) -> dict:
    return {"code": f"9{i:04d}", "name": f"Account {i}", "type": "expense", "parentId": "6000"}


def queries_for(api, operations) -> int:
    def run():
        data = accounts(api, *operations)
        assert data["failedRecords"] == 0, data["results"][0]

    return count_queries(run)


def test_create_and_update_cost_the_same_queries_for_1_and_200(api, company):
    accounts(api, create(account_data(-1)))  # warm the key's last-used stamp

    create_one = queries_for(api, [create(account_data(0))])
    create_max = queries_for(api, [create(account_data(i)) for i in range(1, MAX + 1)])
    update_one = queries_for(
        api, [update({"code": "90000", "name": "Renamed", "parentId": "6100"})]
    )
    update_max = queries_for(
        api,
        [
            update({"code": f"9{i:04d}", "name": f"Renamed {i}", "parentId": "6100"})
            for i in range(1, MAX + 1)
        ],
    )

    assert create_one == create_max
    assert update_one == update_max
    assert Account.objects.filter(company=company, parent__code="6100").count() == MAX + 1
    print(f"accounts queries: create {create_max}, update {update_max}")
