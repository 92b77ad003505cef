"""Core: companies (tenants), their members and API keys, and the pieces every business
model shares — prefixed public ids, money fields, tenant scoping and gap-free numbers."""

import base64
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.deconstruct import deconstructible


@deconstructible
class PublicIdGenerator:
    """Makes opaque prefixed ids (`cust_k3v9…`) in Python, so bulk_create gets them too."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self) -> str:
        token = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        return f"{self.prefix}_{token}"

    def __eq__(self, other):
        return isinstance(other, PublicIdGenerator) and other.prefix == self.prefix

    def __hash__(self):
        return hash(self.prefix)


class PublicIdField(models.CharField):
    def __init__(self, prefix: str | None = None, **kwargs):
        if prefix is not None:
            kwargs["default"] = PublicIdGenerator(prefix)
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
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
