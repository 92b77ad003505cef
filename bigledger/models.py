"""Core: companies (tenants), their members and API keys, and the pieces every business
model shares — prefixed public ids, money fields, tenant scoping and gap-free numbers."""

import hashlib
import secrets

from django.conf import settings
from django.db import migrations, models
from django.db.models.signals import post_delete
from django.utils import timezone
from django.utils.deconstruct import deconstructible

TOKEN_LETTERS = 16  # of base32's lower-case alphabet: 80 random bits an id
# Each byte value to one of 32 letters, every letter from 8 of the 256 values: a uniform
# random byte gives a uniform letter (5 bits), translated in C rather than base64.b32encode's
# Python loop.
_LETTER_OF_BYTE = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[byte % 32] for byte in range(256))


def _random_letters(count: int) -> str:
    return secrets.token_bytes(count).translate(_LETTER_OF_BYTE).decode("ascii")


@deconstructible
class PublicIdGenerator:
    """Makes opaque prefixed ids (`cust_k3v9…`) in Python, so bulk_create gets them too."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self) -> str:
        return f"{self.prefix}_{_random_letters(TOKEN_LETTERS)}"

    def batch(self, count: int) -> list[str]:
        """`count` ids from one draw of random bytes, TOKEN_LETTERS letters each."""
        letters = _random_letters(TOKEN_LETTERS * count)
        return [
            f"{self.prefix}_{letters[start : start + TOKEN_LETTERS]}"
            for start in range(0, TOKEN_LETTERS * count, TOKEN_LETTERS)
        ]

    def __eq__(self, other):
        return isinstance(other, PublicIdGenerator) and other.prefix == self.prefix

    def __hash__(self):
        return hash(self.prefix)


class PublicIdField(models.CharField):
    """A record's public id: unique, made in Python (PublicIdGenerator), never edited.

    On PostgreSQL its type is spelled `character varying(n)` — the same type as `varchar(n)` —
    because Django's schema editor gives a unique `varchar` column a second,
    `varchar_pattern_ops` index for LIKE look-ups, and skips it for any other spelling.
    Nothing looks public ids up by pattern (the admin's search, `icontains`, cannot use such
    an index), and that index cost every insert: COPY of 100,000 customers took 1.25 s with
    it and 1.05 s without (docs/architecture.md). drop_public_id_like_indexes removes those
    an older release made."""

    def __init__(self, prefix: str | None = None, **kwargs):
        if prefix is not None:
            kwargs["default"] = PublicIdGenerator(prefix)
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        super().__init__(**kwargs)

    def db_type(self, connection) -> str | None:
        if connection.vendor == "postgresql":
            return f"character varying({self.max_length})"
        return super().db_type(connection)


def drop_public_id_like_indexes(app_label: str) -> migrations.RunPython:
    """A migration operation dropping the `_like` index of every public id of the app's
    models (PublicIdField), where PostgreSQL has one; undone by nothing (it was redundant)."""

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for model in apps.get_app_config(app_label).get_models():
            field = next((f for f in model._meta.local_fields if f.name == "public_id"), None)
            if field is None:
                continue
            name = schema_editor._create_index_name(
                model._meta.db_table, [field.column], suffix="_like"
            )
            schema_editor.execute(schema_editor._delete_index_sql(model, name))

    return migrations.RunPython(drop, migrations.RunPython.noop, elidable=True)


class ExternalIdField(models.CharField):
    """The record's id in the system it came from: optional (NULL when absent), up to 255
    characters, unique per company and entity, case-sensitive (`SyncedModel.sync_constraints`).
    Batches create, update, upsert, delete and refer to records by it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(**kwargs)


class MoneyField(models.DecimalField):
    """Decimal(18, 2): money is never a float."""

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = 18
        kwargs["decimal_places"] = 2
        kwargs.setdefault("default", 0)
        super().__init__(*args, **kwargs)


class Company(models.Model):
    public_id = PublicIdField("co")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, default="MY")
    base_currency = models.CharField(max_length=3, default="MYR")
    allow_future_dates = models.BooleanField(
        default=False, help_text="Accept documents dated after today."
    )
    allow_negative_stock = models.BooleanField(
        default=False, help_text="Let invoices sell more than is on hand."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantQuerySet(models.QuerySet):
    def for_company(self, company: Company) -> "TenantQuerySet":
        return self.filter(company=company)


class TenantModel(models.Model):
    """A business row: it belongs to one company and is only ever read through it."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class SyncedModel(TenantModel):
    """A record other systems keep in step with: it carries their id (`external_id`), its
    last change (`updated_at`, the change feed's order with the id) and leaves a Tombstone
    when deleted, so a sync learns of deletions too."""

    # No index of its own: every synced table's unique keys and change-feed index start
    # with company_id and serve its look-ups and cascades. One of a customer's eight
    # indexes, it was only ever written.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_index=False)
    external_id = ExternalIdField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Per model, not for every sender: a model with delete receivers loses Django's
        # fast delete, and document lines are deleted by the thousand.
        post_delete.connect(_bury_deleted, sender=cls, dispatch_uid=f"tombstone:{cls.__qualname__}")

    @classmethod
    def sync_constraints(cls, label: str) -> list:
        """The external id is unique per company (NULLs never clash)."""
        return [
            models.UniqueConstraint(
                fields=["company", "external_id"], name=f"{label}_unique_external_id"
            )
        ]

    @classmethod
    def sync_indexes(cls, label: str) -> list:
        """The change feed reads (updated_at, id) in order, per company."""
        return [models.Index(fields=["company", "updated_at", "id"], name=f"{label}_changes")]


class Tombstone(models.Model):
    """A deleted record's ids, kept so the change feed can say it is gone
    (GET /v1/{entity}/deleted). `model` is the deleted row's model label ("ledger.customer")."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=60)
    public_id = models.CharField(max_length=40)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    deleted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["company", "model", "deleted_at", "id"], name="tombstone_feed"),
            models.Index(fields=["company", "model", "external_id"], name="tombstone_external"),
            models.Index(fields=["company", "model", "public_id"], name="tombstone_public"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.public_id} deleted {self.deleted_at:%Y-%m-%d %H:%M}"

    @classmethod
    def bury(cls, rows) -> None:
        """Record the deletion of `rows` (SyncedModel instances of one company), in one
        INSERT. Batches delete with one raw DELETE and call this; any other delete goes
        through Django and the post_delete receiver below."""
        now = timezone.now()
        cls.objects.bulk_create(
            cls(
                company_id=row.company_id,
                model=row._meta.label_lower,
                public_id=row.public_id,
                external_id=row.external_id,
                deleted_at=now,
            )
            for row in rows
        )


def _bury_deleted(sender, instance, **kwargs) -> None:
    Tombstone.bury([instance])


class Membership(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} @ {self.company}"


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is safe; a slow KDF would cost every request.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    KEY_PREFIX = "blk_"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @classmethod
    def generate_raw_key(cls) -> str:
        return cls.KEY_PREFIX + secrets.token_urlsafe(32)


class NumberSequence(models.Model):
    """The last human number issued per company and kind. Incremented inside the caller's
    transaction under a row lock, so a rollback returns the numbers: no gaps."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=16)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "key"], name="numbersequence_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.last_value}"
