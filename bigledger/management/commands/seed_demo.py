import hashlib
import hmac
import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from bigledger.models import Company, Membership
from bigledger.tenancy import (
    CompanyCredentials,
    grant_business_permissions,
    issue_api_key,
    setup_company_defaults,
)

DEMO_COMPANY = "Demo Sdn Bhd"
DEMO_USERNAME = "demo"


def _derived_secret(purpose: str) -> str:
    """A stable secret per installation, so running seed_demo again prints the same key."""
    digest = hmac.new(settings.SECRET_KEY.encode(), purpose.encode(), hashlib.sha256)
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Create (or refresh) the demo company, its staff user and API key. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the credentials as JSON.")

    @transaction.atomic
    def handle(self, *args, **options):
        company = Company.objects.filter(name=DEMO_COMPANY).order_by("id").first()
        if company is None:
            company = Company.objects.create(name=DEMO_COMPANY)
        setup_company_defaults(company=company)
        password = "demo-" + _derived_secret("demo-password")[:12]
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = True
        user.set_password(password)
        user.save()
        Membership.objects.update_or_create(user=user, defaults={"company": company})
        grant_business_permissions(user)
        raw_key = "blk_demo_" + _derived_secret("demo-api-key")[:40]
        issue_api_key(company=company, user=user, name="demo", raw_key=raw_key)
        credentials = CompanyCredentials(company, DEMO_USERNAME, password, raw_key)
        print_credentials(self.stdout, credentials, as_json=options["json"])


def print_credentials(stdout, credentials: CompanyCredentials, *, as_json: bool) -> None:
    if as_json:
        stdout.write(json.dumps(credentials.as_json()))
        return
    for key, value in credentials.as_json().items():
        stdout.write(f"{key}: {value}")
