"""A migration of several entities retried (POST /v1/batch/jobs/{id}/retry): what did not go
in runs again as a new job, corrected where the caller says, its "$ref:"s to what did go in
naming those records by id — nothing made twice — and its groups still whole."""

import pytest
import simplejson

from batch.models import BatchJob, JobKind
from ledger.models import Account, Customer, Invoice
from tests.batch.engine.test_composite import TODAY, by_reference, customer, invoice, op
from tests.batch.engine.test_composite import post_composite as post_sync
from tests.batch.jobs.test_composite_jobs import post_composite as post_async
from tests.books import assert_books_sound
from tests.helpers import admin_url, finished, staff_user

pytestmark = pytest.mark.django_db(transaction=True)


def invoice_data(customer_ref: str, date: str = TODAY) -> dict:
    line = {"quantity": 1, "unitPrice": "100.00", "taxCode": "SST", "description": "Work"}
    return {"customerId": f"$ref:{customer_ref}", "invoiceDate": date, "items": [line]}


def retry(api, batch_id: str, body: dict):
    return api.post(
        f"/v1/batch/jobs/{batch_id}/retry", simplejson.dumps(body), content_type="application/json"
    )


def first_migration(api, run_async: bool = False) -> dict:
    """Five of six go in badly: c1's email and i0's date are wrong; i1 needs c1; i2's date
    is wrong, which takes its group's customer c2 back out. As a sync batch, or a job."""
    operations = [
        customer("c0", name="Good Customer"),
        customer("c1", name="Bad Email", email="not-an-email"),
        op("invoices", "i0", invoice_data("c0", date="2024-13-45")),
        invoice("i1", "c1"),
        op("customers", "c2", {"name": "Grouped"}, group="g"),
        op("invoices", "i2", invoice_data("c2", date="someday"), group="g"),
    ]
    if run_async:
        job_id = post_async(api, operations)["data"]["jobId"]
        finished(api, job_id)
        answer = {"data": {"batchId": job_id, "results": all_results(api, job_id)}}
    else:
        answer = post_sync(api, operations)
    statuses = {ref: result["status"] for ref, result in by_reference(answer).items()}
    assert statuses == {
        "c0": "created",
        "c1": "failed",
        "i0": "failed",
        "i1": "skipped",
        "c2": "rolled_back",
        "i2": "failed",
    }
    return answer["data"]


@pytest.mark.parametrize("run_async", [False, True], ids=["batch", "job"])
def test_a_corrected_retry_puts_the_rest_in_naming_what_went_in_by_id(
    api, company, celery_worker, run_async
):
    first = first_migration(api, run_async)
    assert by_reference({"data": first})["c2"]["group"] == "g"  # results name the group

    answer = retry(
        api,
        first["batchId"],
        {
            "corrections": {
                "c1": {"name": "Bad Email", "email": "fixed@example.com"},
                "i0": invoice_data("c0"),
                "i2": invoice_data("c2"),
            }
        },
    )

    assert answer.status_code == 202, answer.content
    job_id = answer.json()["data"]["jobId"]
    done = finished(api, job_id)
    assert (done["status"], done["retryOf"]) == ("completed", first["batchId"])
    assert done["progress"]["successfulRecords"] == 5
    customers = Customer.objects.for_company(company)
    assert sorted(customers.values_list("name", flat=True)) == [
        "Bad Email",
        "Good Customer",
        "Grouped",
    ]  # c0 is not made again: i0 names it by id
    invoices = {invoice.customer.name: invoice for invoice in Invoice.objects.for_company(company)}
    assert sorted(invoices) == ["Bad Email", "Good Customer", "Grouped"]
    retried = BatchJob.objects.get(public_id=job_id)
    assert (retried.kind, retried.entity) == (JobKind.RETRY, "batch")
    groups = {r["referenceId"]: r.get("group") for r in all_results(api, job_id)}
    assert groups == {"c1": None, "i0": None, "i1": None, "c2": "g", "i2": "g"}
    assert_books_sound(company)


def test_once_what_stopped_them_is_mended_a_plain_retry_finds_the_customers_made_before(
    api, company, celery_worker
):
    receivables = Account.objects.filter(company=company, role="receivables")
    role = receivables.get()
    receivables.update(role=None)  # invoices cannot be posted: a system error, not their data
    first = post_sync(
        api, [customer("c0", name="Acme"), customer("c1", name="Beta"), *invoices("c0", "c1")]
    )["data"]
    assert [r["status"] for r in first["results"]] == ["created", "created", "failed", "failed"]
    Account.objects.filter(pk=role.pk).update(role="receivables")

    answer = retry(api, first["batchId"], {})

    assert answer.status_code == 202, answer.content
    done = finished(api, answer.json()["data"]["jobId"])
    assert (done["status"], done["progress"]["successfulRecords"]) == ("completed", 2)
    assert Customer.objects.for_company(company).count() == 2
    owners = Invoice.objects.for_company(company).values_list("customer__name", flat=True)
    assert sorted(owners) == ["Acme", "Beta"]
    assert_books_sound(company)


def invoices(*customer_refs: str) -> list[dict]:
    return [invoice(f"i-{ref}", ref) for ref in customer_refs]


def test_a_retry_that_would_fail_again_is_refused_and_a_second_names_the_first(api, celery_worker):
    first = first_migration(api)

    as_it_was = retry(api, first["batchId"], {})
    unknown = retry(api, first["batchId"], {"corrections": {"c0": {"name": "X"}}})
    corrected = retry(api, first["batchId"], {"corrections": {"c1": {"name": "Bad Email"}}})
    again = retry(api, first["batchId"], {"corrections": {"c1": {"name": "Bad Email"}}})

    assert as_it_was.status_code == 409  # data errors only: the same data fails again
    assert as_it_was.json()["error"]["details"] == [{"jobId": first["batchId"], "retryable": False}]
    assert unknown.status_code == 400  # c0 went in: there is nothing of it to correct
    assert "No failed record has referenceId c0" in unknown.json()["error"]["message"]
    assert corrected.status_code == 202
    assert again.status_code == 409
    assert corrected.json()["data"]["jobId"] in again.json()["error"]["message"]
    finished(api, corrected.json()["data"]["jobId"])  # not running as the tables are emptied


def all_results(api, job_id: str) -> list[dict]:
    response = api.get(f"/v1/batch/jobs/{job_id}/results", {"pageSize": 1000})
    assert response.status_code == 200, response.content
    return response.json()["data"]["results"]


def test_the_admin_says_how_to_go_on_with_a_migration_that_would_fail_again(
    api, client, credentials
):
    first = first_migration(api)
    job = BatchJob.objects.get(public_id=first["batchId"])
    client.force_login(staff_user(credentials))

    page = client.get(admin_url(BatchJob, "change", job.pk)).content.decode()
    refused = client.get(admin_url(BatchJob, "retry", job.pk), follow=True).content.decode()

    assert 'id="retry-job"' not in page
    assert "Download the failed rows (Excel), correct them and import the workbook." in refused
    assert not job.retries.exists()


def test_a_migration_that_only_validated_wrote_nothing_to_retry(api):
    operations = [customer("c0"), customer("c1", email="not-an-email"), invoice("i0", "c0")]
    checked = post_sync(api, operations, validateOnly=True)["data"]
    assert [r["status"] for r in checked["results"]] == ["validated", "failed", "validated"]

    answer = retry(api, checked["batchId"], {"corrections": {"c1": {"name": "Acme"}}})

    assert answer.status_code == 409
    assert "only validated its records" in answer.json()["error"]["message"]
