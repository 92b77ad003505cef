"""Reading the ledger back: GET /v1/{entity}, /v1/{entity}/{id} and the trial balance."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ledger.api.serializers import TrialBalanceSerializer
from ledger.selectors import TrialBalance
from tests import builders
from tests.helpers import json_of, listed_ids

LEDGER_LISTS = [
    "customers",
    "suppliers",
    "accounts",
    "tax-codes",
    "journal-entries",
    "invoices",
    "bills",
    "payments",
]


@pytest.fixture
def acme(company):
    return builders.customer(
        company,
        name="Acme Corporation",
        email="Billing@Acme.com",
        street="123 Main Street",
        city="Kuala Lumpur",
        state="Selangor",
        postal_code="50000",
        credit_limit=Decimal("10000.00"),
        payment_terms=45,
        tax_number="123456789012",
    )


@pytest.fixture
def widgets(company):
    return builders.supplier(company, email="sales@widgets.my")


@pytest.mark.parametrize("entity", LEDGER_LISTS)
@pytest.mark.parametrize("slash", ["", "/"])
def test_every_ledger_list_answers_a_paged_envelope(api, acme, widgets, entity, slash):
    response = api.get(f"/v1/{entity}{slash}")

    assert response.status_code == 200
    payload = json_of(response)
    assert payload["success"] is True
    assert isinstance(payload["data"], list)
    assert set(payload["pagination"]) >= {"page", "pageSize", "totalRecords", "totalPages"}


def test_customers_list_pages_by_page_size(api, company, acme):
    builders.customer(company, name="Second Customer")

    response = api.get("/v1/customers", {"pageSize": 1, "page": 2})

    payload = json_of(response)
    assert [row["customerNumber"] for row in payload["data"]] == ["CUST-0002"]
    assert payload["pagination"]["totalRecords"] == 2
    assert payload["pagination"]["totalPages"] == 2


def test_customer_detail_shows_public_id_address_and_exact_money(api, acme):
    response = api.get(f"/v1/customers/{acme.public_id}")

    assert response.status_code == 200
    payload = json_of(response)
    assert payload["success"] is True
    assert payload["data"] == {
        "id": acme.public_id,
        "externalId": None,
        "customerNumber": "CUST-0001",
        "name": "Acme Corporation",
        "email": "Billing@Acme.com",
        "phone": "",
        "address": {
            "street": "123 Main Street",
            "city": "Kuala Lumpur",
            "state": "Selangor",
            "postalCode": "50000",
            "country": "MY",
        },
        "creditLimit": Decimal("10000.00"),
        "paymentTerms": 45,
        "taxNumber": "123456789012",
        "status": "active",
        "createdAt": payload["data"]["createdAt"],
        "updatedAt": payload["data"]["updatedAt"],
    }
    assert b'"creditLimit":10000.00' in response.content


def test_customers_filter_by_email_case_insensitively(api, company, acme):
    builders.customer(company, name="Other", email="other@example.com")

    response = api.get("/v1/customers", {"email": "billing@ACME.com"})

    assert listed_ids(response) == [acme.public_id]


def test_customers_filter_by_number_and_status(api, company, acme):
    dormant = builders.customer(company, name="Dormant", status="inactive")

    assert listed_ids(api.get("/v1/customers", {"number": "CUST-0001"})) == [acme.public_id]
    assert listed_ids(api.get("/v1/customers", {"status": "inactive"})) == [dormant.public_id]
    assert listed_ids(api.get("/v1/customers", {"status": "active"})) == [acme.public_id]


def test_suppliers_show_supplier_number(api, widgets):
    response = api.get(f"/v1/suppliers/{widgets.public_id}/")

    assert json_of(response)["data"]["supplierNumber"] == "SUPP-0001"


def test_accounts_filter_by_code_and_show_parent_public_id(api, company):
    receivables = builders.account(company, "1100")
    current_assets = builders.account(company, "1000")

    response = api.get("/v1/accounts", {"code": "1100"})

    [data] = json_of(response)["data"]
    assert data == {
        "id": receivables.public_id,
        "externalId": None,
        "code": "1100",
        "name": "Accounts Receivable",
        "type": "asset",
        "parentId": current_assets.public_id,
        "role": "receivables",
        "active": True,
        "updatedAt": data["updatedAt"],
    }


def test_tax_codes_filter_by_code(api, company):
    response = api.get("/v1/tax-codes", {"code": "SST"})

    [sst] = json_of(response)["data"]
    assert sst["id"] == builders.tax(company).public_id
    assert sst["rate"] == Decimal("8.0000")


def test_another_company_cannot_retrieve_or_list_a_customer_or_invoice(
    api, other_api, company, acme
):
    invoice = builders.invoice(company, acme)

    for path in (f"/v1/customers/{acme.public_id}", f"/v1/invoices/{invoice.public_id}"):
        response = other_api.get(path)
        assert response.status_code == 404
        assert json_of(response)["error"]["code"] == "NOT_FOUND"
    assert listed_ids(other_api.get("/v1/customers")) == []
    assert listed_ids(other_api.get("/v1/invoices")) == []
    assert listed_ids(api.get("/v1/invoices")) == [invoice.public_id]


def test_unknown_id_is_not_found(api):
    response = api.get("/v1/invoices/inv_doesnotexist")

    assert response.status_code == 404
    assert json_of(response)["success"] is False


def test_invoice_detail_shows_lines_amount_paid_and_status_after_a_partial_payment(
    api, company, acme
):
    invoice = builders.invoice(company, acme, lines=(("10", "100.00", "SST"), ("2", "50.00", "ZR")))
    builders.payment(company, acme, "500.00", allocations=[(invoice, "500.00")])

    response = api.get(f"/v1/invoices/{invoice.public_id}")

    data = json_of(response)["data"]
    assert data["id"] == invoice.public_id
    assert data["number"] == invoice.number
    assert data["customerId"] == acme.public_id
    assert data["subtotal"] == Decimal("1100.00")
    assert data["taxTotal"] == Decimal("80.00")
    assert data["total"] == Decimal("1180.00")
    assert data["amountPaid"] == Decimal("500.00")
    assert data["amountDue"] == Decimal("680.00")
    assert data["status"] == "partially_paid"
    assert data["journalEntryId"].startswith("je_")
    assert data["lines"] == [
        {
            "lineNumber": 1,
            "itemId": None,
            "description": "",
            "quantity": Decimal("10.0000"),
            "unitPrice": Decimal("100.00"),
            "taxCode": "SST",
            "taxRate": Decimal("8.0000"),
            "amount": Decimal("1000.00"),
            "taxAmount": Decimal("80.00"),
        },
        {
            "lineNumber": 2,
            "itemId": None,
            "description": "",
            "quantity": Decimal("2.0000"),
            "unitPrice": Decimal("50.00"),
            "taxCode": "ZR",
            "taxRate": Decimal("0.0000"),
            "amount": Decimal("100.00"),
            "taxAmount": Decimal("0.00"),
        },
    ]
    assert b'"amountPaid":500.00' in response.content


def test_invoices_filter_by_status_and_customer(api, company, acme):
    paid = builders.invoice(company, acme)
    builders.payment(company, acme, "1080.00", allocations=[(paid, "1080.00")])
    other_customer = builders.customer(company, name="Other")
    open_invoice = builders.invoice(company, other_customer)

    assert listed_ids(api.get("/v1/invoices", {"status": "paid"})) == [paid.public_id]
    assert listed_ids(api.get("/v1/invoices", {"customerId": other_customer.public_id})) == [
        open_invoice.public_id
    ]


def test_bill_detail_shows_supplier_lines_and_totals(api, company, widgets):
    bill = builders.bill(company, widgets)

    data = json_of(api.get(f"/v1/bills/{bill.public_id}"))["data"]

    assert data["supplierId"] == widgets.public_id
    assert data["total"] == Decimal("216.00")
    assert data["amountDue"] == Decimal("216.00")
    assert data["status"] == "open"
    assert [line["amount"] for line in data["lines"]] == [Decimal("200.00")]


def test_payment_detail_shows_direction_party_and_allocations(api, company, acme):
    invoice = builders.invoice(company, acme)
    payment = builders.payment(company, acme, "600.00", allocations=[(invoice, "400.00")])

    data = json_of(api.get(f"/v1/payments/{payment.public_id}"))["data"]

    assert data["direction"] == "receipt"
    assert data["customerId"] == acme.public_id
    assert data["supplierId"] is None
    assert data["amount"] == Decimal("600.00")
    assert data["allocations"] == [
        {"invoiceId": invoice.public_id, "billId": None, "amount": Decimal("400.00")}
    ]


def test_journal_entry_detail_shows_lines_with_account_ids_and_codes(api, company):
    entry = builders.journal(company, "6000", "1620", "300.00")

    data = json_of(api.get(f"/v1/journal-entries/{entry.public_id}"))["data"]

    assert data["number"] == entry.number
    assert data["totalDebit"] == data["totalCredit"] == Decimal("300.00")
    assert [
        (line["accountId"], line["accountCode"], line["debit"], line["credit"])
        for line in data["lines"]
    ] == [
        (builders.account(company, "6000").public_id, "6000", Decimal("300.00"), Decimal("0.00")),
        (builders.account(company, "1620").public_id, "1620", Decimal("0.00"), Decimal("300.00")),
    ]


def test_invoice_list_costs_the_same_queries_for_one_or_five_invoices(api, company, acme):
    builders.invoice(company, acme)
    api.get("/v1/invoices")  # the first request records the key's last use: warm it up

    with CaptureQueriesContext(connection) as one:
        assert api.get("/v1/invoices").status_code == 200
    for _ in range(4):
        builders.invoice(company, acme, lines=(("1", "10.00", "SST"), ("2", "5.00", "ZR")))
    with CaptureQueriesContext(connection) as five:
        response = api.get("/v1/invoices")

    assert len(json_of(response)["data"]) == 5
    assert len(five) == len(one), [query["sql"] for query in five.captured_queries]


def test_trial_balance_totals_agree_and_money_is_exact_json_numbers(api, company, acme, widgets):
    invoice = builders.invoice(company, acme)  # Dr AR 1080 / Cr sales 1000, tax 80
    builders.bill(company, widgets)  # Dr purchases 200, tax 16 / Cr AP 216
    builders.payment(company, acme, "500.00", allocations=[(invoice, "500.00")])
    builders.journal(company, "6000", "1620", "300.00")
    stock_item = builders.item(company)
    builders.adjust_stock(company, stock_item, "increase", "10", "25.00")  # 250 in

    response = api.get("/v1/reports/trial-balance")

    assert response.status_code == 200
    payload = json_of(response)
    assert payload["success"] is True
    data = payload["data"]
    assert data["totalDebit"] == data["totalCredit"] == Decimal("1846.00")
    assert b'"totalDebit":1846.00' in response.content
    assert b'"totalCredit":1846.00' in response.content
    balances = {row["code"]: (row["debit"], row["credit"]) for row in data["accounts"]}
    assert balances["1100"] == (Decimal("580.00"), Decimal("0.00"))
    assert balances["1200"] == (Decimal("250.00"), Decimal("0.00"))
    assert balances["4000"] == (Decimal("0.00"), Decimal("1000.00"))
    receivables = next(row for row in data["accounts"] if row["code"] == "1100")
    assert receivables["accountId"] == builders.account(company, "1100").public_id
    assert receivables["name"] == "Accounts Receivable"


def test_trial_balance_of_another_company_is_empty(other_api, company, acme):
    builders.invoice(company, acme)

    data = json_of(other_api.get("/v1/reports/trial-balance/"))["data"]

    assert data["accounts"] == []
    assert data["totalDebit"] == data["totalCredit"] == Decimal("0.00")


@pytest.mark.parametrize("authorization", [None, "Bearer blk_not-a-real-key", "Token abc"])
def test_customers_need_a_valid_api_key(db, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.get("/v1/customers")

    assert response.status_code == 401
    assert json_of(response)["error"]["code"] == "UNAUTHORIZED"


def test_the_trial_balance_reads_totals_no_single_amount_column_could_hold(api, company):
    """Rows written before amounts were bounded (as a migration from another system would
    write them): each fits its column, their sums do not fit 18 digits."""
    largest = Decimal("9999999999999999.99")  # what a Decimal(18, 2) column holds
    builders.journal(company, "6000", "1620", largest)
    builders.journal(company, "6000", "1620", largest)

    response = api.get("/v1/reports/trial-balance")
    entries = api.get("/v1/journal-entries")

    assert response.status_code == 200
    data = json_of(response)["data"]
    assert data["totalDebit"] == data["totalCredit"] == Decimal("19999999999999999.98")
    assert b'"totalDebit":19999999999999999.98' in response.content
    balances = {row["code"]: (row["debit"], row["credit"]) for row in data["accounts"]}
    assert balances["6000"] == (Decimal("19999999999999999.98"), Decimal("0.00"))
    assert entries.status_code == 200
    assert [entry["totalDebit"] for entry in json_of(entries)["data"]] == [largest, largest]


def test_read_fields_render_any_total_postgresql_can_sum():
    report = TrialBalance(
        rows=[], total_debit=Decimal("1" + "0" * 40 + ".00"), total_credit=Decimal("-5.5")
    )

    data = TrialBalanceSerializer(report).data

    assert data["totalDebit"] == Decimal("1" + "0" * 40 + ".00")
    assert str(data["totalCredit"]) == "-5.50"
