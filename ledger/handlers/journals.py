"""Manual journal entries in batches: create only. A posted entry is never edited, only
reversed by another entry, so there is nothing to update or delete.

Everything that needs no database (dates, one side per line, the balance) is checked in
clean(); validate() resolves the accounts, all loaded in one query that also says which are
header accounts: a line may post to neither a header nor a control account (postings.py)."""

from decimal import Decimal

from batch.engine.codes import ErrorCode, FieldCode
from batch.engine.fields import Detail, Field, ListOf, Schema
from batch.engine.handlers import (
    EXTERNAL_ID,
    Handler,
    ReferenceIndex,
    reference_error,
    split_refs,
)
from batch.engine.parsers import Date, ExternalId, ExternalReference, Money, Reference, Text
from batch.engine.records import Record
from batch.files.templates import template_list
from bigledger.money import ZERO

from ..models import Account, JournalEntry, JournalSource
from ..services.journals import JournalDraft, LineDraft, post_journal_entries
from .external_ids import ExternalIds
from .postings import manual_posting_problems, with_header_flag

# A total must fit Decimal(18, 2), as every money column does.
MONEY_LIMIT = Decimal(10) ** 16

# The ways a line names its account, in the order they are read.
ACCOUNT_PARAMS = ("accountId", "accountCode", "accountExternalId")

LINE = Schema(
    {
        "accountId": Field(Reference()),
        "accountCode": Field(Reference()),
        "accountExternalId": Field(ExternalReference()),
        "debit": Field(Money(what="Debit")),
        "credit": Field(Money(what="Credit")),
        "description": Field(Text(500)),
    }
)

ENTRY = Schema(
    {
        "date": Field(Date(), required=True),
        "reference": Field(Text(100)),
        "description": Field(Text(500)),
        "lines": ListOf(LINE, min_items=2, required=True),
        EXTERNAL_ID: Field(ExternalId()),
    }
)


def account_refs(line: dict) -> list[tuple[str, str]]:
    """The (JSON field, value) pairs that name the line's account, id before code before
    external id."""
    return [(param, line[param]) for param in ACCOUNT_PARAMS if line.get(param)]


def account_ref(line: dict, position: int) -> tuple[str, str | None]:
    """The JSON field that names the line's account, and its value."""
    param, ref = next(iter(account_refs(line)), ("accountId", None))
    return f"lines[{position}].{param}", ref


def line_problems(lines: list[dict]) -> list[Detail]:
    """Each line names an account and carries exactly one positive side."""
    details = []
    for position, line in enumerate(lines):
        field, ref = account_ref(line, position)
        if ref is None:
            message = "accountId, accountCode or accountExternalId is required."
            details.append(Detail(field, message, FieldCode.REQUIRED))
        debit, credit = line.get("debit") or ZERO, line.get("credit") or ZERO
        if debit > 0 and credit > 0:
            message = "A line takes a debit or a credit, not both."
        elif debit <= 0 and credit <= 0:
            message = "A line needs a debit or a credit greater than zero."
        else:
            continue
        details.append(Detail(f"lines[{position}].debit", message, FieldCode.INVALID_AMOUNT))
    return details


def balance_problems(lines: list[dict]) -> list[Detail]:
    debit = sum((line.get("debit") or ZERO for line in lines), ZERO)
    credit = sum((line.get("credit") or ZERO for line in lines), ZERO)
    if debit != credit:
        return [
            Detail(
                "lines",
                f"Total debit {debit} does not equal total credit {credit}.",
                FieldCode.UNBALANCED,
            )
        ]
    if debit >= MONEY_LIMIT:
        return [Detail("lines", "The entry's total is too large.", FieldCode.INVALID_AMOUNT)]
    return []


class JournalEntryHandler(Handler):
    entity = "journal-entries"
    model = JournalEntry
    max_records = 100
    operations = frozenset({"create"})
    create_schema = ENTRY
    # Accounts of the default chart: an expense paid from the bank.
    file_example = [
        {
            "reference": "JE-0001",
            "date": "2024-01-15",
            "description": "Office supplies",
            "lines.accountCode": "6200",
            "lines.debit": "100.00",
            "lines.description": "Printer paper",
        },
        {
            "reference": "JE-0001",
            "lines.accountCode": "1010",
            "lines.credit": "100.00",
            "lines.description": "Paid by bank transfer",
        },
    ]

    @classmethod
    def template_lists(cls, company) -> dict[str, list[str]]:
        accounts = Account.objects.for_company(company).filter(active=True)
        return {"accountCode": template_list(accounts, "code")}

    def __init__(self, ctx):
        super().__init__(ctx)
        self.accounts: ReferenceIndex | None = None
        self.external_ids: ExternalIds | None = None

    # Clean: no database ---------------------------------------------------------------------

    def clean(self, record: Record) -> None:
        values, details = self.create_schema.clean(record.op.data)
        details += self.date_problems(values)
        if "lines" in values and not any(d.field.startswith("lines") for d in details):
            details += line_problems(values["lines"]) or balance_problems(values["lines"])
        record.values = values
        if details:
            record.fail_fields(details)

    def date_problems(self, values: dict) -> list[Detail]:
        entry_date = values.get("date")
        if entry_date is None or self.company.allow_future_dates or entry_date <= self.ctx.today:
            return []
        return [Detail("date", "Date must not be in the future.", FieldCode.FUTURE_DATE)]

    # Load and validate ----------------------------------------------------------------------

    def load(self, records: list[Record]) -> None:
        lines = [line for record in records for line in record.values["lines"]]
        refs, external = split_refs(lines, ACCOUNT_PARAMS)
        self.accounts = ReferenceIndex(
            with_header_flag(self.scoped(Account)), "code", refs, external_refs=external
        )
        self.external_ids = ExternalIds(self.scoped(), records)

    def validate_create(self, record: Record) -> None:
        if not self.external_ids.free(record):
            return
        lines, missing, details = [], [], []
        for position, line in enumerate(record.values["lines"]):
            field, ref = account_ref(line, position)
            account = self.accounts.lookup(field, ref)
            if account is None:
                missing.append((field, ref))
                continue
            details += self.account_problems(line, position, field, account)
            lines.append(
                LineDraft(
                    account,
                    debit=line.get("debit") or ZERO,
                    credit=line.get("credit") or ZERO,
                    description=line.get("description") or "",
                )
            )
        if missing:
            report_missing_accounts(record, missing)
        elif details:
            record.fail_fields(details)
        else:
            self.external_ids.keep(record)
            record.target = JournalDraft(
                date=record.values["date"],
                lines=lines,
                reference=record.values.get("reference") or "",
                description=record.values.get("description") or "",
                source=JournalSource.MANUAL,
                external_id=record.values.get(EXTERNAL_ID),
            )

    def account_problems(self, line: dict, position: int, field: str, account) -> list[Detail]:
        (first, _), *others = account_refs(line)
        for param, ref in others:
            if self.accounts.lookup(param, ref) is not account:
                return [
                    Detail(
                        f"lines[{position}].{param}",
                        f"{param} '{ref}' does not name the account {first} names.",
                        FieldCode.INVALID_VALUE,
                    )
                ]
        if not account.active:
            return [Detail(field, f"Account {account.code} is inactive.", FieldCode.INACTIVE)]
        return manual_posting_problems(account, field)

    # Write ----------------------------------------------------------------------------------

    def write(self, records: list[Record]) -> None:
        post_journal_entries(company=self.company, drafts=[record.target for record in records])
        for record in records:
            entry = record.target.entry
            record.data = {
                "id": entry.public_id,
                "number": entry.number,
                "totalDebit": entry.total_debit,
                "totalCredit": entry.total_credit,
                EXTERNAL_ID: entry.external_id,
            }

    def find_conflicts(self, records: list[Record]) -> bool:
        """An externalId another batch stored since load(): that entry is a
        DUPLICATE_ERROR; the others are written again."""
        return self.external_ids.find_conflicts(records)


def report_missing_accounts(record: Record, missing: list[tuple[str, str]]) -> None:
    if len(missing) == 1:
        field, ref = missing[0]
        reference_error(record, field, "Account", ref)
        return
    record.fail(
        ErrorCode.REFERENCE_ERROR,
        "Several accounts do not exist.",
        details=[
            Detail(field, f"Account '{ref}' does not exist.", FieldCode.NOT_FOUND)
            for field, ref in missing
        ],
    )


HANDLERS = [JournalEntryHandler]
