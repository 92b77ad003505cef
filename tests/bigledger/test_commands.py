import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from bigledger.models import Company

pytestmark = pytest.mark.django_db


def run(*args) -> dict:
    from io import StringIO

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


def test_create_company_gives_each_company_its_own_user_and_key():
    one = run("create_company", "Kedai Satu")
    two = run("create_company", "Kedai Satu")

    assert one["companyId"] != two["companyId"]
    assert one["username"] != two["username"]
    assert one["apiKey"] != two["apiKey"]
