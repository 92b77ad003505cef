"""Reads that need care: the trial balance, the aged receivables and payables, and the
control-account checks."""

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import MAX_PREC, Context, Decimal, localcontext

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from bigledger.models import Company
from bigledger.money import ZERO

from .models import (
    Account,
    AccountRole,
    Bill,
    Customer,
    DocumentStatus,
    Invoice,
    JournalLine,
    PaymentAllocation,
    Supplier,
)

MONEY_ZERO = Value(ZERO)
# PostgreSQL sums numeric columns exactly, to any size; Python's default context would round
# past 28 digits. Adding and subtracting in this one are exact, however large the totals.
EXACT = Context(prec=MAX_PREC)


@dataclass(frozen=True)
class TrialBalanceRow:
    account: Account
    debit: Decimal
    credit: Decimal


@dataclass(frozen=True)
class TrialBalance:
    rows: list[TrialBalanceRow]
    total_debit: Decimal
    total_credit: Decimal
    start: date | None = None
    end: date | None = None


def trial_balance(
    *, company: Company, start: date | None = None, end: date | None = None
) -> TrialBalance:
    """Each account with postings dated from `start` to `end` (both inclusive, either open),
    its net movement on its debit or credit side. With only `end`, that is the balance as of
    `end`; with neither, everything posted."""
    dated = Q()
    if start is not None:
        dated &= Q(journal_lines__entry__date__gte=start)
    if end is not None:
        dated &= Q(journal_lines__entry__date__lte=end)
    accounts = (
        Account.objects.for_company(company)
        .annotate(
            sum_debit=Coalesce(Sum("journal_lines__debit", filter=dated), MONEY_ZERO),
            sum_credit=Coalesce(Sum("journal_lines__credit", filter=dated), MONEY_ZERO),
            line_count=Count("journal_lines", filter=dated),
        )
        .filter(line_count__gt=0)
        .order_by("code")
    )
    rows = []
    with localcontext(EXACT):
        for account in accounts:
            net = account.sum_debit - account.sum_credit
            rows.append(TrialBalanceRow(account, debit=max(net, ZERO), credit=max(-net, ZERO)))
        return TrialBalance(
            rows=rows,
            total_debit=sum((row.debit for row in rows), ZERO),
            total_credit=sum((row.credit for row in rows), ZERO),
            start=start,
            end=end,
        )


def role_balance(*, company: Company, role: AccountRole) -> Decimal:
    """Debit minus credit of the account holding `role`."""
    totals = (
        JournalLine.objects.for_company(company)
        .filter(account__role=role)
        .aggregate(
            debit=Coalesce(Sum("debit"), MONEY_ZERO), credit=Coalesce(Sum("credit"), MONEY_ZERO)
        )
    )
    with localcontext(EXACT):
        return totals["debit"] - totals["credit"]


def _outstanding(model, company: Company) -> Decimal:
    return (
        model.objects.for_company(company)
        .filter(~Q(status=DocumentStatus.PAID))
        .aggregate(due=Coalesce(Sum(F("total") - F("amount_paid")), MONEY_ZERO))["due"]
    )


def open_invoices_outstanding(*, company: Company) -> Decimal:
    return _outstanding(Invoice, company)


def open_bills_outstanding(*, company: Company) -> Decimal:
    return _outstanding(Bill, company)


def journal_totals(*, company: Company) -> tuple[Decimal, Decimal]:
    totals = JournalLine.objects.for_company(company).aggregate(
        debit=Coalesce(Sum("debit"), MONEY_ZERO), credit=Coalesce(Sum("credit"), MONEY_ZERO)
    )
    return totals["debit"], totals["credit"]


# Aged receivables and payables ------------------------------------------------------------

# Days past due that close each bucket but the last: current (not yet due), 1–30, 31–60,
# 61–90, over 90.
AGING_LIMITS = (0, 30, 60, 90)


@dataclass
class AgedParty:
    """What one customer owes (or one supplier is owed), by how long past due."""

    party: Customer | Supplier
    buckets: list[Decimal] = field(default_factory=lambda: [ZERO] * (len(AGING_LIMITS) + 1))
    # Paid by payments dated on or before the report's date toward documents dated after it.
    paid_ahead: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        with localcontext(EXACT):
            return sum(self.buckets, ZERO) - self.paid_ahead


@dataclass(frozen=True)
class AgedBalances:
    as_of: date
    parties: list[AgedParty]

    @property
    def buckets(self) -> list[Decimal]:
        """Each bucket's total over the parties."""
        totals = [ZERO] * (len(AGING_LIMITS) + 1)
        with localcontext(EXACT):
            for party in self.parties:
                totals = [
                    total + amount for total, amount in zip(totals, party.buckets, strict=True)
                ]
        return totals

    @property
    def paid_ahead(self) -> Decimal:
        with localcontext(EXACT):
            return sum((party.paid_ahead for party in self.parties), ZERO)

    @property
    def total(self) -> Decimal:
        with localcontext(EXACT):
            return sum((party.total for party in self.parties), ZERO)


def aged_receivables(*, company: Company, as_of: date) -> AgedBalances:
    """What each customer owed on `as_of`: invoices dated on or before it, less what payments
    dated on or before it paid. An allocation counts from its payment's date, as its posting
    does, so the total equals the receivables account's balance as of that date."""
    return _aged(company=company, model=Invoice, party_field="customer", as_of=as_of)


def aged_payables(*, company: Company, as_of: date) -> AgedBalances:
    """What was owed to each supplier on `as_of`, like aged_receivables for bills."""
    return _aged(company=company, model=Bill, party_field="supplier", as_of=as_of)


def _aged(*, company: Company, model, party_field: str, as_of: date) -> AgedBalances:
    buckets: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO] * (len(AGING_LIMITS) + 1))
    paid_ahead: dict[int, Decimal] = defaultdict(lambda: ZERO)
    with localcontext(EXACT):
        for party_id, due_date, owed in _open_documents(company, model, party_field, as_of):
            buckets[party_id][bisect_left(AGING_LIMITS, (as_of - due_date).days)] += owed
        for party_id, amount in _paid_ahead(company, model, party_field, as_of):
            paid_ahead[party_id] += amount
    party_model = model._meta.get_field(party_field).related_model
    parties = party_model.objects.in_bulk(set(buckets) | set(paid_ahead))
    return AgedBalances(
        as_of=as_of,
        parties=[
            AgedParty(party=party, buckets=buckets[pk], paid_ahead=paid_ahead[pk])
            for pk, party in sorted(parties.items(), key=lambda item: item[1].number)
        ],
    )


def _open_documents(company: Company, model, party_field: str, as_of: date):
    """(party id, due date, still owed) of each document dated on or before `as_of` that
    payments dated on or before it had not fully paid."""
    document_field = model._meta.model_name
    paid = (
        PaymentAllocation.objects.filter(
            **{document_field: OuterRef("pk")}, payment__date__lte=as_of
        )
        .values(document_field)
        .annotate(amount=Sum("amount"))
        .values("amount")
    )
    return (
        model.objects.for_company(company)
        .filter(date__lte=as_of)
        .annotate(owed=F("total") - Coalesce(Subquery(paid), MONEY_ZERO))
        .filter(owed__gt=0)
        .values_list(f"{party_field}_id", "due_date", "owed")
        .iterator()
    )


def _paid_ahead(company: Company, model, party_field: str, as_of: date):
    """(party id, amount) allocated by payments dated on or before `as_of` to documents
    dated after it."""
    document_field = model._meta.model_name
    return (
        PaymentAllocation.objects.for_company(company)
        .filter(payment__date__lte=as_of, **{f"{document_field}__date__gt": as_of})
        .values_list(f"{document_field}__{party_field}_id")
        .annotate(amount=Sum("amount"))
    )
