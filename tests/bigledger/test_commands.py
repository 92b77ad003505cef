import hashlib
import hmac
import json
import stat
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from bigledger.models import Company

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    """A fresh BIGLEDGER_VAR_DIR per test, where seed_demo keeps its credentials."""
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


def run(*args) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_is_idempotent_and_its_key_works():
    first = run("seed_demo")
    second = run("seed_demo")

    assert first == second
    assert set(first) == {"companyId", "apiKey", "username", "password"}
    assert Company.objects.filter(name="Demo Sdn Bhd").count() == 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first['apiKey']}")
    assert client.get("/v1/tax-codes").status_code == 200
    assert client.login(username=first["username"], password=first["password"])


def test_seed_demo_credentials_are_random_not_derived_from_the_secret_key(settings, var_dir):
    first = run("seed_demo")
    settings.VAR_DIR = var_dir.parent / "another-var"
    second = run("seed_demo")

    assert first["apiKey"] != second["apiKey"] and first["password"] != second["password"]
    for credential, purpose in (("apiKey", "demo-api-key"), ("password", "demo-password")):
        derived = hmac.new(settings.SECRET_KEY.encode(), purpose.encode(), hashlib.sha256)
        assert derived.hexdigest()[:12] not in first[credential] + second[credential]
    kept = var_dir / "demo-credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text())["apiKey"] == first["apiKey"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first['apiKey']}")
    assert client.get("/v1/tax-codes").status_code == 401  # only the printed key works
    assert not client.login(username="demo", password=first["password"])


def test_create_company_gives_each_company_its_own_user_and_key():
    one = run("create_company", "Kedai Satu")
    two = run("create_company", "Kedai Satu")

    assert one["companyId"] != two["companyId"]
    assert one["username"] != two["username"]
    assert one["apiKey"] != two["apiKey"]
