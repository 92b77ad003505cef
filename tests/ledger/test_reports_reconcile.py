"""The reports reconcile with the books after any mix of batches.

A state machine posts random batches of every entity through the API — good records, bad
references, over-allocations, too little stock, unbalanced entries, document updates, with
rollbackOnError, continueOnError or validateOnly — and after each batch checks what an
accountant would: debits equal credits, receivables in the trial balance equal the aged
receivables total, payables the aged payables total, and the inventory account the stock
valuation total; today and as of an earlier date."""

import datetime
from decimal import Decimal

from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.helpers import api_client_for, create, json_of, make_company, post_batch, update

RECEIVABLES, PAYABLES, INVENTORY = "1100", "2010", "1200"
# Manual entries keep off the control accounts, whose balances the documents own.
JOURNAL_ACCOUNTS = ["1010", "1500", "1610", "3000", "4100", "6000", "6200", "NO-SUCH"]
TAX_CODES = ["SST", "ST5", "ZR"]
MISSING = {"customer": "CUST-9999", "supplier": "SUPP-9999", "item": "NO-SUCH-ITEM"}

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("900"), places=2)
allocation_amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("150"), places=2)
quantities = st.integers(min_value=1, max_value=12)
days_ago = st.integers(min_value=0, max_value=150)
options = st.sampled_from(
    [{}, {}, {}, {"rollbackOnError": True}, {"validateOnly": True}, {"continueOnError": False}]
)
batch_sizes = st.integers(min_value=1, max_value=3)
OPENING_STOCK = {
    "itemCode": "STOCK-1",
    "locationCode": "WH",
    "adjustmentType": "increase",
    "quantity": 20,
    "unitCost": "12.50",
    "reason": "Opening stock",
}

MACHINE_SETTINGS = hypothesis_settings(
    max_examples=25,
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class ReconcilingBooks(RuleBasedStateMachine):
    """One fresh company per example; what it has created is remembered by number/code so
    later batches can name it (or, on purpose, name what does not exist)."""

    def __init__(self):
        super().__init__()
        self.api = api_client_for(make_company())
        self.today = timezone.localdate()
        self.known = {"customer": [], "supplier": [], "item": [], "invoice": [], "bill": []}
        self.documents_of: dict[str, list[str]] = {}  # party number -> its document numbers
        self.accounts = list(JOURNAL_ACCOUNTS)

    # Posting and remembering ----------------------------------------------------------------

    def post(self, entity: str, operations: list[dict], batch_options: dict) -> list[dict]:
        """Post the batch and answer the records it created (none when it rolled back or
        only validated)."""
        data = post_batch(self.api, entity, operations, **batch_options)["data"]
        return [result["data"] for result in data["results"] if result["status"] == "created"]

    def name(self, data, kind: str) -> str:
        """A known record of `kind`, or now and then one that does not exist."""
        if not self.known[kind] or data.draw(st.integers(min_value=0, max_value=9)) == 7:
            return MISSING[kind]
        return data.draw(st.sampled_from(self.known[kind]))

    def day(self, data) -> str:
        return (self.today - datetime.timedelta(days=data.draw(days_ago))).isoformat()

    def lines(self, data) -> list[dict]:
        lines = []
        for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
            line = {
                "quantity": data.draw(quantities),
                "unitPrice": str(data.draw(amounts)),
                "taxCode": data.draw(st.sampled_from(TAX_CODES)),
            }
            if self.known["item"] and data.draw(st.booleans()):
                line["itemCode"] = self.name(data, "item")
            else:
                line["description"] = "Services"
            lines.append(line)
        return lines

    # Reference data -------------------------------------------------------------------------

    @initialize()
    def open_the_books(self):
        created = self.post("customers", [create({"name": "Acme"}), create({"name": "Beta"})], {})
        self.known["customer"] += [c["customerNumber"] for c in created]
        created = self.post("suppliers", [create({"name": "Widgets"})], {})
        self.known["supplier"] += [s["supplierNumber"] for s in created]
        created = self.post("items", [create({"itemCode": "STOCK-1", "name": "Bolt"})], {})
        self.known["item"] += [i["itemCode"] for i in created]
        self.post("stock-adjustments", [create(OPENING_STOCK)], {})  # before it is sold
        self.post_opening_document("bill", "supplier")
        self.post_opening_document("invoice", "customer")

    def post_opening_document(self, kind: str, party: str) -> None:
        number = self.known[party][0]
        record = {
            f"{party}Number": number,
            f"{kind}Date": (self.today - datetime.timedelta(days=90)).isoformat(),
            "items": [
                {"itemCode": "STOCK-1", "quantity": 2, "unitPrice": "300.00", "taxCode": "SST"}
            ],
        }
        [document] = self.post(f"{kind}s", [create(record)], {})
        self.known[kind].append(document["number"])
        self.documents_of[number] = [document["number"]]

    @rule(data=st.data(), what=st.sampled_from(["party", "item", "account"]))
    def add_reference_data(self, data, what):
        {"party": self.add_parties, "item": self.add_items, "account": self.add_accounts}[what](
            data
        )

    def add_parties(self, data):
        kind = data.draw(st.sampled_from(["customer", "supplier"]))
        names = data.draw(st.lists(st.sampled_from(["Gamma", "Delta", ""]), min_size=1, max_size=2))
        created = self.post(f"{kind}s", [create({"name": n}) for n in names], data.draw(options))
        self.known[kind] += [party[f"{kind}Number"] for party in created]

    def add_items(self, data):
        code = f"STOCK-{len(self.known['item']) + 2}"
        item_type = data.draw(st.sampled_from(["inventory", "inventory", "service"]))
        record = {"itemCode": code, "name": "Part", "type": item_type}
        created = self.post("items", [create(record)], data.draw(options))
        self.known["item"] += [i["itemCode"] for i in created if item_type == "inventory"]

    def add_accounts(self, data):
        code = data.draw(st.sampled_from(["7000", "7100", "6200"]))  # 6200 exists: a failure
        record = {"code": code, "name": "Sundry", "type": "expense"}
        created = self.post("accounts", [create(record)], data.draw(options))
        self.accounts += [a["code"] for a in created]

    # Postings -------------------------------------------------------------------------------

    @rule(data=st.data())
    def post_journal_entries(self, data):
        operations = []
        for _ in range(data.draw(batch_sizes)):
            debit, credit = data.draw(
                st.lists(st.sampled_from(self.accounts), min_size=2, max_size=2, unique=True)
            )
            amount = data.draw(amounts)
            unbalanced = data.draw(st.booleans()) and data.draw(st.booleans())
            lines = [
                {"accountCode": debit, "debit": str(amount)},
                {"accountCode": credit, "credit": str(amount + (1 if unbalanced else 0))},
            ]
            operations.append(create({"date": self.day(data), "lines": lines}))
        self.post("journal-entries", operations, data.draw(options))

    @rule(data=st.data(), kind=st.sampled_from(["invoice", "bill"]))
    def post_documents(self, data, kind):
        party = "customer" if kind == "invoice" else "supplier"
        operations = []
        for _ in range(data.draw(batch_sizes)):
            record = {
                f"{party}Number": self.name(data, party),
                f"{kind}Date": self.day(data),
                "items": self.lines(data),
            }
            if data.draw(st.booleans()):
                record["dueDate"] = self.day(data)  # before the date now and then: refused
            operations.append(create(record))
        parties = {i: op["data"][f"{party}Number"] for i, op in enumerate(operations)}
        data_options = data.draw(options)
        answer = post_batch(self.api, f"{kind}s", operations, **data_options)["data"]
        for result in answer["results"]:
            if result["status"] == "created":
                number = result["data"]["number"]
                self.known[kind].append(number)
                self.documents_of.setdefault(parties[result["index"]], []).append(number)

    @rule(data=st.data(), kind=st.sampled_from(["invoice", "bill"]))
    def update_documents(self, data, kind):
        if not self.known[kind]:
            return
        record = {f"{kind}Number": data.draw(st.sampled_from(self.known[kind]))}
        if data.draw(st.booleans()):
            record[f"{kind}Date"] = self.day(data)
        if data.draw(st.booleans()):
            record["items"] = self.lines(data)
        self.post(f"{kind}s", [update(record)], data.draw(options))

    @rule(data=st.data(), kind=st.sampled_from(["invoice", "bill"]))
    def post_payments(self, data, kind):
        party = "customer" if kind == "invoice" else "supplier"
        operations = []
        for _ in range(data.draw(batch_sizes)):
            payer = self.name(data, party)
            # The payer's own documents; now and then another's, or one that does not exist.
            own = self.documents_of.get(payer, [])
            numbers = (
                data.draw(st.lists(st.sampled_from(own), max_size=2, unique=True)) if own else []
            )
            if data.draw(st.integers(min_value=0, max_value=9)) == 7:
                numbers.append(data.draw(st.sampled_from(self.known[kind] + ["NONE"])))
            allocations = [
                {f"{kind}Number": number, "amount": str(data.draw(allocation_amounts))}
                for number in dict.fromkeys(numbers)
            ]
            allocated = sum((Decimal(a["amount"]) for a in allocations), Decimal(0))
            record = {
                f"{party}Number": payer,
                "paymentDate": self.day(data),
                # Sometimes less than what it allocates: OVER_ALLOCATED.
                "amount": str(max(allocated + data.draw(amounts) - 100, Decimal("0.01"))),
                "allocations": allocations,
            }
            operations.append(create(record))
        self.post("payments", operations, data.draw(options))

    @rule(data=st.data())
    def adjust_stock(self, data):
        operations = []
        for _ in range(data.draw(batch_sizes)):
            record = {
                "itemCode": self.name(data, "item"),
                "locationCode": "WH",
                "adjustmentType": data.draw(st.sampled_from(["increase", "increase", "decrease"])),
                "quantity": data.draw(quantities),  # a decrease may want more than is on hand
                "unitCost": str(data.draw(amounts)),
                "reason": "Count",
                "date": self.day(data),
            }
            operations.append(create(record))
        self.post("stock-adjustments", operations, data.draw(options))

    # What must hold after every batch -------------------------------------------------------

    def report(self, path: str, **params) -> dict:
        response = self.api.get(f"/v1/reports/{path}", params)
        assert response.status_code == 200, response.content
        return json_of(response)["data"]

    def balances(self, **params) -> dict[str, Decimal]:
        """Debit minus credit per account code, from the trial balance; asserts it balances."""
        trial_balance = self.report("trial-balance", **params)
        assert trial_balance["totalDebit"] == trial_balance["totalCredit"]
        return {row["code"]: row["debit"] - row["credit"] for row in trial_balance["accounts"]}

    @invariant()
    def reports_reconcile(self):
        zero = Decimal("0.00")
        everything = self.balances()
        stock = self.report("stock-valuation")
        assert everything.get(INVENTORY, zero) == stock["total"]
        assert sum(row["value"] for row in stock["items"]) == stock["total"]
        for as_of in [self.today, self.today - datetime.timedelta(days=60)]:
            balances = self.balances(asOf=as_of.isoformat())
            receivables = self.report("aged-receivables", asOf=as_of.isoformat())
            payables = self.report("aged-payables", asOf=as_of.isoformat())
            assert balances.get(RECEIVABLES, zero) == receivables["total"]
            assert -balances.get(PAYABLES, zero) == payables["total"]
            for aged in (receivables, payables):
                assert sum(party["total"] for party in aged["parties"]) == aged["total"]
            if as_of == self.today:  # nothing is dated later
                assert balances == everything


def test_reports_reconcile_with_the_books_after_any_mix_of_batches(db, settings):
    settings.BATCH_RATE_LIMIT = "100000/min"  # a machine posts faster than any person
    run_state_machine_as_test(ReconcilingBooks, settings=MACHINE_SETTINGS)
