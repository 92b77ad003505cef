"""Posting journal entries: numbered, balanced, written in one statement per table."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bigledger.models import Company
from bigledger.money import ZERO
from bigledger.numbers import allocate_numbers

from ..models import Account, AccountRole, JournalEntry, JournalLine, JournalSource

JOURNAL_NUMBER = {"prefix": "JE", "width": 6}


class UnbalancedEntry(ValueError):
    pass


@dataclass
class LineDraft:
    account: Account
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    description: str = ""


@dataclass
class JournalDraft:
    date: date
    lines: list[LineDraft]
    reference: str = ""
    description: str = ""
    source: str = JournalSource.MANUAL
    external_id: str | None = None
    entry: JournalEntry | None = field(default=None, init=False)

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)


def post_journal_entries(*, company: Company, drafts: list[JournalDraft]) -> list[JournalEntry]:
    """Number and write the entries and their lines; each draft must balance.

    Zero lines are dropped (a zero tax line says nothing). Call inside a transaction."""
    for draft in drafts:
        draft.lines = [line for line in draft.lines if line.debit or line.credit]
        if len(draft.lines) < 2 or draft.total_debit != draft.total_credit:
            raise UnbalancedEntry(f"journal entry {draft.reference!r} does not balance")
    numbers = allocate_numbers(company=company, count=len(drafts), **JOURNAL_NUMBER)
    entries = [
        JournalEntry(
            company=company,
            number=number,
            date=draft.date,
            reference=draft.reference,
            description=draft.description,
            source=draft.source,
            total_debit=draft.total_debit,
            total_credit=draft.total_credit,
            external_id=draft.external_id,
        )
        for number, draft in zip(numbers, drafts, strict=True)
    ]
    JournalEntry.objects.bulk_create(entries)
    lines = []
    for entry, draft in zip(entries, drafts, strict=True):
        draft.entry = entry
        lines.extend(
            JournalLine(
                company=company,
                entry=entry,
                account=line.account,
                line_number=position,
                description=line.description,
                debit=line.debit,
                credit=line.credit,
            )
            for position, line in enumerate(draft.lines, start=1)
        )
    JournalLine.objects.bulk_create(lines)
    return entries


class MissingPostingAccount(LookupError):
    pass


def posting_accounts(*, company: Company) -> dict[str, Account]:
    """The company's accounts by posting role (receivables, sales, bank …)."""
    return {
        account.role: account
        for account in Account.objects.for_company(company).filter(role__isnull=False)
    }


def require_role(accounts: dict[str, Account], role: AccountRole) -> Account:
    try:
        return accounts[role]
    except KeyError:
        raise MissingPostingAccount(f"the company has no {role.label} account") from None
