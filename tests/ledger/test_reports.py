"""The ledger's reports: the trial balance as of a date or over a period, and the aged
receivables and payables."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from tests.helpers import create, json_of, post_batch, staff_user


def _post(api, entity, *records, **options) -> list[dict]:
    data = post_batch(api, entity, [create(record) for record in records], **options)["data"]
    assert data["failedRecords"] == 0, data["results"]
    return [result["data"] for result in data["results"]]


def _journal(api, day: str, debit: str, credit: str, amount: str) -> None:
    lines = [
        {"accountCode": debit, "debit": amount},
        {"accountCode": credit, "credit": amount},
    ]
    _post(api, "journal-entries", {"date": day, "lines": lines})


def _document_lines(amount: str) -> list[dict]:
    return [{"description": "Work", "quantity": 1, "unitPrice": amount, "taxCode": "ZR"}]


def _invoice(api, customer: str, day: str, due: str, amount: str) -> str:
    record = {
        "customerNumber": customer,
        "invoiceDate": day,
        "dueDate": due,
        "items": _document_lines(amount),
    }
    [result] = _post(api, "invoices", record)
    return result["number"]


def _bill(api, supplier: str, day: str, due: str, amount: str) -> str:
    record = {
        "supplierNumber": supplier,
        "billDate": day,
        "dueDate": due,
        "items": _document_lines(amount),
    }
    [result] = _post(api, "bills", record)
    return result["number"]


def _report(api, path: str, **params) -> dict:
    response = api.get(f"/v1/reports/{path}", params)
    assert response.status_code == 200, response.content
    payload = json_of(response)
    assert payload["success"] is True
    return payload["data"]


def _balances(report: dict) -> dict[str, tuple[Decimal, Decimal]]:
    return {row["code"]: (row["debit"], row["credit"]) for row in report["accounts"]}


# Trial balance.


@pytest.fixture
def three_months_of_capital(api):
    _journal(api, "2024-01-10", "1010", "3000", "100.00")
    _journal(api, "2024-02-10", "1010", "3000", "20.00")
    _journal(api, "2024-03-10", "6200", "1010", "5.00")


def test_trial_balance_as_of_a_date_sums_only_postings_dated_on_or_before_it(
    api, three_months_of_capital
):
    report = _report(api, "trial-balance", asOf="2024-02-10")

    assert _balances(report) == {
        "1010": (Decimal("120.00"), Decimal("0.00")),
        "3000": (Decimal("0.00"), Decimal("120.00")),
    }
    assert report["totalDebit"] == report["totalCredit"] == Decimal("120.00")
    assert (report["from"], report["to"]) == (None, "2024-02-10")


def test_trial_balance_of_a_period_shows_the_movements_between_its_dates_inclusive(
    api, three_months_of_capital
):
    report = _report(api, "trial-balance", **{"from": "2024-02-10", "to": "2024-03-10"})

    assert _balances(report) == {
        "1010": (Decimal("15.00"), Decimal("0.00")),
        "3000": (Decimal("0.00"), Decimal("20.00")),
        "6200": (Decimal("5.00"), Decimal("0.00")),
    }
    assert report["totalDebit"] == report["totalCredit"] == Decimal("20.00")


def test_trial_balance_without_dates_sums_everything_posted(api, three_months_of_capital):
    report = _report(api, "trial-balance")

    assert _balances(report)["1010"] == (Decimal("115.00"), Decimal("0.00"))
    assert (report["from"], report["to"]) == (None, None)


def test_trial_balance_before_the_first_posting_lists_no_accounts(api, three_months_of_capital):
    report = _report(api, "trial-balance", asOf="2023-12-31")

    assert report["accounts"] == []
    assert report["totalDebit"] == report["totalCredit"] == Decimal("0.00")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"asOf": "2024-02-30"}, "asOf"),
        ({"asOf": "yesterday"}, "asOf"),
        ({"asOf": "20240210"}, "asOf"),
        ({"from": "2024-1-5"}, "from"),
        ({"to": "2024-01-05\x00"}, "to"),
        ({"from": "2024-03-01", "to": "2024-02-01"}, "from"),
        ({"asOf": "2024-03-01", "from": "2024-02-01"}, "asOf"),
    ],
)
def test_trial_balance_refuses_a_bad_date_or_period_in_the_error_envelope(api, params, field):
    response = api.get("/v1/reports/trial-balance", params)

    assert response.status_code == 400
    error = json_of(response)["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in error["details"]] == [field]


# Aged receivables and payables.


@pytest.fixture
def acme(api) -> str:
    [result] = _post(api, "customers", {"name": "Acme"})
    return result["customerNumber"]


@pytest.fixture
def beta(api) -> str:
    [result] = _post(api, "customers", {"name": "Beta"})
    return result["customerNumber"]


def test_aged_receivables_put_what_each_customer_owes_in_buckets_by_days_past_due(api, acme, beta):
    _invoice(api, acme, "2024-03-01", "2024-04-15", "10.00")  # not yet due
    _invoice(api, acme, "2024-02-01", "2024-03-31", "20.00")  # 1 day past due
    _invoice(api, acme, "2024-01-01", "2024-03-01", "40.00")  # 31
    _invoice(api, beta, "2024-01-01", "2024-01-31", "80.00")  # 61
    _invoice(api, beta, "2023-10-01", "2023-12-31", "160.00")  # 91
    _invoice(api, beta, "2024-04-02", "2024-05-01", "999.00")  # dated after asOf

    report = _report(api, "aged-receivables", asOf="2024-04-01")

    assert report["asOf"] == "2024-04-01"
    [acme_row, beta_row] = report["parties"]
    assert (acme_row["number"], acme_row["name"]) == (acme, "Acme")
    assert acme_row["buckets"] == {
        "current": Decimal("10.00"),
        "days1To30": Decimal("20.00"),
        "days31To60": Decimal("40.00"),
        "days61To90": Decimal("0.00"),
        "over90": Decimal("0.00"),
    }
    assert acme_row["total"] == Decimal("70.00")
    assert beta_row["buckets"]["days61To90"] == Decimal("80.00")
    assert beta_row["buckets"]["over90"] == Decimal("160.00")
    assert beta_row["total"] == Decimal("240.00")
    assert report["buckets"]["current"] == Decimal("10.00")
    assert report["total"] == Decimal("310.00")


def test_aged_receivables_count_payments_dated_on_or_before_the_report_date(api, acme):
    number = _invoice(api, acme, "2024-01-01", "2024-01-31", "100.00")
    for day, amount in [("2024-02-01", "30.00"), ("2024-03-01", "70.00")]:
        allocations = [{"invoiceNumber": number, "amount": amount}]
        record = {"customerNumber": acme, "paymentDate": day, "amount": amount}
        _post(api, "payments", {**record, "allocations": allocations})

    def owed(day):
        return _report(api, "aged-receivables", asOf=day)["total"]

    assert owed("2024-01-15") == Decimal("100.00")
    assert owed("2024-02-01") == Decimal("70.00")
    assert owed("2024-03-01") == Decimal("0.00")
    assert _report(api, "aged-receivables", asOf="2024-03-01")["parties"] == []


def test_a_payment_dated_before_the_invoice_it_pays_is_shown_as_paid_ahead(api, acme):
    number = _invoice(api, acme, "2024-02-01", "2024-03-02", "100.00")
    allocations = [{"invoiceNumber": number, "amount": "40.00"}]
    record = {"customerNumber": acme, "paymentDate": "2024-01-20", "amount": "40.00"}
    _post(api, "payments", {**record, "allocations": allocations})

    report = _report(api, "aged-receivables", asOf="2024-01-25")

    [row] = report["parties"]
    assert row["paidAhead"] == Decimal("40.00")
    assert row["total"] == report["total"] == Decimal("-40.00")
    receivables = _balances(_report(api, "trial-balance", asOf="2024-01-25"))["1100"]
    assert receivables == (Decimal("0.00"), Decimal("40.00"))


def test_aged_receivables_default_to_today(api, acme):
    today = datetime.date.today()
    _invoice(api, acme, today.isoformat(), today.isoformat(), "12.34")

    report = _report(api, "aged-receivables")

    assert report["asOf"] == today.isoformat()
    assert report["total"] == Decimal("12.34")


def test_aged_payables_put_what_is_owed_to_each_supplier_in_buckets(api):
    [supplier] = _post(api, "suppliers", {"name": "Widgets"})
    number = supplier["supplierNumber"]
    bill = _bill(api, number, "2024-01-01", "2024-01-31", "50.00")
    _bill(api, number, "2024-02-01", "2024-03-02", "25.00")
    allocations = [{"billNumber": bill, "amount": "10.00"}]
    record = {"supplierNumber": number, "paymentDate": "2024-02-15", "amount": "10.00"}
    _post(api, "payments", {**record, "allocations": allocations})

    report = _report(api, "aged-payables", asOf="2024-03-01")

    [row] = report["parties"]
    assert row["buckets"]["current"] == Decimal("25.00")
    assert row["buckets"]["days1To30"] == Decimal("40.00")
    assert report["total"] == Decimal("65.00")
    payables = _balances(_report(api, "trial-balance", asOf="2024-03-01"))["2010"]
    assert payables == (Decimal("0.00"), Decimal("65.00"))


def test_aged_receivables_refuse_a_bad_date(api):
    response = api.get("/v1/reports/aged-receivables", {"asOf": "2024-13-01"})

    assert response.status_code == 400
    assert json_of(response)["error"]["details"][0]["field"] == "asOf"


def test_aged_payables_need_the_view_permission_on_bills(api, credentials):
    user = staff_user(credentials)
    user.user_permissions.remove(Permission.objects.get(codename="view_bill"))

    response = api.get("/v1/reports/aged-payables")

    assert response.status_code == 403
    assert "ledger.view_bill" in json_of(response)["error"]["message"]


def test_the_schema_documents_the_report_parameters(api):
    schema = api.get("/v1/schema", {"format": "json"}).json()

    paths = schema["paths"]
    trial = {p["name"] for p in paths["/v1/reports/trial-balance/"]["get"]["parameters"]}
    assert trial >= {"asOf", "from", "to"}
    for path in ["/v1/reports/aged-receivables/", "/v1/reports/aged-payables/"]:
        assert "asOf" in {p["name"] for p in paths[path]["get"]["parameters"]}
