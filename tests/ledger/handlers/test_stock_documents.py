"""Invoices and bills move stock: invoices take it out at the moving average cost and post
cost of goods sold, bills put it in at their net unit cost; lines post to their own accounts;
and documents migrated from another system keep their numbers."""

from decimal import Decimal

import pytest

from inventory.models import Item, ItemType, Location, StockLevel, StockMovement
from ledger.models import Account, AccountRole, Bill, Invoice, JournalEntry
from tests import builders
from tests.books import assert_books_sound, lines_of
from tests.helpers import count_queries, create, detail_codes, post_batch, result_error, update

pytestmark = pytest.mark.django_db

D = Decimal


def line(item=None, quantity=1, price="10.00", tax="ZR", **extra) -> dict:
    data = {"quantity": quantity, "unitPrice": D(price), "taxCode": tax, **extra}
    if item is not None:
        data["itemCode"] = item.item_code
    else:
        data.setdefault("description", "Sundries")
    return data


def invoice_data(customer, *lines, **extra) -> dict:
    return {
        "customerId": customer.public_id,
        "invoiceDate": "2024-01-15",
        "dueDate": "2024-02-14",
        "items": list(lines),
        **extra,
    }


def bill_data(supplier, *lines, **extra) -> dict:
    return {
        "supplierId": supplier.public_id,
        "billDate": "2024-01-15",
        "dueDate": "2024-02-14",
        "items": list(lines),
        **extra,
    }


def on_hand(item, code="WH") -> tuple[Decimal, Decimal, Decimal]:
    level = StockLevel.objects.get(item=item, location__code=code)
    return level.quantity, level.average_cost, level.value


def results(body) -> list[str]:
    return [result["status"] for result in body["data"]["results"]]


def test_the_default_chart_has_a_cost_of_goods_sold_account(company):
    cogs = Account.objects.get(company=company, role=AccountRole.COST_OF_SALES)
    assert (cogs.code, cogs.name, cogs.type) == ("5050", "Cost of Goods Sold", "expense")


def test_selling_13_of_60_leaves_47_and_posts_cost_of_goods_sold_at_average_cost(api, company):
    customer = builders.customer(company)
    widget = builders.stocked_item(company, "WIDGET", quantity="60", unit_cost="10.00")

    body = post_batch(
        api, "invoices", [create(invoice_data(customer, line(widget, 13, "25.00", "SST")))]
    )

    assert results(body) == ["created"]
    invoice = Invoice.objects.get(company=company)
    assert on_hand(widget) == (D("47"), D("10.0000"), D("470.00"))
    assert lines_of(invoice.journal_entry) == {
        ("1100", D("351.00"), D("0")),
        ("4000", D("0"), D("325.00")),
        ("2100", D("0"), D("26.00")),
        ("5050", D("130.00"), D("0")),
        ("1200", D("0"), D("130.00")),
    }
    [movement] = StockMovement.objects.filter(invoice_line__invoice=invoice)
    assert (movement.quantity, movement.unit_cost, movement.value) == (
        D("-13"),
        D("10.0000"),
        D("-130.00"),
    )
    assert movement.reference == invoice.number
    assert_books_sound(company)


def test_a_bill_brings_stock_in_at_its_net_unit_cost_and_the_average_follows(api, company):
    supplier = builders.supplier(company)
    widget = builders.stocked_item(company, "WIDGET", quantity="60", unit_cost="10.00")

    body = post_batch(api, "bills", [create(bill_data(supplier, line(widget, 20, "14.00", "SST")))])

    assert results(body) == ["created"]
    bill = Bill.objects.get(company=company)
    assert on_hand(widget) == (D("80"), D("11.0000"), D("880.00"))
    assert lines_of(bill.journal_entry) == {
        ("1200", D("280.00"), D("0")),
        ("1400", D("22.40"), D("0")),
        ("2010", D("0"), D("302.40")),
    }
    assert_books_sound(company)


def test_two_invoices_of_one_batch_see_each_others_stock_go(api, company):
    customer = builders.customer(company)
    widget = builders.stocked_item(company, "WIDGET", quantity="60")

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, line(widget, 40))),
            create(invoice_data(customer, line(widget, 40))),
        ],
    )

    assert results(body) == ["created", "failed"]
    error = result_error(body["data"], 1)
    assert detail_codes(error) == {("items[0].quantity", "INSUFFICIENT_STOCK")}
    assert on_hand(widget)[0] == D("20")
    assert_books_sound(company)


def test_a_line_short_of_stock_is_insufficient_stock_on_its_quantity(api, company):
    customer = builders.customer(company)
    widget = builders.stocked_item(company, "WIDGET", quantity="5")
    gadget = builders.stocked_item(company, "GADGET", quantity="2")

    body = post_batch(
        api, "invoices", [create(invoice_data(customer, line(widget, 5), line(gadget, 3)))]
    )

    error = result_error(body["data"])
    assert error["code"] == "VALIDATION_ERROR"
    assert detail_codes(error) == {("items[1].quantity", "INSUFFICIENT_STOCK")}
    assert (on_hand(widget)[0], on_hand(gadget)[0]) == (D("5"), D("2"))
    assert not Invoice.objects.for_company(company).exists()


def test_the_company_setting_lets_stock_go_negative(api, company):
    company.allow_negative_stock = True
    company.save()
    customer = builders.customer(company)
    widget = builders.stocked_item(company, "WIDGET", quantity="60", unit_cost="10.00")

    body = post_batch(api, "invoices", [create(invoice_data(customer, line(widget, 70)))])

    assert results(body) == ["created"]
    assert on_hand(widget) == (D("-10"), D("10.0000"), D("-100.00"))
    assert_books_sound(company)


def test_service_and_non_inventory_lines_move_no_stock(api, company):
    customer = builders.customer(company)
    service = builders.item(company, "SVC", type=ItemType.SERVICE)
    supply = builders.item(company, "SUPPLY", type=ItemType.NON_INVENTORY)

    body = post_batch(
        api, "invoices", [create(invoice_data(customer, line(service, 2), line(supply), line()))]
    )

    assert results(body) == ["created"]
    invoice = Invoice.objects.get(company=company)
    assert lines_of(invoice.journal_entry) == {
        ("1100", D("40.00"), D("0")),
        ("4000", D("0"), D("40.00")),
    }
    assert not StockMovement.objects.for_company(company).exists()
    assert_books_sound(company)


def test_updating_an_invoice_reverses_its_stock_movements_with_its_posting(api, company):
    customer = builders.customer(company)
    widget = builders.stocked_item(company, "WIDGET", quantity="60", unit_cost="10.00")
    post_batch(api, "invoices", [create(invoice_data(customer, line(widget, 13, "25.00")))])
    invoice = Invoice.objects.get(company=company)
    first_entry = invoice.journal_entry

    body = post_batch(
        api, "invoices", [update({"id": invoice.public_id, "items": [line(widget, 5, "25.00")]})]
    )

    assert results(body) == ["updated"]
    invoice.refresh_from_db()
    assert on_hand(widget) == (D("55"), D("10.0000"), D("550.00"))
    assert sorted(
        StockMovement.objects.filter(item=widget, adjustment=None).values_list(
            "quantity", flat=True
        )
    ) == [D("-13"), D("-5"), D("13")]
    assert lines_of(invoice.journal_entry) == {
        ("1100", D("125.00"), D("0")),
        ("4000", D("0"), D("125.00")),
        ("5050", D("50.00"), D("0")),
        ("1200", D("0"), D("50.00")),
    }
    reversal = JournalEntry.objects.get(description__startswith=f"Reversal of {first_entry}")
    assert ("5050", D("0"), D("130.00")) in lines_of(reversal)
    assert_books_sound(company)


def test_a_bill_whose_units_were_sold_cannot_take_them_back(api, company):
    supplier, customer = builders.supplier(company), builders.customer(company)
    widget = builders.item(company, "WIDGET")
    post_batch(api, "bills", [create(bill_data(supplier, line(widget, 20, "14.00")))])
    post_batch(api, "invoices", [create(invoice_data(customer, line(widget, 15)))])
    bill = Bill.objects.get(company=company)

    body = post_batch(
        api, "bills", [update({"id": bill.public_id, "items": [line(widget, 10, "14.00")]})]
    )

    assert detail_codes(result_error(body["data"])) == {("items", "INSUFFICIENT_STOCK")}
    assert on_hand(widget)[0] == D("5")
    assert_books_sound(company)


def test_updating_a_bill_moves_its_stock_anew(api, company):
    supplier = builders.supplier(company)
    widget = builders.item(company, "WIDGET")
    post_batch(api, "bills", [create(bill_data(supplier, line(widget, 20, "14.00")))])
    bill = Bill.objects.get(company=company)

    body = post_batch(
        api, "bills", [update({"id": bill.public_id, "items": [line(widget, 10, "12.00")]})]
    )

    assert results(body) == ["updated"]
    assert on_hand(widget) == (D("10"), D("12.0000"), D("120.00"))
    assert_books_sound(company)


def test_lines_post_to_the_account_they_name(api, company):
    customer, supplier = builders.customer(company), builders.supplier(company)

    invoices = post_batch(
        api, "invoices", [create(invoice_data(customer, line(accountCode="4100"), line()))]
    )
    bills = post_batch(api, "bills", [create(bill_data(supplier, line(accountCode="6200")))])

    assert results(invoices) == results(bills) == ["created"]
    assert lines_of(Invoice.objects.get(company=company).journal_entry) == {
        ("1100", D("20.00"), D("0")),
        ("4100", D("0"), D("10.00")),
        ("4000", D("0"), D("10.00")),
    }
    assert lines_of(Bill.objects.get(company=company).journal_entry) == {
        ("6200", D("10.00"), D("0")),
        ("2010", D("0"), D("10.00")),
    }
    assert_books_sound(company)


def test_lines_default_to_their_items_accounts(api, company):
    customer, supplier = builders.customer(company), builders.supplier(company)
    item = {"itemCode": "CONSULT", "name": "Consulting", "type": "service"}
    accounts = {"salesAccountCode": "4100", "purchaseAccountCode": "6100"}
    created = post_batch(
        api,
        "items",
        [
            create({**item, **accounts}),
            create({**item, "itemCode": "X", "salesAccountCode": "9999"}),
        ],
    )
    consulting = Item.objects.get(company=company, item_code="CONSULT")

    post_batch(api, "invoices", [create(invoice_data(customer, line(consulting)))])
    post_batch(api, "bills", [create(bill_data(supplier, line(consulting)))])

    assert result_error(created["data"], 1)["code"] == "REFERENCE_ERROR"
    assert (consulting.sales_account.code, consulting.purchase_account.code) == ("4100", "6100")
    shown = api.get(f"/v1/items/{consulting.public_id}").json()["data"]
    assert (shown["salesAccountCode"], shown["purchaseAccountCode"]) == ("4100", "6100")
    assert ("4100", D("0"), D("10.00")) in lines_of(
        Invoice.objects.get(company=company).journal_entry
    )
    assert ("6100", D("10.00"), D("0")) in lines_of(Bill.objects.get(company=company).journal_entry)


def test_unknown_or_inactive_line_accounts_and_locations_are_refused(api, company):
    customer = builders.customer(company)
    widget = builders.stocked_item(company, "WIDGET")
    Account.objects.filter(company=company, code="4100").update(active=False)
    Location.objects.create(company=company, code="OLD", name="Old store", active=False)

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, line(accountCode="9999"))),
            create(invoice_data(customer, line(widget, locationCode="NOWHERE"))),
            create(
                invoice_data(customer, line(accountCode="4100"), line(widget, locationCode="OLD"))
            ),
        ],
    )

    data = body["data"]
    assert result_error(data, 0)["code"] == result_error(data, 1)["code"] == "REFERENCE_ERROR"
    assert detail_codes(result_error(data, 2)) == {
        ("items[0].accountCode", "INACTIVE"),
        ("items[1].locationCode", "INACTIVE"),
    }


def test_a_bills_stock_line_posts_to_inventory_only(api, company):
    supplier = builders.supplier(company)
    widget = builders.item(company, "WIDGET")

    body = post_batch(
        api, "bills", [create(bill_data(supplier, line(widget, 2, accountCode="6200")))]
    )

    assert detail_codes(result_error(body["data"])) == {("items[0].accountCode", "INVALID_VALUE")}


def test_lines_may_name_neither_a_header_nor_a_control_account(api, company):
    customer, supplier = builders.customer(company), builders.supplier(company)
    widget = builders.item(company, "WIDGET")

    invoices = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, line(accountCode="1000"))),  # Current Assets: a header
            create(invoice_data(customer, line(accountCode="1100"))),  # Accounts Receivable
            create(invoice_data(customer, line(accountCode="2100"))),  # SST Output Tax
        ],
    )
    bills = post_batch(
        api,
        "bills",
        [
            create(bill_data(supplier, line(accountCode="2010"))),  # Accounts Payable
            create(bill_data(supplier, line(widget, 2, accountCode="1200"))),  # stock: inventory
        ],
    )

    data = invoices["data"]
    assert detail_codes(result_error(data, 0)) == {("items[0].accountCode", "HEADER_ACCOUNT")}
    assert detail_codes(result_error(data, 1)) == {("items[0].accountCode", "CONTROL_ACCOUNT")}
    assert detail_codes(result_error(data, 2)) == {("items[0].accountCode", "CONTROL_ACCOUNT")}
    assert detail_codes(result_error(bills["data"], 0)) == {
        ("items[0].accountCode", "CONTROL_ACCOUNT")
    }
    assert bills["data"]["results"][1]["status"] == "created"
    assert_books_sound(company)


def test_a_line_may_name_its_location(api, company):
    customer, supplier = builders.customer(company), builders.supplier(company)
    Location.objects.create(company=company, code="STORE", name="Shop floor")
    widget = builders.item(company, "WIDGET")
    post_batch(api, "bills", [create(bill_data(supplier, line(widget, 8, locationCode="STORE")))])

    store_sale = post_batch(
        api, "invoices", [create(invoice_data(customer, line(widget, 3, locationCode="STORE")))]
    )
    warehouse_sale = post_batch(api, "invoices", [create(invoice_data(customer, line(widget, 1)))])

    assert results(store_sale) == ["created"]
    assert on_hand(widget, "STORE")[0] == D("5")
    assert detail_codes(result_error(warehouse_sale["data"])) == {
        ("items[0].quantity", "INSUFFICIENT_STOCK")
    }
    assert_books_sound(company)


def test_validate_only_moves_no_stock(api, company):
    customer = builders.customer(company)
    widget = builders.stocked_item(company, "WIDGET", quantity="10")
    gadget = builders.item(company, "GADGET")  # no level yet: validateOnly creates none

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, line(widget, 6))),
            create(invoice_data(customer, line(widget, 6))),
            create(invoice_data(customer, line(gadget, 1))),
        ],
        validateOnly=True,
    )

    assert results(body) == ["validated", "failed", "failed"]
    assert on_hand(widget)[0] == D("10")
    assert not StockLevel.objects.filter(item=gadget).exists()
    assert StockMovement.objects.for_company(company).count() == 1  # the opening adjustment


def test_rollback_on_error_moves_no_stock(api, company):
    customer = builders.customer(company)
    widget = builders.stocked_item(company, "WIDGET", quantity="10")

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, line(widget, 4))),
            create(invoice_data(customer, line(widget, 7))),
        ],
        rollbackOnError=True,
    )

    assert body["data"]["status"] == "rolled_back"
    assert on_hand(widget) == (D("10"), D("10.0000"), D("100.00"))
    assert StockMovement.objects.for_company(company).count() == 1
    assert_books_sound(company)


def stock_invoice(customer, items, position: int) -> dict:
    return invoice_data(
        customer,
        *(line(item, 1, "25.00", "SST") for item in items),
        reference=f"SO-{position}",
    )


def test_invoice_query_count_with_stock_lines_does_not_grow_with_the_batch(api, company):
    customers = [builders.customer(company), builders.customer(company, name="Second")]
    items = [
        builders.stocked_item(company, "BOLT", quantity="500"),
        builders.stocked_item(company, "NUT", quantity="500", unit_cost="0.30"),
    ]
    batch = [create(stock_invoice(customers[i % 2], items, i)) for i in range(101)]
    post_batch(api, "invoices", batch[:1])  # the number sequences exist from here on

    one = count_queries(lambda: post_batch(api, "invoices", batch[1:2]))
    hundred = count_queries(lambda: post_batch(api, "invoices", batch[1:101]))

    assert one == hundred
    assert on_hand(items[0])[0] == D("398")
    numbers = list(Invoice.objects.for_company(company).values_list("number", flat=True))
    changed = [line(items[0], 2, "25.00", "SST"), line(items[1], 1, "25.00", "SST")]
    updates = [update({"id": number, "items": changed}) for number in numbers]
    changes = (
        count_queries(lambda: post_batch(api, "invoices", updates[:1])),
        count_queries(lambda: post_batch(api, "invoices", updates[1:101])),
    )
    assert changes[0] == changes[1]
    assert on_hand(items[0])[0] == D("297")  # 101 of the 102 invoices take one more
    assert_books_sound(company)


def test_bill_query_count_with_stock_lines_does_not_grow_with_the_batch(api, company):
    suppliers = [builders.supplier(company), builders.supplier(company, name="Second")]
    items = [builders.item(company, "BOLT"), builders.item(company, "NUT")]
    batch = [
        create(bill_data(suppliers[i % 2], *(line(item, 3, "2.00") for item in items)))
        for i in range(101)
    ]
    post_batch(api, "bills", batch[:1])

    one = count_queries(lambda: post_batch(api, "bills", batch[1:2]))
    hundred = count_queries(lambda: post_batch(api, "bills", batch[1:101]))

    assert one == hundred
    assert on_hand(items[1])[0] == D("306")
    assert_books_sound(company)


# Numbers kept from another system.


def test_a_migrated_invoice_keeps_its_number_and_the_sequence_skips_it(api, company):
    customer = builders.customer(company)

    body = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, line(), invoiceNumber="INV-000002")),
            create(invoice_data(customer, line())),
            create(invoice_data(customer, line())),
        ],
    )

    numbers = [result["data"]["number"] for result in body["data"]["results"]]
    assert numbers == ["INV-000002", "INV-000001", "INV-000003"]
    later = post_batch(api, "invoices", [create(invoice_data(customer, line()))])
    assert later["data"]["results"][0]["data"]["number"] == "INV-000004"


def test_a_kept_number_already_used_is_a_duplicate_error(api, company):
    customer, supplier = builders.customer(company), builders.supplier(company)
    builders.invoice(company, customer)  # INV-000001

    invoices = post_batch(
        api,
        "invoices",
        [
            create(invoice_data(customer, line(), invoiceNumber="INV-000001")),
            create(invoice_data(customer, line(), invoiceNumber="OLD-7")),
            create(invoice_data(customer, line(), invoiceNumber="OLD-7")),
        ],
    )
    bills = post_batch(
        api,
        "bills",
        [
            create(bill_data(supplier, line(), billNumber="B-1")),
            create(bill_data(supplier, line(), billNumber="B-1")),
        ],
    )

    data = invoices["data"]
    assert results(invoices) == ["failed", "created", "failed"]
    assert result_error(data, 0)["code"] == result_error(data, 2)["code"] == "DUPLICATE_ERROR"
    assert result_error(data, 0)["field"] == "invoiceNumber"
    assert results(bills) == ["created", "failed"]
    assert result_error(bills["data"], 1)["code"] == "DUPLICATE_ERROR"
    assert Bill.objects.get(company=company).number == "B-1"


def test_an_invoice_from_before_documents_moved_stock_keeps_its_lines_as_posted(api, company):
    customer = builders.customer(company)
    widget = builders.item(company, "WIDGET", type=ItemType.SERVICE)
    post_batch(api, "invoices", [create(invoice_data(customer, line(widget, 5)))])
    Item.objects.filter(pk=widget.pk).update(type=ItemType.INVENTORY)  # as lines stored before
    invoice = Invoice.objects.get(company=company)
    entry = invoice.journal_entry

    body = post_batch(api, "invoices", [update({"id": invoice.public_id, "notes": "Migrated"})])

    assert results(body) == ["updated"]
    invoice.refresh_from_db()
    assert (invoice.notes, invoice.journal_entry) == ("Migrated", entry)
    assert not StockMovement.objects.for_company(company).exists()
