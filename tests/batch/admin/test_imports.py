"""The admin's import and export: a preview is a dry run through the batch engine, the
confirm the real run, a large file an async job; exports carry the API's columns and cannot
smuggle a formula into a spreadsheet."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from batch.admin.uploads import SESSION_KEY, upload_dir
from batch.files.columns import layout_for
from batch.models import BatchJob
from inventory import resources as inventory_resources
from inventory.models import Location
from ledger import resources as ledger_resources
from ledger.handlers.parties import CustomerHandler
from ledger.models import Customer, TaxCode
from tests import builders
from tests.helpers import admin_url, create, make_company, post_batch, staff_user

pytestmark = pytest.mark.django_db

CUSTOMERS_CSV = (
    "name,email,phone,address.city\n"
    "Acme Trading,acme@example.com,+60123456789,Kuala Lumpur\n"
    "Broken Sdn Bhd,not-an-email,,Penang\n"
    "Beta Supplies,beta@example.com,,Ipoh\n"
)


@pytest.fixture(autouse=True)
def _private_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def upload(text: str, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def preview(client, text: str = CUSTOMERS_CSV, model=Customer, **fields):
    response = client.post(admin_url(model, "import"), {"import_file": upload(text), **fields})
    assert response.status_code == 200, response.content[:2000]
    return response


def confirm(client, preview_response, model=Customer):
    token = preview_response.context["import_token"]
    return client.post(admin_url(model, "process_import"), {"import_token": token})


def test_preview_shows_the_bad_rows_error_against_its_spreadsheet_row_and_creates_nothing(
    client, credentials
):
    client.force_login(staff_user(credentials))

    response = preview(client)

    rows = {row.row_number: row for row in response.context["rows"]}
    assert [row.status for row in rows.values()] == ["validated", "failed", "validated"]
    bad = rows[3]
    assert bad.error["code"] == "VALIDATION_ERROR"
    assert bad.error["field"] == "email"
    assert bad.error["details"][0]["code"] == "INVALID_EMAIL"
    assert response.context["valid_count"] == 2
    assert response.context["error_count"] == 1
    page = response.text
    assert 'data-row="3"' in page
    assert "VALIDATION_ERROR" in page
    assert bad.error["message"] in page
    assert 'value="Confirm import"' in page
    assert Customer.objects.count() == 0
    assert response.context["preview_job"].options["validateOnly"] is True


def test_confirm_creates_the_valid_rows_numbered_from_cust_0001(client, credentials):
    client.force_login(staff_user(credentials))
    previewed = preview(client)

    response = confirm(client, previewed)

    assert response.status_code == 302
    assert response.url == admin_url(Customer, "changelist")
    created = Customer.objects.order_by("number")
    assert [(c.number, c.name, c.city) for c in created] == [
        ("CUST-0001", "Acme Trading", "Kuala Lumpur"),
        ("CUST-0002", "Beta Supplies", "Ipoh"),
    ]
    assert {c.company_id for c in created} == {credentials.company.pk}
    job = BatchJob.objects.filter(source="admin").latest("created_at")
    assert (job.created_count, job.failed_records, job.options["validateOnly"]) == (2, 1, False)
    page = client.get(response.url)
    assert "2 created" in page.text
    assert "1 row(s) were not imported" in page.text
    assert list(upload_dir().iterdir()) == []  # the stored upload is gone once confirmed
    again = client.post(
        admin_url(Customer, "process_import"), {"import_token": previewed.context["import_token"]}
    )
    assert again.status_code == 404
    assert Customer.objects.count() == 2


def test_a_duplicate_email_is_the_same_duplicate_error_in_the_admin_and_the_api(
    client, credentials, api
):
    builders.customer(credentials.company, email="taken@example.com")
    client.force_login(staff_user(credentials))

    response = preview(client, "name,email\nCopycat,TAKEN@example.com\n")
    api_result = post_batch(
        api,
        "customers",
        [create({"name": "Copycat", "email": "TAKEN@example.com"})],
        validateOnly=True,
    )["data"]["results"][0]

    [row] = response.context["rows"]
    assert row.error["code"] == api_result["error"]["code"] == "DUPLICATE_ERROR"
    assert row.error["field"] == api_result["error"]["field"] == "email"
    assert row.error["message"] == api_result["error"]["message"]
    assert row.row_number == 2


def test_a_company_member_imports_into_their_own_company_only(client, credentials):
    beta = make_company("Beta Sdn Bhd")
    builders.customer(beta.company, name="Beta's Own", email="acme@example.com")
    client.force_login(staff_user(credentials))

    form = client.get(admin_url(Customer, "import"))
    previewed = preview(client, company=beta.company.pk)  # a posted company is not a field
    confirm(client, previewed)

    assert "company" not in form.context["form"].fields
    ours = Customer.objects.filter(company=credentials.company)
    assert sorted(ours.values_list("name", flat=True)) == ["Acme Trading", "Beta Supplies"]
    assert list(Customer.objects.filter(company=beta.company).values_list("name", flat=True)) == [
        "Beta's Own"
    ]  # another company's email does not make ours a duplicate


def test_an_upload_is_confirmed_only_by_the_session_that_made_it(client, credentials):
    beta = make_company("Beta Sdn Bhd")
    client.force_login(staff_user(credentials))
    previewed = preview(client)
    token = previewed.context["import_token"]
    client.logout()
    client.force_login(staff_user(beta))

    response = client.post(admin_url(Customer, "process_import"), {"import_token": token})

    assert response.status_code == 404
    assert Customer.objects.count() == 0
    assert SESSION_KEY not in client.session or token not in client.session[SESSION_KEY]


def test_a_superuser_chooses_the_company_to_import_into(client, superuser, credentials):
    client.force_login(superuser)

    previewed = preview(client, company=credentials.company.pk)
    confirm(client, previewed)

    assert Customer.objects.filter(company=credentials.company).count() == 2


def test_an_unreadable_file_is_a_form_error_naming_the_problem(client, credentials):
    client.force_login(staff_user(credentials))

    response = preview(client, "name,favouriteColour\nAcme,blue\n")

    assert response.context["form"].errors["import_file"]
    assert "favouriteColour" in response.text
    assert list(upload_dir().iterdir()) == []


def test_a_file_over_one_batch_is_an_async_job_followed_on_a_progress_page(
    client, credentials, monkeypatch
):
    monkeypatch.setattr(CustomerHandler, "max_records", 2)
    client.force_login(staff_user(credentials))

    response = client.post(admin_url(Customer, "import"), {"import_file": upload(CUSTOMERS_CSV)})

    job = BatchJob.objects.get(mode="async")
    assert response.status_code == 302
    assert response.url == reverse("admin:batch_batchjob_progress", args=[job.pk])
    assert (job.entity, job.source, job.total_records, job.status) == (
        "customers",
        "admin",
        3,
        "queued",
    )
    assert job.chunks.count() == 2
    progress = client.get(response.url)
    assert progress.status_code == 200
    assert 'id="job-percent">0.0<' in progress.text
    status = client.get(reverse("admin:batch_batchjob_status", args=[job.pk])).json()
    assert status["progress"]["percentComplete"] == 0.0
    assert Customer.objects.count() == 0


def test_a_template_downloads_from_the_import_page(client, credentials):
    client.force_login(staff_user(credentials))

    response = client.get(reverse("admin:ledger_customer_import_template", args=["csv"]))

    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert response.status_code == 200
    assert header[:3] == ["operation", "id", "customerNumber"]


# Export ------------------------------------------------------------------------------------


def export_customers(client) -> list[list[str]]:
    fields = {
        f"customerresource_{name}": "on"
        for name in ledger_resources.CustomerResource().get_export_order()
    }
    response = client.post(
        admin_url(Customer, "export"), {"format": "0", "resource": "0", **fields}
    )
    assert response.status_code == 200, response.content[:2000]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def test_export_has_the_api_headers_and_neutralises_a_formula(client, credentials):
    builders.customer(
        credentials.company, name='=HYPERLINK("http://evil.example","x")', email="a@example.com"
    )
    builders.customer(make_company().company, name="Someone Else's")
    client.force_login(staff_user(credentials))

    header, *rows = export_customers(client)

    assert header == [column.name for column in layout_for(CustomerHandler).template_columns]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["operation"] == "update"
    assert row["customerNumber"] == "CUST-0001"
    assert row["email"] == "a@example.com"


def test_an_exported_file_imports_back_as_updates_of_the_same_records(client, credentials):
    builders.customer(credentials.company, name="-5 Trading", email="a@example.com", city="KL")
    client.force_login(staff_user(credentials))
    header, *rows = export_customers(client)
    rows[0][header.index("address.city")] = "Penang"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])

    previewed = preview(client, buffer.getvalue())
    confirm(client, previewed)

    assert [row.status for row in previewed.context["rows"]] == ["validated"]
    customer = Customer.objects.get()
    assert (customer.number, customer.name, customer.city) == ("CUST-0001", "-5 Trading", "Penang")


def test_an_excel_export_imports_back_too(client, credentials):
    builders.customer(credentials.company, name="Acme", email="a@example.com", credit_limit=5000)
    client.force_login(staff_user(credentials))
    fields = {
        f"customerresource_{name}": "on"
        for name in ledger_resources.CustomerResource().get_export_order()
    }
    exported = client.post(
        admin_url(Customer, "export"), {"format": "1", "resource": "0", **fields}
    )

    response = client.post(
        admin_url(Customer, "import"),
        {"import_file": SimpleUploadedFile("customers.xlsx", exported.content)},
    )

    assert exported["Content-Type"].startswith("application/vnd.openxmlformats")
    [row] = response.context["rows"]
    assert (row.status, row.operation, row.summary) == (
        "validated",
        "update",
        "CUST-0001 · Acme · a@example.com",
    )


RESOURCES = [
    ledger_resources.CustomerResource,
    ledger_resources.SupplierResource,
    ledger_resources.AccountResource,
    ledger_resources.InvoiceResource,
    ledger_resources.BillResource,
    ledger_resources.PaymentResource,
    ledger_resources.JournalEntryResource,
    inventory_resources.ItemResource,
    inventory_resources.StockAdjustmentResource,
]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda resource: resource.__name__)
def test_every_resource_has_the_template_columns_of_its_handler(resource):
    layout = layout_for(resource.handler)
    template = [column.name for column in layout.template_columns]

    headers = resource().get_export_headers()

    assert [name for name in template if name in headers] == headers
    assert {column.name for column in layout.template_columns if not column.computed} <= set(
        headers
    )


def test_invoices_export_one_row_per_line_that_groups_back_into_the_invoice(client, credentials):
    company = credentials.company
    builders.invoice(
        company, builders.customer(company), [("2", "10.00", "SST"), ("1", "5", "SST")]
    )
    client.force_login(staff_user(credentials))
    fields = {
        f"invoiceresource_{name}": "on"
        for name in ledger_resources.InvoiceResource().get_export_order()
    }

    response = client.post(
        admin_url(ledger_resources.Invoice, "export"), {"format": "0", "resource": "0", **fields}
    )

    header, first, second = csv.reader(io.StringIO(response.content.decode("utf-8")))
    first, second = dict(zip(header, first, strict=True)), dict(zip(header, second, strict=True))
    assert first["invoiceNumber"] and first["customerNumber"] == "CUST-0001"
    assert (first["items.quantity"], second["items.quantity"]) == ("2.0000", "1.0000")
    assert second["invoiceNumber"] == second["customerNumber"] == ""
    assert second["reference"] == first["reference"]


# Tax codes and locations: django-import-export's own import, inside the member's company ---


def test_tax_codes_import_with_import_export_into_the_members_company(client, credentials):
    beta = make_company("Beta Sdn Bhd")
    client.force_login(staff_user(credentials))
    text = "code,name,rate,active\nGST6,Goods and services,6.0000,true\nSST,Sales tax,10,true\n"

    previewed = client.post(
        admin_url(TaxCode, "import"),
        {"import_file": upload(text, "tax.csv"), "format": "0", "resource": "0"},
    )
    confirm_form = previewed.context["confirm_form"]
    done = client.post(admin_url(TaxCode, "process_import"), confirm_form.initial)

    assert done.status_code == 302
    ours = TaxCode.objects.filter(company=credentials.company)
    assert ours.get(code="GST6").rate == 6
    assert ours.get(code="SST").name == "Sales tax"  # matched by code: an update, not a copy
    assert not TaxCode.objects.filter(company=beta.company, code="GST6").exists()
    assert TaxCode.objects.get(company=beta.company, code="SST").name != "Sales tax"


def test_a_superuser_imports_locations_into_the_company_they_choose(client, superuser, credentials):
    client.force_login(superuser)
    text = "code,name,active\nKL-2,Kuala Lumpur 2,true\n"

    previewed = client.post(
        admin_url(Location, "import"),
        {
            "import_file": upload(text, "locations.csv"),
            "format": "0",
            "resource": "0",
            "company": credentials.company.pk,
        },
    )
    confirm_form = previewed.context["confirm_form"]
    done = client.post(admin_url(Location, "process_import"), confirm_form.initial)

    assert done.status_code == 302
    assert Location.objects.get(code="KL-2").company == credentials.company
