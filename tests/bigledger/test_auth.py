import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bigledger.models import ApiKey, hash_api_key

pytestmark = pytest.mark.django_db


def test_request_without_a_key_is_401_in_the_api_error_envelope():
    response = APIClient().get("/v1/customers")

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_request_with_an_unknown_key_is_401(credentials):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer blk_not-a-real-key")

    assert client.get("/v1/customers").status_code == 401


def test_request_with_another_scheme_is_401(credentials):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {credentials.api_key}")

    assert client.get("/v1/customers").status_code == 401


def test_a_valid_key_authenticates(api):
    assert api.get("/v1/customers").status_code == 200


def test_a_revoked_key_is_401(api, credentials):
    ApiKey.objects.filter(key_hash=hash_api_key(credentials.api_key)).update(
        revoked_at=timezone.now()
    )

    assert api.get("/v1/customers").status_code == 401


def test_keys_are_stored_only_as_a_hash(credentials):
    stored = ApiKey.objects.get(company=credentials.company)

    assert credentials.api_key not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.key_hash == hash_api_key(credentials.api_key)
    assert not ApiKey.objects.filter(key_hash=credentials.api_key).exists()
