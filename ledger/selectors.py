"""Reads that need care: the trial balance and the control-account checks."""

from dataclasses import dataclass
from decimal import MAX_PREC, Context, Decimal, localcontext

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from bigledger.models import Company
from bigledger.money import ZERO

from .models import Account, AccountRole, Bill, DocumentStatus, Invoice, JournalLine

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


def trial_balance(*, company: Company) -> TrialBalance:
    """Each account with postings, its net balance on its debit or credit side."""
    accounts = (
        Account.objects.for_company(company)
        .annotate(
            sum_debit=Coalesce(Sum("journal_lines__debit"), MONEY_ZERO),
            sum_credit=Coalesce(Sum("journal_lines__credit"), MONEY_ZERO),
            line_count=Count("journal_lines"),
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
