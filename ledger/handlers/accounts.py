"""The chart of accounts in batches: create and update (accounts are never deleted).

An update names its account by `id` — the public id or the current code — or, when no id is
sent, by `code`. A parent (`parentId`, public id or code, or `parentExternalId`) may be an
account created earlier in the same batch; it must be of the same type and must not make a
cycle. A chart is small, so the batch loads the company's whole chart in one query and walks
ancestry in memory.

Only an account nothing posts to may become a parent, since a header account takes no
postings (postings.py): one with journal lines or a posting role is refused as a new parent
with HEADER_ACCOUNT. The chart's query says which accounts have journal lines."""

from collections import defaultdict

from django.db.models import Exists, OuterRef

from batch.engine.codes import ErrorCode
from batch.engine.fields import Detail, Field, FieldCode, Schema
from batch.engine.handlers import reference_error
from batch.engine.master import MasterDataHandler
from batch.engine.parsers import Boolean, Choice, ExternalId, ExternalReference, Reference, Text
from batch.files.templates import template_list

from ..models import Account, AccountType, JournalLine

# The ways a record names its parent: our id or code, or the parent's external id.
PARENT_PARAMS = ("parentId", "parentExternalId")


def account_fields() -> dict:
    return {
        "code": Field(Text(20, blank=False), required=True),
        "name": Field(Text(200, blank=False), required=True),
        "type": Field(Choice(AccountType.values), required=True),
        "parentId": Field(Reference()),
        "parentExternalId": Field(ExternalReference()),
        "active": Field(Boolean()),
        "externalId": Field(ExternalId()),
    }


def is_ancestor(account: Account, *, of: Account | None) -> bool:
    """Whether `account` is `of` or one of its ancestors, following in-memory parents."""
    seen = set()
    while of is not None and id(of) not in seen:
        if of is account:
            return True
        seen.add(id(of))
        of = of.parent
    return False


class AccountHandler(MasterDataHandler):
    entity = "accounts"
    model = Account
    what = "Account"
    operations = frozenset({"create", "update", "upsert"})
    max_records = 200
    natural_key = "code"
    natural_key_param = "code"
    unique_fields = {"code": ("code", False), "externalId": ("external_id", False)}
    match_fields = ("externalId", "code")
    key_references = {"parentId": "id", "parentExternalId": "externalId"}
    field_map = {
        "code": "code",
        "name": "name",
        "type": "type",
        "active": "active",
        "externalId": "external_id",
    }
    create_schema = Schema(account_fields())
    # A code the default chart leaves free (its expenses are 6000-6200).
    file_example = [
        {"operation": "create", "code": "6300", "name": "Travel", "type": "expense"},
    ]
    update_schema = Schema({**account_fields(), "id": Field(Reference())})

    @classmethod
    def template_lists(cls, company) -> dict[str, list[str]]:
        return {"parentId": template_list(Account.objects.for_company(company), "code")}

    def load_references(self, records) -> None:
        # The rows updates name stay the same objects, so the tree sees their changes.
        chart = {row.pk: row for row in self.index.rows()}
        self.posted: set[int] = set()  # accounts with journal lines: never a new parent
        self.stored_parents: dict[int, int | None] = {}
        lines = JournalLine.objects.filter(account=OuterRef("pk"))
        for row in self.scoped().annotate(posted=Exists(lines)):
            chart.setdefault(row.pk, row)
            self.stored_parents[row.pk] = row.parent_id
            if row.posted:
                self.posted.add(row.pk)
        for row in chart.values():
            if row.parent_id in chart:
                row.parent = chart[row.parent_id]
        self.chart = list(chart.values())
        self.stored_types = {pk: row.type for pk, row in chart.items()}
        self.by_ref = {ref: row for row in self.chart for ref in (row.public_id, row.code)}
        self.by_external = {row.external_id: row for row in self.chart if row.external_id}

    def checks_use(self, records) -> bool:
        return True  # an update may change an account's type, fixed once it has lines

    def rows_in_use(self, pks: list[int]) -> set[int]:
        """Accounts with journal lines: their type is fixed."""
        lines = self.scoped(JournalLine).filter(account_id__in=pks).order_by()
        return set(lines.values_list("account_id", flat=True).distinct())

    def account_named(self, ref: str) -> Account | None:
        account = self.index.get(ref) or self.by_ref.get(ref)
        if account is not None and ref in (account.public_id, account.code):
            return account
        return None  # unknown, or renamed earlier in the batch

    def account_with_external_id(self, ref: str) -> Account | None:
        """The account whose externalId is `ref` as the batch so far left it: stored, or
        created or given it earlier in the batch."""
        for account in (self.index.get_external(ref), self.by_external.get(ref)):
            if account is not None and account.external_id == ref:
                return account
        return None

    def parent_named(self, param: str, ref: str | None) -> Account | None:
        if not ref:
            return None
        if param == "parentExternalId":
            return self.account_with_external_id(ref)
        return self.account_named(ref)

    def assignable_attrs(self) -> list[str]:
        return [*super().assignable_attrs(), "parent"]

    def assign_references(self, instance, values) -> set[str]:
        sent = [param for param in PARENT_PARAMS if param in values]
        if not sent:
            return set()
        # When both are sent and name different accounts, check() refuses the record.
        instance.parent = self.parent_named(sent[0], values[sent[0]])
        return {"parent"}

    def check(self, record, instance, *, creating: bool) -> list[Detail]:
        values = record.values
        for param in PARENT_PARAMS:
            ref = values.get(param)
            if ref and self.parent_named(param, ref) is None:
                reference_error(record, param, "Parent account", ref)
                return []
        if all(param in values for param in PARENT_PARAMS) and self.parent_named(
            "parentId", values["parentId"]
        ) is not self.parent_named("parentExternalId", values["parentExternalId"]):
            message = "parentId and parentExternalId name different accounts."
            return [Detail("parentExternalId", message, FieldCode.INVALID_VALUE)]
        field = next((param for param in PARENT_PARAMS if values.get(param)), "parentId")
        return (
            (self.check_parent(instance, field) or self.check_new_parent(instance, field))
            + self.check_type(record, instance, creating=creating)
            + self.check_active(instance)
        )

    def check_parent(self, account: Account, field: str) -> list[Detail]:
        parent = account.parent
        if parent is None:
            return []
        if parent.type != account.type:
            message = f"Parent account {parent.code} is {parent.type}; it must be {account.type}."
        elif is_ancestor(account, of=parent):
            message = f"Parent account {parent.code} is a sub-account of {account.code}."
        else:
            return []
        return [Detail(field, message, FieldCode.INVALID_VALUE)]

    def check_new_parent(self, account: Account, field: str) -> list[Detail]:
        """A parent gains a sub-account and so becomes a header: refused when something
        posts to it. A parent the account already had stays as it was."""
        parent = account.parent
        if parent is None or (account.pk and self.stored_parents.get(account.pk) == parent.pk):
            return []
        if parent.role:
            message = f"Account {parent.code} is the {parent.role} posting account"
        elif parent.pk in self.posted:
            message = f"Account {parent.code} has journal lines"
        else:
            return []
        message += "; it cannot have sub-accounts."
        return [Detail(field, message, FieldCode.HEADER_ACCOUNT)]

    def check_type(self, record, account: Account, *, creating: bool) -> list[Detail]:
        if creating or "type" not in record.values:
            return []
        if account.pk in self.blocked and account.type != self.stored_types[account.pk]:
            message = f"Account {account.code} has journal lines; its type cannot change."
            return [Detail("type", message, FieldCode.INVALID_VALUE)]
        accounts = [*self.chart, *self.created.values()]
        if any(row.parent is account and row.type != account.type for row in accounts):
            message = f"Account {account.code} has sub-accounts of another type."
            return [Detail("type", message, FieldCode.INVALID_VALUE)]
        return []

    @staticmethod
    def check_active(account: Account) -> list[Detail]:
        if account.role and not account.active:
            message = f"Account {account.code} is the {account.role} posting account."
            return [Detail("active", message, FieldCode.INVALID_VALUE)]
        return []

    # Write: parents before children, so every parent has its pk when a child is saved.

    def write(self, records) -> None:
        self.moved: list[Account] = []
        super().write(records)
        if self.moved:
            Account.objects.bulk_update(self.moved, ["parent"])

    def update(self, rows, fields) -> None:
        if "parent" in fields:  # written after the inserts: a new parent has no pk yet
            self.moved = [row for row, changed in self.changed.values() if "parent" in changed]
            fields = [name for name in fields if name != "parent"]
        super().update(rows, fields)

    def insert(self, accounts) -> None:
        new, waves = {id(account) for account in accounts}, defaultdict(list)
        for account in accounts:
            depth, parent = 0, account.parent
            while parent is not None and id(parent) in new:
                depth, parent = depth + 1, parent.parent
            waves[depth].append(account)
        for depth in sorted(waves):
            self.model.objects.bulk_create(waves[depth])  # the next wave needs their pks

    def find_conflicts(self, records) -> bool:
        found = super().find_conflicts(records)
        # A record whose new parent lost its code to another batch cannot be written either.
        while orphans := [record for record in records if record.ok and self.orphaned(record)]:
            for record in orphans:
                message = "Parent account could not be created."
                record.fail(ErrorCode.REFERENCE_ERROR, message, field="parentId")
                self.unstage(record.target)
            found = True
        return found

    def orphaned(self, record) -> bool:
        parent = record.target.parent
        return (
            parent is not None
            and id(parent) not in self.created
            and parent.pk not in self.stored_types
        )


HANDLERS = [AccountHandler]
