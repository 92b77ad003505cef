import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import override_settings
from rest_framework.test import APIClient

from tests.helpers import api_client_for, make_company
from tests.workers import Worker, flush_broker


@pytest.fixture(autouse=True, scope="session")
def _require_postgresql(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        assert connection.vendor == "postgresql", (
            "The suite runs on PostgreSQL: run `make test`, or set DATABASE_URL."
        )


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Nearly every test makes a company, and so a user with a password: PBKDF2's million
    rounds cost half a second each on a slow CPU, a third of the suite's time. Tests hash
    with MD5 (what Django's own test suite does); production keeps PBKDF2."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def credentials(db):
    return make_company("Alpha Sdn Bhd")


@pytest.fixture
def company(credentials):
    return credentials.company


@pytest.fixture
def api(credentials) -> APIClient:
    return api_client_for(credentials)


@pytest.fixture
def other_credentials(db):
    return make_company("Beta Sdn Bhd")


@pytest.fixture
def other_company(other_credentials):
    return other_credentials.company


@pytest.fixture
def other_api(other_credentials) -> APIClient:
    return api_client_for(other_credentials)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-test-123")


@pytest.fixture(scope="session")
def _workers(django_db_setup, django_db_blocker):
    flush_broker()
    running: dict = {}
    yield running
    for worker in running.values():
        worker.stop()


@pytest.fixture
def celery_worker(_workers, transactional_db):
    """A real Celery worker (with beat, for the sweeper) on Redis, sharing the test
    database; tests using it must commit, so they get transactional_db."""
    worker = _workers.get("main")
    if worker is None or worker.process.poll() is not None:
        worker = _workers["main"] = Worker("main").start()
    return worker
