"""Creating a company and everything a new company starts with.

Entity apps register what a new company needs (a chart of accounts, tax codes, a warehouse)
by decorating a function with `register_company_setup` in their `defaults` module, which the
core's AppConfig finds at start-up (in app order); the core never imports them by name.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction

from .models import ApiKey, Company, Membership, hash_api_key

CompanySetup = Callable[[Company], None]
_company_setups: list[CompanySetup] = []


def register_company_setup(setup: CompanySetup) -> CompanySetup:
    if setup not in _company_setups:
        _company_setups.append(setup)
    return setup


def setup_company_defaults(*, company: Company) -> None:
    """Run every registered setup; each must be idempotent."""
    for setup in _company_setups:
        setup(company)


@dataclass(frozen=True)
class CompanyCredentials:
    company: Company
    username: str
    password: str
    api_key: str

    def as_json(self) -> dict[str, str]:
        return {
            "companyId": self.company.public_id,
            "apiKey": self.api_key,
            "username": self.username,
            "password": self.password,
        }


BUSINESS_APPS = ("ledger", "inventory", "batch")


def grant_business_permissions(user) -> None:
    """Members work with every business model — add, change, delete and view (the API's
    reads need view) — and hold the apps' own permissions, such as batch.manage_webhooks."""
    permissions = Permission.objects.filter(content_type__app_label__in=BUSINESS_APPS)
    user.user_permissions.add(*permissions)


def issue_api_key(*, company: Company, user, name: str = "default", raw_key: str | None = None):
    raw_key = raw_key or ApiKey.generate_raw_key()
    api_key, _ = ApiKey.objects.get_or_create(
        key_hash=hash_api_key(raw_key),
        defaults={"company": company, "user": user, "name": name, "prefix": raw_key[:12]},
    )
    return api_key, raw_key


@transaction.atomic
def create_company(*, name: str, username: str, password: str) -> CompanyCredentials:
    """A new company with its defaults, one staff member and an API key for that member."""
    company = Company.objects.create(name=name)
    setup_company_defaults(company=company)
    user = get_user_model().objects.create_user(username=username, password=password)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    Membership.objects.create(user=user, company=company)
    grant_business_permissions(user)
    _, raw_key = issue_api_key(company=company, user=user)
    return CompanyCredentials(
        company=company, username=username, password=password, api_key=raw_key
    )
