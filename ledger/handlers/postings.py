"""Which accounts a record may post to, shared by every handler that names an account.

A header account (one with sub-accounts) only sums its children and takes no postings at
all. A control account's balance must equal what its documents say — receivables and
payables the open invoices and bills, inventory the stock's value, the tax accounts the tax
on documents, the advance accounts the payments' unallocated amounts — so only those
documents post to it, never a manual journal line."""

from django.db.models import Exists, OuterRef, QuerySet

from batch.engine.codes import FieldCode
from batch.engine.fields import Detail

from ..models import Account, AccountRole

CONTROL_ROLES = frozenset(
    {
        AccountRole.RECEIVABLES,
        AccountRole.PAYABLES,
        AccountRole.INVENTORY,
        AccountRole.TAX_INPUT,
        AccountRole.TAX_OUTPUT,
        AccountRole.CUSTOMER_ADVANCES,
        AccountRole.SUPPLIER_ADVANCES,
    }
)


def with_header_flag(accounts: QuerySet) -> QuerySet:
    """The accounts, each with `is_header` (it has sub-accounts), still in one query."""
    return accounts.annotate(is_header=Exists(Account.objects.filter(parent=OuterRef("pk"))))


def header_problems(account: Account, field: str) -> list[Detail]:
    """HEADER_ACCOUNT when `account` (loaded through with_header_flag) has sub-accounts."""
    if not account.is_header:
        return []
    message = f"Account {account.code} is a header account; post to one of its sub-accounts."
    return [Detail(field, message, FieldCode.HEADER_ACCOUNT)]


def manual_posting_problems(account: Account, field: str) -> list[Detail]:
    """What keeps a manual journal line off `account`: a header or a control account."""
    if problems := header_problems(account, field):
        return problems
    if account.role in CONTROL_ROLES:
        what = AccountRole(account.role).label.lower()
        message = (
            f"Account {account.code} is the {what} control account; only documents post to it."
        )
        return [Detail(field, message, FieldCode.CONTROL_ACCOUNT)]
    return []
