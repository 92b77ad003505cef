"""POST /v1/batch/journal-entries: manual entries, balanced and posted, create only."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ledger.models import Account, JournalEntry, JournalLine, JournalSource
from ledger.selectors import journal_totals
from tests import builders
from tests.books import assert_books_balance
from tests.helpers import create, detail_codes, post_batch, result_error

pytestmark = pytest.mark.django_db

ENTITY = "journal-entries"


def line(account, debit=None, credit=None, *, key="accountId", description="") -> dict:
    body = {key: account}
    if debit is not None:
        body["debit"] = Decimal(debit)
    if credit is not None:
        body["credit"] = Decimal(credit)
    if description:
        body["description"] = description
    return body


def entry(*lines, date="2024-01-15", reference="JE-2024-001", description="Monthly depreciation"):
    lines = lines or (line("6000", "5000.00", "0.00"), line("1620", "0.00", "5000.00"))
    return {"date": date, "reference": reference, "description": description, "lines": list(lines)}


def api_example() -> list[dict]:
    """The API's example of two month-end entries, its account ids given as codes of the
    default chart."""
    return [
        create(
            {
                "date": "2024-01-15",
                "reference": "JE-2024-001",
                "description": "Monthly depreciation",
                "lines": [
                    {
                        "accountId": "6000",
                        "debit": Decimal("5000.00"),
                        "credit": Decimal("0.00"),
                        "description": "Equipment depreciation",
                    },
                    {
                        "accountId": "1620",
                        "debit": Decimal("0.00"),
                        "credit": Decimal("5000.00"),
                        "description": "Accumulated depreciation",
                    },
                ],
            },
            "je_001",
        ),
        create(
            {
                "date": "2024-01-15",
                "reference": "JE-2024-002",
                "description": "Prepaid insurance adjustment",
                "lines": [
                    {
                        "accountId": "6100",
                        "debit": Decimal("2000.00"),
                        "credit": Decimal("0.00"),
                        "description": "Monthly insurance expense",
                    },
                    {
                        "accountId": "1500",
                        "debit": Decimal("0.00"),
                        "credit": Decimal("2000.00"),
                        "description": "Prepaid insurance reduction",
                    },
                ],
            },
            "je_002",
        ),
    ]


def post(api, *data, **options) -> dict:
    return post_batch(api, ENTITY, [create(body) for body in data], **options)["data"]


def only_result(api, data, **options) -> dict:
    return post(api, data, **options)["results"][0]


def assert_nothing_posted(api, company) -> None:
    """No entry or line was kept and no number was used: the next entry is JE-000001."""
    assert not JournalEntry.objects.filter(company=company).exists()
    assert not JournalLine.objects.filter(company=company).exists()
    assert only_result(api, entry())["data"]["number"] == "JE-000001"
    assert_books_balance(company)


# The API's example ----------------------------------------------------------------------------


def test_the_api_example_posts_both_entries_with_their_lines(api, company):
    body = post_batch(api, ENTITY, api_example())["data"]

    assert body["status"] == "completed"
    assert body["successfulRecords"] == 2
    assert body["summary"]["created"] == 2
    first, second = body["results"]
    assert first["referenceId"] == "je_001"
    assert first["status"] == "created"
    assert first["data"]["id"].startswith("je_")
    assert first["data"] == {
        "id": first["data"]["id"],
        "number": "JE-000001",
        "totalDebit": Decimal("5000.00"),
        "totalCredit": Decimal("5000.00"),
        "externalId": None,
    }
    assert second["data"]["number"] == "JE-000002"
    posted = JournalEntry.objects.get(public_id=first["data"]["id"])
    assert posted.company == company
    assert posted.source == JournalSource.MANUAL
    assert posted.date == datetime.date(2024, 1, 15)
    assert (posted.reference, posted.description) == ("JE-2024-001", "Monthly depreciation")
    assert [
        (li.line_number, li.account.code, li.debit, li.credit, li.description)
        for li in posted.lines.select_related("account")
    ] == [
        (1, "6000", Decimal("5000.00"), Decimal("0.00"), "Equipment depreciation"),
        (2, "1620", Decimal("0.00"), Decimal("5000.00"), "Accumulated depreciation"),
    ]
    assert journal_totals(company=company) == (Decimal("7000.00"), Decimal("7000.00"))
    assert_books_balance(company)


def test_accounts_are_named_by_public_id_code_or_account_code(api, company):
    depreciation = builders.account(company, "6000")

    result = only_result(
        api,
        entry(
            line(depreciation.public_id, debit="10.00"),
            line("1620", credit="4.00"),
            line("1610", credit="6.00", key="accountCode"),
        ),
    )

    assert result["status"] == "created"
    posted = JournalEntry.objects.get(public_id=result["data"]["id"])
    assert [li.account.code for li in posted.lines.all()] == ["6000", "1620", "1610"]
    assert_books_balance(company)


# Dates ----------------------------------------------------------------------------------------


def test_a_future_date_is_refused(api, company):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    error = result_error(post(api, entry(date=tomorrow.isoformat())))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "date")
    assert detail_codes(error) == {("date", "FUTURE_DATE")}
    assert_books_balance(company)


def test_today_is_not_the_future(api, company):
    result = only_result(api, entry(date=timezone.localdate().isoformat()))

    assert result["status"] == "created"


def test_a_company_that_allows_future_dates_may_post_them(api, company):
    company.allow_future_dates = True
    company.save(update_fields=["allow_future_dates"])
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    result = only_result(api, entry(date=tomorrow.isoformat()))

    assert result["status"] == "created"
    assert JournalEntry.objects.get(public_id=result["data"]["id"]).date == tomorrow


@pytest.mark.parametrize("bad", ["2024-02-30", "yesterday", 20240115])
def test_an_invalid_date_is_refused(api, bad):
    error = result_error(post(api, entry(date=bad)))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "date")
    assert detail_codes(error) == {("date", "INVALID_DATE")}


def test_a_date_is_required(api):
    data = entry()
    del data["date"]

    error = result_error(post(api, data))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "date")
    assert detail_codes(error) == {("date", "REQUIRED")}


# Lines ----------------------------------------------------------------------------------------


def test_an_entry_needs_at_least_two_lines(api):
    error = result_error(post(api, entry(line("6000", "5.00"))))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines")
    assert detail_codes(error) == {("lines", "REQUIRED")}


def test_a_line_with_both_a_debit_and_a_credit_is_refused(api):
    error = result_error(
        post(
            api,
            entry(line("6000", "5.00", "0"), line("1620", "5.00", "5.00"), line("1610", "0", "5")),
        )
    )

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines[1].debit")
    assert detail_codes(error) == {("lines[1].debit", "INVALID_AMOUNT")}


@pytest.mark.parametrize(("debit", "credit"), [("0.00", "0.00"), (None, None), ("0", None)])
def test_a_line_with_neither_a_debit_nor_a_credit_is_refused(api, debit, credit):
    error = result_error(
        post(
            api,
            entry(line("6000", "5.00"), line("1620", credit="5.00"), line("1610", debit, credit)),
        )
    )

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines[2].debit")
    assert detail_codes(error) == {("lines[2].debit", "INVALID_AMOUNT")}


@pytest.mark.parametrize("amount", [Decimal("5000.001"), Decimal("-5.00"), "five", True])
def test_a_bad_amount_is_invalid(api, amount):
    data = entry()
    data["lines"][0]["debit"] = amount

    error = result_error(post(api, data))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines[0].debit")
    assert detail_codes(error) == {("lines[0].debit", "INVALID_AMOUNT")}


def test_an_amount_with_trailing_zeros_is_fine(api):
    result = only_result(api, entry(line("6000", "5.000"), line("1620", credit="5")))

    assert result["status"] == "created"
    assert result["data"]["totalDebit"] == Decimal("5.00")


def test_totals_must_balance_to_the_cent(api, company):
    error = result_error(post(api, entry(line("6000", "100.00"), line("1620", credit="99.99"))))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines")
    assert detail_codes(error) == {("lines", "UNBALANCED")}
    assert not JournalEntry.objects.filter(company=company).exists()


def test_a_line_needs_an_account(api):
    error = result_error(post(api, entry(line("6000", "5.00"), {"credit": Decimal("5.00")})))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines[1].accountId")
    assert detail_codes(error) == {("lines[1].accountId", "REQUIRED")}


def test_several_problems_are_reported_together(api):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    data = entry(line("6000", "5.00", "5.00"), line("1620"), date=tomorrow.isoformat())

    error = result_error(post(api, data))

    assert error["code"] == "VALIDATION_ERROR"
    assert "field" not in error
    assert detail_codes(error) == {
        ("date", "FUTURE_DATE"),
        ("lines[0].debit", "INVALID_AMOUNT"),
        ("lines[1].debit", "INVALID_AMOUNT"),
    }


# Accounts -------------------------------------------------------------------------------------


def test_an_unknown_account_is_a_reference_error(api, company):
    error = result_error(post(api, entry(line("9999", "5.00"), line("1620", credit="5.00"))))

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "lines[0].accountId")
    assert detail_codes(error) == {("lines[0].accountId", "NOT_FOUND")}
    assert "9999" in error["message"]


def test_an_unknown_account_code_names_its_own_field(api):
    error = result_error(
        post(api, entry(line("6000", "5.00"), line("nope", credit="5.00", key="accountCode")))
    )

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "lines[1].accountCode")
    assert detail_codes(error) == {("lines[1].accountCode", "NOT_FOUND")}


def test_several_unknown_accounts_are_listed(api):
    error = result_error(post(api, entry(line("9998", "5.00"), line("9999", credit="5.00"))))

    assert error["code"] == "REFERENCE_ERROR"
    assert "field" not in error
    assert [(d["field"], d["code"]) for d in error["details"]] == [
        ("lines[0].accountId", "NOT_FOUND"),
        ("lines[1].accountId", "NOT_FOUND"),
    ]


def test_another_companys_account_does_not_exist(api, company, other_company):
    theirs = builders.account(other_company, "6000")

    error = result_error(
        post(api, entry(line(theirs.public_id, "5.00"), line("1620", credit="5.00")))
    )

    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "lines[0].accountId")
    assert detail_codes(error) == {("lines[0].accountId", "NOT_FOUND")}
    assert not JournalLine.objects.filter(account=theirs).exists()


def test_an_inactive_account_is_refused(api, company):
    Account.objects.filter(company=company, code="1620").update(active=False)

    error = result_error(post(api, entry()))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines[1].accountId")
    assert detail_codes(error) == {("lines[1].accountId", "INACTIVE")}
    assert_books_balance(company)


def test_account_id_and_account_code_must_agree(api):
    data = entry(line("6000", "5.00") | {"accountCode": "6100"}, line("1620", credit="5.00"))

    error = result_error(post(api, data))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines[0].accountCode")
    assert detail_codes(error) == {("lines[0].accountCode", "INVALID_VALUE")}


@pytest.mark.parametrize(
    "code",
    ["1100", "2010", "1200", "1400", "2100", "2200", "1300"],
    ids=["receivables", "payables", "inventory", "input-tax", "output-tax", "deposits", "advances"],
)
def test_a_control_account_takes_no_manual_lines(api, company, code):
    error = result_error(post(api, entry(line("6200", "5.00"), line(code, credit="5.00"))))

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines[1].accountId")
    assert detail_codes(error) == {("lines[1].accountId", "CONTROL_ACCOUNT")}
    assert not JournalEntry.objects.filter(company=company).exists()


def test_a_control_account_named_by_code_is_blamed_on_account_code(api):
    data = entry(line("1100", "5.00", key="accountCode"), line("4100", credit="5.00"))

    error = result_error(post(api, data))

    assert detail_codes(error) == {("lines[0].accountCode", "CONTROL_ACCOUNT")}


def test_bank_and_other_role_accounts_take_manual_lines(api, company):
    result = only_result(api, entry(line("1010", "7.00"), line("4000", credit="7.00")))

    assert result["status"] == "created"
    assert_books_balance(company)


@pytest.mark.parametrize("code", ["1000", "2000", "1600"])
def test_a_header_account_takes_no_postings(api, company, code):
    header = builders.account(company, code)

    error = result_error(
        post(api, entry(line("6200", "5.00"), line(header.public_id, credit="5.00")))
    )

    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "lines[1].accountId")
    assert detail_codes(error) == {("lines[1].accountId", "HEADER_ACCOUNT")}
    assert not JournalEntry.objects.filter(company=company).exists()


def test_an_account_becomes_a_header_when_it_gains_a_sub_account(api, company):
    prepaid = builders.account(company, "1500")
    Account.objects.create(
        company=company, code="1510", name="Prepaid Rent", type=prepaid.type, parent=prepaid
    )

    data = entry(line("6100", "5.00"), line("1500", credit="5.00", key="accountCode"))
    error = result_error(post(api, data))

    assert detail_codes(error) == {("lines[1].accountCode", "HEADER_ACCOUNT")}
    assert only_result(api, entry(line("6100", "5.00"), line("1510", credit="5.00")))["success"]


def test_each_guarded_line_is_reported(api):
    error = result_error(
        post(api, entry(line("1000", "5.00"), line("6000", "5.00"), line("2010", credit="10.00")))
    )

    assert detail_codes(error) == {
        ("lines[0].accountId", "HEADER_ACCOUNT"),
        ("lines[2].accountId", "CONTROL_ACCOUNT"),
    }


# Operations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_entries_are_create_only(api, operation):
    body = post_batch(api, ENTITY, [{"operation": operation, "data": entry()}])["data"]

    assert body["results"][0]["error"]["code"] == "UNSUPPORTED_OPERATION"


def test_more_than_100_entries_is_too_large(api, company):
    body = post_batch(api, ENTITY, [create(entry())] * 101, status=400)

    assert body["error"]["code"] == "BATCH_TOO_LARGE"
    assert not JournalEntry.objects.filter(company=company).exists()


# Batches --------------------------------------------------------------------------------------

UNBALANCED = entry(line("6000", "10.00"), line("1620", credit="9.00"))


def test_a_partial_failure_posts_the_good_entries_with_gap_free_numbers(api, company):
    body = post(api, entry(), UNBALANCED, entry(reference="JE-2024-003"))

    assert [r["status"] for r in body["results"]] == ["created", "failed", "created"]
    assert (body["successfulRecords"], body["failedRecords"]) == (2, 1)
    assert [r["data"]["number"] for r in body["results"] if r["success"]] == [
        "JE-000001",
        "JE-000002",
    ]
    assert body["results"][1]["error"]["context"]["rowNumber"] == 2
    assert JournalEntry.objects.filter(company=company).count() == 2
    assert_books_balance(company)


def test_stop_on_first_error_skips_the_rest_and_keeps_what_came_before(api, company):
    body = post(api, entry(), UNBALANCED, entry(), continueOnError=False)

    assert [r["status"] for r in body["results"]] == ["created", "failed", "skipped"]
    assert body["skippedRecords"] == 1
    assert JournalEntry.objects.filter(company=company).count() == 1
    assert_books_balance(company)


def test_rollback_on_error_posts_nothing_when_one_entry_fails(api, company):
    body = post(api, entry(), UNBALANCED, entry(), rollbackOnError=True)

    assert body["status"] == "rolled_back"
    assert [r["status"] for r in body["results"]] == ["rolled_back", "failed", "rolled_back"]
    assert body["results"][0]["error"]["code"] == "ROLLED_BACK"
    assert body["summary"]["created"] == 0
    assert_nothing_posted(api, company)


def test_validate_only_posts_nothing_and_uses_no_number(api, company):
    body = post(api, entry(), UNBALANCED, entry(), validateOnly=True)

    assert [r["status"] for r in body["results"]] == ["validated", "failed", "validated"]
    assert body["results"][1]["error"]["details"][0]["code"] == "UNBALANCED"
    assert_nothing_posted(api, company)


def test_a_failed_batch_leaves_the_books_balanced(api, company):
    builders.journal(company, "6200", "1010", "12.34")

    body = post(api, UNBALANCED, entry(line("9999", "1"), line("1620", credit="1")))

    assert body["failedRecords"] == 2
    assert JournalEntry.objects.filter(company=company).count() == 1
    assert_books_balance(company)


def test_the_other_company_is_untouched(api, company, other_company):
    post(api, entry())

    assert not JournalEntry.objects.filter(company=other_company).exists()
    assert journal_totals(company=other_company) == (Decimal("0.00"), Decimal("0.00"))


# Queries --------------------------------------------------------------------------------------

ACCOUNT_CODES = ["1010", "4100", "1500", "1610", "1620", "6000", "6100", "6200"]


def varied_entry(i: int) -> dict:
    """Three lines over accounts that change with i, named by both kinds of reference."""
    first, second, third = (ACCOUNT_CODES[(i + k) % len(ACCOUNT_CODES)] for k in range(3))
    return entry(
        line(first, f"{i + 1}.50"),
        line(second, credit=f"{i + 1}.00", key="accountCode"),
        line(third, credit="0.50"),
        reference=f"R-{i}",
    )


def queries_for(api, entries: list[dict]) -> CaptureQueriesContext:
    with CaptureQueriesContext(connection) as queries:
        body = post_batch(api, ENTITY, [create(e) for e in entries])["data"]
    assert body["successfulRecords"] == len(entries)
    return queries


def test_a_full_batch_costs_the_same_queries_as_one_entry(api, company):
    post_batch(api, ENTITY, [create(entry())])  # the number sequence and the key's stamp

    one = queries_for(api, [varied_entry(0)])
    full = queries_for(api, [varied_entry(i) for i in range(100)])

    assert len(one) == len(full)
    account_reads = [q for q in full.captured_queries if 'FROM "ledger_account"' in q["sql"]]
    assert len(account_reads) == 1
    assert JournalEntry.objects.filter(company=company).count() == 102
    assert_books_balance(company)
