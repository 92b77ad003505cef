"""The demo company for `make run`: created or refreshed, its credentials printed each time.

The password and API key are random, made on the first run and kept in
$BIGLEDGER_VAR_DIR/demo-credentials.json, readable by its owner only (mode 0600): the
database keeps only the key's hash, so printing the same key again needs the raw key kept
somewhere, and nothing public (such as the default SECRET_KEY) may derive it. Deleting the
file issues new credentials on the next run and revokes the old key."""

import json
import os
import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from bigledger.models import ApiKey, Company, Membership, hash_api_key
from bigledger.tenancy import (
    CompanyCredentials,
    grant_business_permissions,
    issue_api_key,
    setup_company_defaults,
)

DEMO_COMPANY = "Demo Sdn Bhd"
DEMO_USERNAME = "demo"
DEMO_KEY_NAME = "demo"
CREDENTIALS_FILE = "demo-credentials.json"


class Command(BaseCommand):
    help = "Create (or refresh) the demo company, its staff user and API key. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the credentials as JSON.")

    @transaction.atomic
    def handle(self, *args, **options):
        password, raw_key = demo_secrets(Path(settings.VAR_DIR) / CREDENTIALS_FILE)
        company = Company.objects.filter(name=DEMO_COMPANY).order_by("id").first()
        if company is None:
            company = Company.objects.create(name=DEMO_COMPANY)
        setup_company_defaults(company=company)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = True
        user.set_password(password)
        user.save()
        Membership.objects.update_or_create(user=user, defaults={"company": company})
        grant_business_permissions(user)
        issue_api_key(company=company, user=user, name=DEMO_KEY_NAME, raw_key=raw_key)
        revoke_other_demo_keys(user=user, raw_key=raw_key)
        credentials = CompanyCredentials(company, DEMO_USERNAME, password, raw_key)
        print_credentials(self.stdout, credentials, as_json=options["json"])


def demo_secrets(path: Path) -> tuple[str, str]:
    """The demo's password and raw API key: read from `path`, or made at random and written
    there first (owner-only, created whole: a second run racing this one reads the winner's)."""
    if not path.exists():
        made = {
            "password": "demo-" + secrets.token_urlsafe(12),
            "apiKey": ApiKey.generate_raw_key(),
        }
        _create_private_file(path, json.dumps(made))
    try:
        stored = json.loads(path.read_text())
        return stored["password"], stored["apiKey"]
    except (ValueError, KeyError, TypeError) as error:
        raise CommandError(
            f"{path} does not hold the demo credentials; delete it to issue new ones."
        ) from error


def _create_private_file(path: Path, text: str) -> None:
    """Write `text` to a new file at `path` with mode 0600, unless one appeared meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".demo-")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.link(temporary, path)  # atomic, and refuses to replace an existing file
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def revoke_other_demo_keys(*, user, raw_key: str) -> None:
    """Only the printed key works: earlier demo keys (made before the credentials file, or
    before it was deleted) are revoked."""
    ApiKey.objects.filter(user=user, name=DEMO_KEY_NAME, revoked_at__isnull=True).exclude(
        key_hash=hash_api_key(raw_key)
    ).update(revoked_at=timezone.now())


def print_credentials(stdout, credentials: CompanyCredentials, *, as_json: bool) -> None:
    if as_json:
        stdout.write(json.dumps(credentials.as_json()))
        return
    for key, value in credentials.as_json().items():
        stdout.write(f"{key}: {value}")
