"""Syncing payments and journal entries by another system's ids: their own externalId (kept,
returned, unique per company), and references by external id wherever a record names
another — customers, suppliers, invoices and bills in payments, accounts in journal lines,
an item's sales and purchase accounts, an account's parent."""

from decimal import Decimal

import pytest

from inventory.models import Item
from ledger.handlers.journals import JournalEntryHandler
from ledger.handlers.payments import PaymentHandler
from ledger.models import Account, DocumentStatus, Invoice, JournalEntry, Payment
from tests import builders
from tests.books import assert_books_sound
from tests.helpers import count_queries, create, detail_codes, post_batch, result_error, update

pytestmark = pytest.mark.django_db

D = Decimal


def statuses(body) -> list[str]:
    return [result["status"] for result in body["data"]["results"]]


def with_external_id(row, external_id: str):
    """`row` as another system knows it (arranged directly: these rows are create-only)."""
    type(row).objects.filter(pk=row.pk).update(external_id=external_id)
    row.refresh_from_db()
    return row


def receipt(amount="100.00", allocations=(), **fields) -> dict:
    return {
        "paymentDate": "2024-01-20",
        "amount": D(amount),
        "allocations": [{**ref, "amount": D(a)} for ref, a in allocations],
        **fields,
    }


def entry(*lines, **fields) -> dict:
    return {"date": "2024-01-15", "lines": list(lines), **fields}


def line(debit=None, credit=None, **ref) -> dict:
    body = dict(ref)
    if debit is not None:
        body["debit"] = D(debit)
    if credit is not None:
        body["credit"] = D(credit)
    return body


def balanced(**fields) -> dict:
    return entry(
        line("5.00", accountCode="6000"), line(credit="5.00", accountCode="1620"), **fields
    )


# Payments: their own externalId -------------------------------------------------------------


def test_a_payment_keeps_and_returns_its_external_id(api, company):
    customer = builders.customer(company)

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customerId=customer.public_id, externalId="bank-tx-1")),
            create(receipt(customerId=customer.public_id)),
        ],
    )

    first, second = body["data"]["results"]
    assert first["data"]["externalId"] == "bank-tx-1"
    assert second["data"]["externalId"] is None
    assert Payment.objects.get(public_id=first["data"]["id"]).external_id == "bank-tx-1"
    assert Payment.objects.get(public_id=second["data"]["id"]).external_id is None


def test_a_payment_external_id_already_stored_or_taken_earlier_in_the_batch_is_a_duplicate(
    api, company
):
    customer = builders.customer(company)
    post_batch(api, "payments", [create(receipt(customerId=customer.public_id, externalId="A"))])

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customerId=customer.public_id, externalId="A")),
            create(receipt(customerId=customer.public_id, externalId="B")),
            create(receipt(customerId=customer.public_id, externalId="B")),
            create(receipt(customerId=customer.public_id, externalId="a")),  # case-sensitive
        ],
        continueOnError=True,
    )

    assert statuses(body) == ["failed", "created", "failed", "created"]
    for index in (0, 2):
        error = result_error(body["data"], index)
        assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "externalId")
        assert detail_codes(error) == {("externalId", "DUPLICATE")}
    assert Payment.objects.for_company(company).count() == 3
    assert_books_sound(company)


def test_a_payment_whose_external_id_another_batch_stored_meanwhile_fails_alone(
    api, company, monkeypatch
):
    customer = builders.customer(company)
    rival = builders.payment(company, customer, "10.00")
    original_load = PaymentHandler.load

    def load_then_lose_the_race(self, records):
        original_load(self, records)
        # What a concurrent batch commits between this batch's read and its write.
        with_external_id(rival, "bank-tx-9")

    monkeypatch.setattr(PaymentHandler, "load", load_then_lose_the_race)

    body = post_batch(
        api,
        "payments",
        [
            create(receipt(customerId=customer.public_id, externalId="bank-tx-8")),
            create(receipt(customerId=customer.public_id, externalId="bank-tx-9")),
            create(receipt(customerId=customer.public_id)),
        ],
        continueOnError=True,
    )

    assert statuses(body) == ["created", "failed", "created"]
    error = result_error(body["data"], 1)
    assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "externalId")
    assert Payment.objects.for_company(company).count() == 3
    assert_books_sound(company)


# Payments: references by external id --------------------------------------------------------


def test_a_receipt_names_its_customer_and_invoices_by_external_id(api, company):
    customer = builders.customer(company, external_id="crm-cust-1")
    invoice = with_external_id(builders.invoice(company, customer), "crm-inv-1")  # 1080.00

    body = post_batch(
        api,
        "payments",
        [
            create(
                receipt(
                    "1080.00",
                    [({"invoiceExternalId": "crm-inv-1"}, "1080.00")],
                    customerExternalId="crm-cust-1",
                )
            )
        ],
    )

    assert statuses(body) == ["created"]
    payment = Payment.objects.get()
    assert payment.customer == customer
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (DocumentStatus.PAID, D("1080.00"))
    assert_books_sound(company)


def test_a_supplier_payment_names_its_supplier_and_bills_by_external_id(api, company):
    supplier = builders.supplier(company, external_id="erp-supp-1")
    bill = with_external_id(builders.bill(company, supplier), "erp-bill-1")  # 216.00

    body = post_batch(
        api,
        "payments",
        [
            create(
                receipt(
                    "216.00",
                    [({"billExternalId": "erp-bill-1"}, "216.00")],
                    supplierExternalId="erp-supp-1",
                )
            )
        ],
    )

    assert statuses(body) == ["created"]
    assert Payment.objects.get().supplier == supplier
    bill.refresh_from_db()
    assert bill.status == DocumentStatus.PAID


def test_an_external_id_is_not_one_of_our_numbers(api, company):
    """Another system's ids are a namespace of their own: a customer number sent as an
    external id names nothing."""
    customer = builders.customer(company)

    body = post_batch(
        api, "payments", [create(receipt(customerExternalId=customer.number))], status=200
    )

    error = result_error(body["data"])
    assert (error["code"], error["field"]) == ("REFERENCE_ERROR", "customerExternalId")
    assert detail_codes(error) == {("customerExternalId", "NOT_FOUND")}


def test_unknown_external_references_are_reference_errors_naming_the_field(api, company):
    builders.customer(company, external_id="crm-cust-1")

    body = post_batch(
        api,
        "payments",
        [
            create(
                receipt(
                    "50.00",
                    [({"invoiceExternalId": "no-such-invoice"}, "50.00")],
                    customerExternalId="crm-cust-1",
                )
            ),
            create(receipt(supplierExternalId="no-such-supplier")),
        ],
        continueOnError=True,
    )

    first, second = result_error(body["data"], 0), result_error(body["data"], 1)
    assert first["code"] == "REFERENCE_ERROR"
    assert detail_codes(first) == {("allocations[0].invoiceExternalId", "NOT_FOUND")}
    assert (second["code"], second["field"]) == ("REFERENCE_ERROR", "supplierExternalId")
    assert not Payment.objects.exists()


def test_an_external_id_and_a_number_naming_different_customers_are_invalid(api, company):
    builders.customer(company, external_id="crm-cust-1")
    other = builders.customer(company, name="Other")

    body = post_batch(
        api,
        "payments",
        [create(receipt(customerNumber=other.number, customerExternalId="crm-cust-1"))],
    )

    error = result_error(body["data"])
    assert error["code"] == "VALIDATION_ERROR"
    assert detail_codes(error) == {("customerExternalId", "INVALID_VALUE")}


def test_a_payment_moves_the_documents_it_settles_in_the_change_feed(api, company):
    customer = builders.customer(company)
    invoice = builders.invoice(company, customer)
    before = invoice.updated_at

    post_batch(
        api,
        "payments",
        [
            create(
                receipt(
                    "100.00",
                    [({"invoiceId": invoice.public_id}, "100.00")],
                    customerId=customer.public_id,
                )
            )
        ],
    )

    invoice.refresh_from_db()
    assert invoice.amount_paid == D("100.00")
    assert invoice.updated_at > before


def test_payments_by_external_references_cost_the_same_queries_for_1_and_200(api, company):
    customers = [
        builders.customer(company, external_id=f"crm-{n}", name=f"Customer {n}") for n in range(2)
    ]
    invoices = [
        with_external_id(
            builders.invoice(company, customers[i % 2], [("1000", "100.00", "SST")]), f"inv-{i}"
        )
        for i in range(4)
    ]
    batch = [
        create(
            receipt(
                "150.00",
                [({"invoiceExternalId": invoices[i % 4].external_id}, "100.00")],
                customerExternalId=customers[i % 2].external_id,
                externalId=f"tx-{i}",
            )
        )
        for i in range(201)
    ]
    post_batch(api, "payments", batch[:1])  # the PAY sequence exists from here on

    one = count_queries(lambda: post_batch(api, "payments", batch[1:2]))
    two_hundred = count_queries(lambda: post_batch(api, "payments", batch[1:]))

    assert one == two_hundred
    assert Payment.objects.for_company(company).count() == 201
    assert_books_sound(company)


# Journal entries --------------------------------------------------------------------------


def test_a_journal_entry_keeps_its_external_id_and_names_accounts_by_theirs(api, company):
    with_external_id(builders.account(company, "6000"), "gl-depreciation")

    body = post_batch(
        api,
        "journal-entries",
        [
            create(
                entry(
                    line("5.00", accountExternalId="gl-depreciation"),
                    line(credit="5.00", accountCode="1620"),
                    externalId="je-ext-1",
                )
            ),
            create(balanced()),
        ],
    )

    first, second = body["data"]["results"]
    assert (first["status"], first["data"]["externalId"]) == ("created", "je-ext-1")
    assert second["data"]["externalId"] is None
    posted = JournalEntry.objects.get(public_id=first["data"]["id"])
    assert posted.external_id == "je-ext-1"
    assert {line.account.code for line in posted.lines.all()} == {"6000", "1620"}


def test_a_journal_entry_external_id_taken_is_a_duplicate(api, company):
    post_batch(api, "journal-entries", [create(balanced(externalId="je-1"))])

    body = post_batch(
        api,
        "journal-entries",
        [
            create(balanced(externalId="je-1")),
            create(balanced(externalId="je-2")),
            create(balanced(externalId="je-2")),
        ],
        continueOnError=True,
    )

    assert statuses(body) == ["failed", "created", "failed"]
    for index in (0, 2):
        error = result_error(body["data"], index)
        assert (error["code"], error["field"]) == ("DUPLICATE_ERROR", "externalId")


def test_a_journal_entry_whose_external_id_another_batch_stored_meanwhile_fails_alone(
    api, company, monkeypatch
):
    rival = builders.journal(company, "6000", "1620", "1.00")
    original_load = JournalEntryHandler.load

    def load_then_lose_the_race(self, records):
        original_load(self, records)
        with_external_id(rival, "je-9")

    monkeypatch.setattr(JournalEntryHandler, "load", load_then_lose_the_race)

    body = post_batch(
        api,
        "journal-entries",
        [create(balanced(externalId="je-9")), create(balanced(externalId="je-10"))],
        continueOnError=True,
    )

    assert statuses(body) == ["failed", "created"]
    assert result_error(body["data"], 0)["code"] == "DUPLICATE_ERROR"
    assert JournalEntry.objects.filter(company=company, external_id="je-10").exists()


def test_journal_lines_with_unknown_or_disagreeing_account_external_ids_are_refused(api, company):
    with_external_id(builders.account(company, "6000"), "gl-depreciation")

    body = post_batch(
        api,
        "journal-entries",
        [
            create(
                entry(
                    line("5.00", accountExternalId="gl-nope"),
                    line(credit="5.00", accountCode="1620"),
                )
            ),
            create(
                entry(
                    line("5.00", accountCode="6100", accountExternalId="gl-depreciation"),
                    line(credit="5.00", accountCode="1620"),
                )
            ),
            create(entry(line("5.00"), line(credit="5.00", accountCode="1620"))),
        ],
        continueOnError=True,
    )

    unknown, disagreeing, unnamed = (result_error(body["data"], i) for i in range(3))
    assert (unknown["code"], unknown["field"]) == ("REFERENCE_ERROR", "lines[0].accountExternalId")
    assert detail_codes(disagreeing) == {("lines[0].accountExternalId", "INVALID_VALUE")}
    assert detail_codes(unnamed) == {("lines[0].accountId", "REQUIRED")}
    assert "accountExternalId" in unnamed["details"][0]["message"]


def test_journal_entries_by_account_external_ids_cost_the_same_queries_for_1_and_100(api, company):
    with_external_id(builders.account(company, "6000"), "gl-6000")
    with_external_id(builders.account(company, "1620"), "gl-1620")

    def batch(first, count):
        return [
            create(
                entry(
                    line(f"{n + 1}.00", accountExternalId="gl-6000"),
                    line(credit=f"{n + 1}.00", accountExternalId="gl-1620"),
                    externalId=f"je-{n}",
                )
            )
            for n in range(first, first + count)
        ]

    post_batch(api, "journal-entries", batch(0, 1))  # the JE sequence exists from here on

    one = count_queries(lambda: post_batch(api, "journal-entries", batch(1, 1)))
    hundred = count_queries(lambda: post_batch(api, "journal-entries", batch(2, 100)))

    assert one == hundred
    assert JournalEntry.objects.filter(company=company).count() == 102


# Accounts: parentExternalId ---------------------------------------------------------------


def test_a_parent_is_named_by_its_external_id_stored_or_created_earlier_in_the_batch(api, company):
    assets = with_external_id(builders.account(company, "1000"), "gl-assets")

    body = post_batch(
        api,
        "accounts",
        [
            create(
                {
                    "code": "1700",
                    "name": "Deposits",
                    "type": "asset",
                    "parentExternalId": "gl-assets",
                    "externalId": "gl-deposits",
                }
            ),
            create(
                {
                    "code": "1710",
                    "name": "Rental Deposits",
                    "type": "asset",
                    "parentExternalId": "gl-deposits",
                }
            ),
        ],
    )

    assert statuses(body) == ["created", "created"]
    deposits = Account.objects.get(company=company, code="1700")
    assert deposits.parent == assets
    assert Account.objects.get(company=company, code="1710").parent == deposits


def test_an_unknown_or_disagreeing_parent_external_id_is_refused(api, company):
    with_external_id(builders.account(company, "1000"), "gl-assets")

    body = post_batch(
        api,
        "accounts",
        [
            create({"code": "1700", "name": "A", "type": "asset", "parentExternalId": "gl-x"}),
            create(
                {
                    "code": "1701",
                    "name": "B",
                    "type": "asset",
                    "parentId": "1500",
                    "parentExternalId": "gl-assets",
                }
            ),
            create(
                {"code": "6400", "name": "C", "type": "expense", "parentExternalId": "gl-assets"}
            ),
        ],
        continueOnError=True,
    )

    unknown, disagreeing, wrong_type = (result_error(body["data"], i) for i in range(3))
    assert (unknown["code"], unknown["field"]) == ("REFERENCE_ERROR", "parentExternalId")
    assert detail_codes(disagreeing) == {("parentExternalId", "INVALID_VALUE")}
    assert detail_codes(wrong_type) == {("parentExternalId", "INVALID_VALUE")}
    assert not Account.objects.filter(company=company, code__in=["1700", "1701", "6400"]).exists()


def test_an_external_id_renamed_earlier_in_the_batch_no_longer_names_the_parent(api, company):
    with_external_id(builders.account(company, "1000"), "gl-assets")

    body = post_batch(
        api,
        "accounts",
        [
            update({"id": "1000", "externalId": "gl-current-assets"}),
            create({"code": "1700", "name": "A", "type": "asset", "parentExternalId": "gl-assets"}),
        ],
        continueOnError=True,
    )

    assert statuses(body) == ["updated", "failed"]
    assert result_error(body["data"], 1)["field"] == "parentExternalId"


# Items: sales and purchase accounts by external id ------------------------------------------


def test_an_item_names_its_sales_and_purchase_accounts_by_external_id(api, company):
    with_external_id(builders.account(company, "4100"), "gl-services")
    with_external_id(builders.account(company, "6100"), "gl-insurance")

    body = post_batch(
        api,
        "items",
        [
            create(
                {
                    "itemCode": "CONSULT",
                    "name": "Consulting",
                    "type": "service",
                    "salesAccountExternalId": "gl-services",
                    "purchaseAccountExternalId": "gl-insurance",
                }
            ),
        ],
    )

    assert statuses(body) == ["created"]
    item = Item.objects.get(company=company, item_code="CONSULT")
    assert (item.sales_account.code, item.purchase_account.code) == ("4100", "6100")


def test_an_item_update_naming_the_same_account_by_code_and_external_id_is_unchanged(api, company):
    with_external_id(builders.account(company, "4100"), "gl-services")
    builders.item(company, "CONSULT", sales_account=builders.account(company, "4100"))

    body = post_batch(
        api,
        "items",
        [
            update(
                {
                    "itemCode": "CONSULT",
                    "salesAccountCode": "4100",
                    "salesAccountExternalId": "gl-services",
                }
            )
        ],
    )

    assert statuses(body) == ["unchanged"]


def test_an_item_with_an_unknown_or_disagreeing_account_external_id_is_refused(api, company):
    with_external_id(builders.account(company, "4100"), "gl-services")

    body = post_batch(
        api,
        "items",
        [
            create({"itemCode": "A", "name": "A", "salesAccountExternalId": "gl-nope"}),
            create(
                {
                    "itemCode": "B",
                    "name": "B",
                    "salesAccountCode": "4000",
                    "salesAccountExternalId": "gl-services",
                }
            ),
        ],
        continueOnError=True,
    )

    unknown, disagreeing = result_error(body["data"], 0), result_error(body["data"], 1)
    assert (unknown["code"], unknown["field"]) == ("REFERENCE_ERROR", "salesAccountExternalId")
    assert detail_codes(disagreeing) == {("salesAccountExternalId", "INVALID_VALUE")}
    assert not Item.objects.filter(company=company).exists()


def test_an_invoice_posts_to_the_sales_account_an_item_named_by_external_id(api, company):
    """The account an item names by external id is the one its invoice lines post to."""
    with_external_id(builders.account(company, "4100"), "gl-services")
    customer = builders.customer(company)
    post_batch(
        api,
        "items",
        [
            create(
                {
                    "itemCode": "CONSULT",
                    "name": "Consulting",
                    "type": "service",
                    "salesAccountExternalId": "gl-services",
                }
            )
        ],
    )

    body = post_batch(
        api,
        "invoices",
        [
            create(
                {
                    "customerId": customer.public_id,
                    "invoiceDate": "2024-01-15",
                    "items": [
                        {
                            "itemCode": "CONSULT",
                            "quantity": 1,
                            "unitPrice": "100.00",
                            "taxCode": "SST",
                        }
                    ],
                }
            )
        ],
    )

    assert statuses(body) == ["created"]
    invoice = Invoice.objects.get(company=company)
    credited = {line.account.code for line in invoice.journal_entry.lines.all() if line.credit}
    assert "4100" in credited
