import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.text import slugify

from bigledger.tenancy import create_company

from .seed_demo import print_credentials


class Command(BaseCommand):
    help = "Create a company with its default chart of accounts, a staff user and an API key."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--json", action="store_true", help="Print the credentials as JSON.")

    def handle(self, *args, name, **options):
        credentials = create_company(
            name=name, username=self._free_username(name), password=secrets.token_urlsafe(12)
        )
        print_credentials(self.stdout, credentials, as_json=options["json"])

    @staticmethod
    def _free_username(name: str) -> str:
        base = slugify(name)[:100] or "company"
        users = get_user_model().objects
        username, suffix = base, 1
        while users.filter(username=username).exists():
            suffix += 1
            username = f"{base}-{suffix}"
        return username
