"""What every posting must leave true of a company's books."""

from django.db.models import Sum

from bigledger.money import ZERO
from inventory.models import StockLevel
from inventory.selectors import stock_levels_disagreeing_with_movements
from ledger import selectors
from ledger.models import AccountRole, JournalEntry


def lines_of(entry) -> set[tuple]:
    """An entry's lines as (account code, debit, credit)."""
    return {(line.account.code, line.debit, line.credit) for line in entry.lines.all()}


def assert_books_balance(company) -> None:
    """Debits equal credits in the journal and in each entry, and stock on hand equals the
    sum of its movements."""
    debit, credit = selectors.journal_totals(company=company)
    assert debit == credit
    for entry in JournalEntry.objects.for_company(company).prefetch_related("lines"):
        lines = list(entry.lines.all())
        assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
        assert entry.total_debit == entry.total_credit
    assert stock_levels_disagreeing_with_movements(company=company) == []


def assert_books_sound(company) -> None:
    """The books balance, receivables and payables equal what open invoices and bills owe,
    and inventory equals what the stock on hand is worth — true while no manual journal entry
    posts to those control accounts."""
    assert_books_balance(company)
    assert selectors.role_balance(
        company=company, role=AccountRole.RECEIVABLES
    ) == selectors.open_invoices_outstanding(company=company)
    assert -selectors.role_balance(
        company=company, role=AccountRole.PAYABLES
    ) == selectors.open_bills_outstanding(company=company)
    assert selectors.role_balance(company=company, role=AccountRole.INVENTORY) == stock_value(
        company
    )


def stock_value(company):
    """What the stock on hand is worth: the sum of its levels' values."""
    levels = StockLevel.objects.for_company(company)
    return levels.aggregate(total=Sum("value"))["total"] or ZERO
