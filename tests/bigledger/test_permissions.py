"""What a key may read follows its user's permissions: the model's view permission for each
list and detail, accounts and journal entries for the trial balance, BatchJob's for jobs and
metrics, and manage_webhooks for webhook endpoints. Without one the answer is 403."""

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from batch.models import WebhookEndpoint
from bigledger.models import Membership
from bigledger.tenancy import issue_api_key
from tests import builders
from tests.helpers import listed_ids

pytestmark = pytest.mark.django_db

_members = itertools.count(1)

READ_ROUTES = [
    ("customers", "ledger.view_customer"),
    ("suppliers", "ledger.view_supplier"),
    ("accounts", "ledger.view_account"),
    ("tax-codes", "ledger.view_taxcode"),
    ("journal-entries", "ledger.view_journalentry"),
    ("invoices", "ledger.view_invoice"),
    ("bills", "ledger.view_bill"),
    ("payments", "ledger.view_payment"),
    ("items", "inventory.view_item"),
    ("locations", "inventory.view_location"),
    ("stock-adjustments", "inventory.view_stockadjustment"),
]
TRIAL_BALANCE = "/v1/reports/trial-balance"
HOOK = {"url": "http://127.0.0.1:9/bigledger"}


def member(company, *permissions: str) -> APIClient:
    """A client for a new member of `company` holding only `permissions` (app.codename)."""
    user = get_user_model().objects.create_user(
        username=f"member-{next(_members)}", password="pw-test-123"
    )
    Membership.objects.create(user=user, company=company)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    _, raw_key = issue_api_key(company=company, user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def assert_denied(response, permission: str) -> None:
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "PERMISSION_ERROR"
    assert permission in error["message"]


@pytest.mark.parametrize(("resource", "permission"), READ_ROUTES)
def test_a_member_without_the_view_permission_reads_no_list_and_no_detail(
    company, resource, permission
):
    client = member(company)

    assert_denied(client.get(f"/v1/{resource}"), permission)
    assert_denied(client.get(f"/v1/{resource}/any_id"), permission)


def test_the_view_permission_of_a_model_reads_that_model_only(company):
    customer = builders.customer(company)
    client = member(company, "ledger.view_customer")

    listing = client.get("/v1/customers")
    detail = client.get(f"/v1/customers/{customer.public_id}")

    assert listed_ids(listing) == [customer.public_id]
    assert detail.json()["data"]["id"] == customer.public_id
    assert_denied(client.get("/v1/suppliers"), "ledger.view_supplier")


def test_the_trial_balance_needs_accounts_and_journal_entries(company):
    builders.journal(company, "6000", "1620", "100.00")

    assert_denied(member(company).get(TRIAL_BALANCE), "ledger.view_account")
    assert_denied(
        member(company, "ledger.view_account").get(TRIAL_BALANCE), "ledger.view_journalentry"
    )
    report = member(company, "ledger.view_account", "ledger.view_journalentry").get(TRIAL_BALANCE)
    assert report.status_code == 200
    assert report.json()["data"]["totalDebit"] == 100


def test_webhooks_need_manage_webhooks(company, settings):
    settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS = True  # the URL is this machine's
    endpoint = WebhookEndpoint.objects.create(company=company, url=HOOK["url"], secret="s")
    reader = member(company, "batch.view_webhookendpoint", "batch.add_webhookendpoint")

    registered = reader.post("/v1/webhooks", HOOK, format="json")

    assert_denied(registered, "batch.manage_webhooks")
    assert WebhookEndpoint.objects.for_company(company).count() == 1
    for path in ("/v1/webhooks", f"/v1/webhooks/{endpoint.public_id}/deliveries"):
        assert_denied(reader.get(path), "batch.manage_webhooks")
    assert_denied(reader.delete(f"/v1/webhooks/{endpoint.public_id}"), "batch.manage_webhooks")
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_manage_webhooks_registers_lists_and_deletes(company, settings):
    settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS = True  # the URL is this machine's
    client = member(company, "batch.manage_webhooks")

    registered = client.post(
        "/v1/webhooks", {"events": ["batch.job.failed"], **HOOK}, format="json"
    )
    listing = client.get("/v1/webhooks")
    deleted = client.delete(f"/v1/webhooks/{registered.json()['data']['id']}")

    assert registered.status_code == 201, registered.content
    assert [row["url"] for row in listing.json()["data"]] == [HOOK["url"]]
    assert deleted.status_code == 204


def test_jobs_and_metrics_need_the_batchjob_view_permission(company, api):
    job_id = api.post(
        "/v1/batch/customers",
        {"operations": [{"operation": "create", "data": {"name": "Acme"}}]},
        format="json",
    ).json()["data"]["batchId"]
    denied, allowed = member(company), member(company, "batch.view_batchjob")

    for path in (
        "/v1/batch/jobs",
        f"/v1/batch/jobs/{job_id}",
        f"/v1/batch/jobs/{job_id}/results",
        "/v1/batch/metrics",
    ):
        assert_denied(denied.get(path), "batch.view_batchjob")
        assert allowed.get(path).status_code == 200, path
    assert_denied(denied.post(f"/v1/batch/jobs/{job_id}/retry"), "batch.view_batchjob")


def test_a_request_without_a_key_is_still_401(client):
    response = client.get("/v1/customers")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_users_permissions_are_djangos_own_and_their_groups(company):
    """bigledger.auth.ModelBackend reads them in one statement; Django's ModelBackend is
    the reference, for a user with permissions of their own, through two groups (one
    permission in both), with none, inactive, and a superuser."""
    from django.contrib.auth.backends import ModelBackend as DjangoBackend
    from django.contrib.auth.models import Group

    from bigledger.auth import ModelBackend

    def perm(name: str) -> Permission:
        app_label, codename = name.split(".")
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)

    clerks, auditors = Group.objects.create(name="clerks"), Group.objects.create(name="auditors")
    clerks.permissions.add(perm("ledger.add_invoice"), perm("ledger.view_customer"))
    auditors.permissions.add(perm("ledger.view_customer"), perm("batch.view_batchjob"))
    users = {
        name: get_user_model().objects.create_user(username=f"perm-{name}", password="pw-12345")
        for name in ("both", "groups only", "none", "inactive", "superuser")
    }
    users["both"].user_permissions.add(perm("ledger.add_customer"), perm("ledger.add_invoice"))
    users["both"].groups.add(clerks)
    users["groups only"].groups.add(clerks, auditors)
    users["inactive"].user_permissions.add(perm("ledger.add_customer"))
    get_user_model().objects.filter(pk=users["inactive"].pk).update(is_active=False)
    get_user_model().objects.filter(pk=users["superuser"].pk).update(is_superuser=True)

    for name, user in users.items():
        ours = ModelBackend().get_all_permissions(get_user_model().objects.get(pk=user.pk))
        theirs = DjangoBackend().get_all_permissions(get_user_model().objects.get(pk=user.pk))
        assert ours == theirs, name
    assert ModelBackend().get_all_permissions(users["groups only"]) == {
        "ledger.add_invoice",
        "ledger.view_customer",
        "batch.view_batchjob",
    }
    assert ModelBackend().has_perm(users["both"], "ledger.add_customer")
    assert not ModelBackend().has_perm(users["none"], "ledger.add_customer")
