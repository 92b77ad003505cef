"""The admin's import and export: a preview is a dry run through the batch engine, the
confirm the real run, a large file an async job; exports carry the API's columns and cannot
smuggle a formula into a spreadsheet."""

import csv
import hashlib
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from batch.admin import import_preview
from batch.admin.import_mapping import COMMON_TRANSFORMS
from batch.admin.uploads import SESSION_KEY, upload_dir
from batch.files.columns import layout_for
from batch.files.transforms import parse_transforms
from batch.jobs.processing import process_job
from batch.models import BatchJob, MappingProfile
from batch.services import profiles
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


def upload_file(client, text: str, model=Customer, name: str = "customers.csv", **fields):
    """Upload a file: the answer is the mapping screen."""
    response = client.post(
        admin_url(model, "import"), {"import_file": upload(text, name), **fields}
    )
    assert response.status_code == 200, response.content[:2000]
    return response


def choose_columns(client, mapping_screen, model=Customer, transforms=None, **chosen):
    """Post the mapping screen as proposed, with `chosen` {header: field} and `transforms`
    {header: the transformation select's value} changed."""
    token = mapping_screen.context["import_token"]
    transforms = transforms or {}
    fields = {}
    for choice in mapping_screen.context["choices"]:
        fields[choice.input_name] = chosen.get(choice.header, choice.field or "")
        fields[choice.transform_name] = transforms.get(choice.header, choice.transform)
    extra = {key: value for key, value in chosen.items() if key == "profile_name"}
    if mapping_screen.context["profile"] is not None:
        extra["profile"] = mapping_screen.context["profile"].pk
    url = admin_url(model, "import_mapping", token)
    return client.post(url, {**fields, **extra}, follow=True)


def preview(client, text: str = CUSTOMERS_CSV, model=Customer, **fields):
    response = choose_columns(client, upload_file(client, text, model, **fields), model)
    assert response.status_code == 200, response.content[:2000]
    return response


def confirm(client, preview_response, model=Customer):
    """Confirm the preview and run the import job it becomes."""
    token = preview_response.context["import_token"]
    response = client.post(admin_url(model, "process_import"), {"import_token": token})
    if response.status_code == 302 and "/batchjob/" in response.url:
        process_job(BatchJob.objects.get(kind="import", source="admin").pk)
    return response


def test_preview_shows_the_bad_rows_error_against_its_spreadsheet_row_and_creates_nothing(
    client, credentials
):
    client.force_login(staff_user(credentials))

    response = preview(client)

    rows = {row.row_number: row for row in response.context["rows"]}
    assert [row.would for row in rows.values()] == ["create", "fail", "create"]
    [problem] = rows[3].problems
    assert (problem.field, problem.value, problem.code) == (
        "email",
        "not-an-email",
        "INVALID_EMAIL",
    )
    assert response.context["totals"] == {
        "create": 2,
        "update": 0,
        "unchanged": 0,
        "delete": 0,
        "fail": 1,
    }
    errors_only = client.get(response.wsgi_request.path, {"errors": "1"})
    assert [row.row_number for row in errors_only.context["rows"]] == [3]
    assert errors_only.context["totals"] == response.context["totals"]
    page = response.text
    assert 'data-row="3"' in page
    assert "INVALID_EMAIL" in page and "not-an-email" in page
    assert problem.message in page
    assert 'value="Confirm import"' in page
    assert Customer.objects.count() == 0
    job = response.context["preview_job"]
    assert (job.kind, job.options["validateOnly"], job.file_name) == (
        "preview",
        True,
        "customers.csv",
    )
    assert job.file_checksum == hashlib.sha256(CUSTOMERS_CSV.encode()).hexdigest()
    assert job.file_columns == ["name", "email", "phone", "address.city"]


def test_confirm_imports_the_previewed_file_as_a_job_and_lands_on_its_page(client, credentials):
    client.force_login(staff_user(credentials))
    previewed = preview(client)

    response = confirm(client, previewed)

    job = BatchJob.objects.get(kind="import")
    assert response.status_code == 302
    assert response.url == reverse("admin:batch_batchjob_change", args=[job.pk])
    created = Customer.objects.order_by("number")
    assert [(c.number, c.name, c.city) for c in created] == [
        ("CUST-0001", "Acme Trading", "Kuala Lumpur"),
        ("CUST-0002", "Beta Supplies", "Ipoh"),
    ]
    assert {c.company_id for c in created} == {credentials.company.pk}
    job.refresh_from_db()
    assert (job.mode, job.created_count, job.failed_records, job.options["validateOnly"]) == (
        "async",
        2,
        1,
        False,
    )
    assert job.file_checksum == previewed.context["preview_job"].file_checksum
    assert list(upload_dir().iterdir()) == []  # the stored upload is gone once confirmed
    again = client.post(
        admin_url(Customer, "process_import"), {"import_token": previewed.context["import_token"]}
    )
    assert again.status_code == 404
    assert Customer.objects.count() == 2


def test_a_file_changed_after_its_preview_is_not_imported(client, credentials):
    client.force_login(staff_user(credentials))
    previewed = preview(client)
    token = previewed.context["import_token"]
    [stored] = upload_dir().iterdir()
    stored.write_text(CUSTOMERS_CSV + "Gamma Sdn Bhd,gamma@example.com,,Melaka\n")

    response = client.post(admin_url(Customer, "process_import"), {"import_token": token})

    assert response.status_code == 302
    assert response.url == admin_url(Customer, "import")
    page = client.get(response.url).text
    assert "not the one that was previewed" in page
    assert not BatchJob.objects.filter(kind="import").exists()
    assert Customer.objects.count() == 0


def test_a_previewed_file_gone_before_confirm_is_not_imported(client, credentials):
    client.force_login(staff_user(credentials))
    previewed = preview(client)
    for stored in upload_dir().iterdir():
        stored.unlink()

    response = client.post(
        admin_url(Customer, "process_import"), {"import_token": previewed.context["import_token"]}
    )

    assert response.url == admin_url(Customer, "import")
    assert "no longer available" in client.get(response.url).text
    assert not BatchJob.objects.filter(kind="import").exists()


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
    [problem] = row.problems
    [detail] = api_result["error"]["details"]
    assert api_result["error"]["code"] == "DUPLICATE_ERROR"
    assert (problem.code, problem.field, problem.message) == (
        detail["code"],
        api_result["error"]["field"],
        api_result["error"]["message"],
    )
    assert problem.value == "TAKEN@example.com"
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


def test_an_unknown_column_is_left_for_the_mapping_screen_not_refused(client, credentials):
    client.force_login(staff_user(credentials))

    screen = upload_file(client, "name,favouriteColour\nAcme,blue\n")
    previewed = choose_columns(client, screen)

    choices = {choice.header: choice for choice in screen.context["choices"]}
    assert choices["favouriteColour"].field is None
    assert choices["favouriteColour"].samples == ["blue"]
    assert "Unknown columns" not in screen.text
    assert [row.would for row in previewed.context["rows"]] == ["create"]


def test_an_unreadable_file_is_a_form_error_naming_the_problem(client, credentials):
    client.force_login(staff_user(credentials))

    response = upload_file(client, 'name,email\n"Acme,acme@example.com\n')

    assert response.context["form"].errors["import_file"]
    assert "quote" in response.text
    assert list(upload_dir().iterdir()) == []


def test_a_file_over_one_batch_is_previewed_by_a_job_page_by_page(client, credentials, monkeypatch):
    monkeypatch.setattr(CustomerHandler, "max_records", 2)
    monkeypatch.setattr(import_preview, "PAGE_SIZE", 2)
    client.force_login(staff_user(credentials))

    response = choose_columns(client, upload_file(client, CUSTOMERS_CSV))

    job = BatchJob.objects.get(mode="async")
    token = client.session[SESSION_KEY].popitem()[0]
    preview_url = admin_url(Customer, "import_preview", token)
    assert response.redirect_chain == [(preview_url, 302)]
    assert (job.kind, job.entity, job.total_records, job.options["validateOnly"]) == (
        "preview",
        "customers",
        3,
        True,
    )
    running = client.get(preview_url)
    assert 'id="preview-done">0<' in running.text
    assert 'id="preview-rate">starting<' in running.text
    assert 'value="Confirm import"' not in running.text
    status = client.get(running.context["status_url"]).json()
    assert status["progress"]["totalRecords"] == 3

    process_job(job.pk)
    first = client.get(preview_url)
    second = client.get(preview_url, {"page": 2})
    errors = client.get(preview_url, {"errors": 1})

    assert first.context["totals"] == {
        "create": 2,
        "update": 0,
        "unchanged": None,
        "delete": 0,
        "fail": 1,
    }
    assert [row.row_number for row in first.context["rows"]] == [2, 3]
    assert [row.row_number for row in second.context["rows"]] == [4]
    [bad] = errors.context["rows"]
    assert (bad.row_number, bad.problems[0].value, bad.problems[0].code) == (
        3,
        "not-an-email",
        "INVALID_EMAIL",
    )
    assert 'value="Confirm import"' in first.text
    assert Customer.objects.count() == 0

    done = confirm(client, first)

    assert done.url == reverse(
        "admin:batch_batchjob_change", args=[BatchJob.objects.get(kind="import").pk]
    )
    assert Customer.objects.count() == 2


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

    [row] = previewed.context["rows"]
    assert (row.would, [(c.field, c.old, c.new) for c in row.changes]) == (
        "update",
        [("address.city", "KL", "Penang")],
    )
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

    screen = client.post(
        admin_url(Customer, "import"),
        {"import_file": SimpleUploadedFile("customers.xlsx", exported.content)},
    )
    response = choose_columns(client, screen)

    assert exported["Content-Type"].startswith("application/vnd.openxmlformats")
    [row] = response.context["rows"]
    assert (row.would, row.operation, row.summary) == (
        "unchanged",
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


# The mapping screen --------------------------------------------------------------------------

OLD_SYSTEM_CSV = (
    "Customer Name,E-mail,Credit Limit (RM),Notes\n"
    'Acme Trading,acme@example.com,"1,500.555",call first\n'
    "Beta Supplies,beta@example.com,2000,\n"
)


def test_the_mapping_screen_proposes_fields_with_sample_values(client, credentials):
    client.force_login(staff_user(credentials))

    screen = upload_file(client, OLD_SYSTEM_CSV)

    choices = {choice.header: choice for choice in screen.context["choices"]}
    assert {header: choice.field for header, choice in choices.items()} == {
        "Customer Name": "name",
        "E-mail": "email",
        "Credit Limit (RM)": "creditLimit",
        "Notes": None,
    }
    assert choices["Customer Name"].samples == ["Acme Trading", "Beta Supplies"]
    assert "1,500.555" in screen.text
    assert screen.context["profile"] is None
    assert Customer.objects.count() == 0


def test_the_preview_shows_the_cell_at_fault_and_the_fields_own_code(client, credentials):
    client.force_login(staff_user(credentials))

    previewed = choose_columns(client, upload_file(client, OLD_SYSTEM_CSV))

    bad, good = previewed.context["rows"]
    [problem] = bad.problems
    assert (bad.row_number, problem.field, problem.value) == (2, "creditLimit", "1,500.555")
    assert problem.code != "VALIDATION_ERROR"
    assert problem.code in previewed.text and "1,500.555" in previewed.text
    assert good.would == "create"


def test_a_saved_mapping_profile_is_proposed_again_for_a_file_with_the_same_headers(
    client, credentials
):
    client.force_login(staff_user(credentials))
    screen = upload_file(client, OLD_SYSTEM_CSV)
    choose_columns(client, screen, **{"Notes": "", "profile_name": "Old system"})

    again = upload_file(client, OLD_SYSTEM_CSV.replace("Acme Trading", "Acme Again"))
    other = upload_file(client, "name,email\nGamma,gamma@example.com\n")

    profile = MappingProfile.objects.get(company=credentials.company, entity="customers")
    assert profile.name == "Old system"
    assert profile.columns[0] == {"header": "Customer Name", "field": "name", "transforms": []}
    assert again.context["profile"] == profile
    assert 'id="profile-used"' in again.text
    assert [choice.how for choice in again.context["choices"]] == ["profile"] * 4
    assert other.context["profile"] is None


def test_a_proposed_profile_brings_its_transformations_to_the_preview(client, credentials):
    columns = [
        {
            "header": "Customer Name",
            "field": "name",
            "transforms": [{"type": "case", "to": "upper"}],
        },
        {"header": "E-mail", "field": "email", "transforms": []},
        {"header": "Credit Limit (RM)", "field": "", "transforms": []},
        {"header": "Notes", "field": "", "transforms": []},
    ]
    profiles.save_profile(
        company=credentials.company, user=None, entity="customers", name="Old", columns=columns
    )
    client.force_login(staff_user(credentials))

    previewed = choose_columns(client, upload_file(client, OLD_SYSTEM_CSV))

    assert [row.summary for row in previewed.context["rows"]] == [
        "ACME TRADING · acme@example.com",
        "BETA SUPPLIES · beta@example.com",
    ]
    assert [row.would for row in previewed.context["rows"]] == ["create", "create"]


def test_two_columns_mapped_to_one_field_are_sent_back_to_the_mapping_screen(client, credentials):
    client.force_login(staff_user(credentials))
    screen = upload_file(client, OLD_SYSTEM_CSV)

    response = choose_columns(client, screen, Notes="name")

    assert response.context["mapping_errors"] == [
        "Columns 'Customer Name' and 'Notes' are both mapped to name."
    ]
    assert not BatchJob.objects.exists()


def test_an_update_preview_shows_old_and_new_values_and_unchanged_rows(client, credentials):
    builders.customer(credentials.company, name="Acme", email="a@example.com", city="KL")
    builders.customer(credentials.company, name="Beta", email="b@example.com", city="Ipoh")
    client.force_login(staff_user(credentials))
    text = (
        "operation,customerNumber,name,address.city\n"
        "update,CUST-0001,Acme Trading,KL\n"
        "update,CUST-0002,Beta,Ipoh\n"
    )

    previewed = preview(client, text)

    changed, same = previewed.context["rows"]
    assert [(c.field, c.old, c.new) for c in changed.changes] == [("name", "Acme", "Acme Trading")]
    assert (changed.would, same.would, same.changes) == ("update", "unchanged", [])
    assert previewed.context["totals"]["unchanged"] == 1
    assert 'Acme</span> &rarr; <span class="new">Acme Trading' in previewed.text
    assert "unchanged" in previewed.text


# The job page's import log ---------------------------------------------------------------------


def test_the_job_page_logs_each_problem_and_filters_by_field_and_code(client, credentials):
    client.force_login(staff_user(credentials))
    text = (
        "name,email,creditLimit\n"
        "Acme,not-an-email,100\n"
        "Beta,beta@example.com,abc\n"
        "Gamma,gamma@example.com,5\n"
    )
    confirm(client, preview(client, text))
    job = BatchJob.objects.get(kind="import")
    url = reverse("admin:batch_batchjob_change", args=[job.pk])

    page = client.get(url)
    by_code = client.get(url, {"log_code": "INVALID_EMAIL"})

    log = page.context["import_log"]
    assert [(line.row, line.field, line.value) for line in log["lines"]] == [
        (2, "email", "not-an-email"),
        (3, "creditLimit", "abc"),
    ]
    assert log["fields"] == ["creditLimit", "email"]
    assert 'id="import-log"' in page.text
    assert reverse("admin:batch_batchjob_failed_rows", args=[job.pk]) in page.text
    assert [line.row for line in by_code.context["import_log"]["lines"]] == [2]


def test_the_log_shows_the_cell_as_uploaded_before_its_transformation(client, credentials):
    columns = [
        {"header": "Customer Name", "field": "name", "transforms": []},
        {"header": "E-mail", "field": "email", "transforms": []},
        {
            "header": "Credit Limit (RM)",
            "field": "creditLimit",
            "transforms": [{"type": "number", "decimalComma": True}],
        },
        {"header": "Notes", "field": "", "transforms": []},
    ]
    profiles.save_profile(
        company=credentials.company, user=None, entity="customers", name="Old", columns=columns
    )
    client.force_login(staff_user(credentials))
    text = (
        "Customer Name,E-mail,Credit Limit (RM),Notes\n"
        'Acme Trading,acme@example.com,"1.500,555",call first\n'
        "Beta Supplies,not-an-email,2000,\n"
        'Gamma,gamma@example.com,"2.000,50",\n'
    )
    confirm(client, preview(client, text))
    job = BatchJob.objects.get(kind="import")

    page = client.get(reverse("admin:batch_batchjob_change", args=[job.pk]))

    lines = page.context["import_log"]["lines"]
    assert [(line.row, line.field, line.value) for line in lines] == [
        (2, "creditLimit", "1.500,555"),  # sent as 1500.555; the file has it as typed
        (3, "email", "not-an-email"),
    ]
    assert "1.500,555" in page.text
    assert Customer.objects.get().credit_limit == Decimal("2000.50")


def test_a_cell_whose_column_is_not_known_is_shown_with_its_rows_cells(client, credentials):
    client.force_login(staff_user(credentials))
    text = 'Customer Name,E-mail,Credit Limit (RM)\nAcme Trading,acme@example.com,"1.500,555"\n'
    screen = upload_file(client, text)
    confirm(
        client, choose_columns(client, screen, transforms={"Credit Limit (RM)": "number-comma"})
    )
    job = BatchJob.objects.get(kind="import")

    page = client.get(reverse("admin:batch_batchjob_change", args=[job.pk]))

    [line] = page.context["import_log"]["lines"]
    assert line.field == "creditLimit"
    assert line.value == (
        "Customer Name: Acme Trading · E-mail: acme@example.com · Credit Limit (RM): 1.500,555"
    )


# Transformations on the mapping screen -----------------------------------------------------


@pytest.mark.parametrize("key", sorted(COMMON_TRANSFORMS))
def test_every_common_transformation_is_one_the_import_reads(key):
    label, steps = COMMON_TRANSFORMS[key]

    assert parse_transforms({"Column": steps}, ["Column"]).rules["Column"]


def test_a_transformation_chosen_per_column_is_saved_and_applied_to_preview_and_import(
    client, credentials
):
    client.force_login(staff_user(credentials))
    text = (
        "Customer Name,E-mail,Credit Limit (RM),Country\n"
        'acme trading,ACME@Example.com,"1.500,50",Malaysia\n'
        'beta supplies,beta@example.com,"20.000,00",Singapore\n'
    )
    screen = upload_file(client, text)
    assert 'name="transform-2"' in screen.text and "Date DD/MM/YYYY" in screen.text
    chosen = {
        "Customer Name": "title",
        "E-mail": "lower",
        "Credit Limit (RM)": "number-comma",
        "Country": "country",
    }

    previewed = choose_columns(
        client,
        screen,
        transforms=chosen,
        **{"Country": "address.country", "profile_name": "Old books"},
    )

    assert [row.summary for row in previewed.context["rows"]] == [
        "Acme Trading · acme@example.com · MY",
        "Beta Supplies · beta@example.com · SG",
    ]
    assert [row.would for row in previewed.context["rows"]] == ["create", "create"]
    profile = MappingProfile.objects.get(company=credentials.company, name="Old books")
    assert profile.columns[2] == {
        "header": "Credit Limit (RM)",
        "field": "creditLimit",
        "transforms": [{"type": "number", "decimalComma": True}],
    }

    confirm(client, previewed)

    stored = {c.name: (c.email, c.credit_limit, c.country) for c in Customer.objects.all()}
    assert stored == {
        "Acme Trading": ("acme@example.com", Decimal("1500.50"), "MY"),
        "Beta Supplies": ("beta@example.com", Decimal("20000.00"), "SG"),
    }
    again = upload_file(client, text)
    assert again.context["profile"] == profile
    assert [choice.transform for choice in again.context["choices"]] == list(chosen.values())
    assert '<option value="number-comma" selected>' in again.text


def test_a_profiles_own_transformations_are_kept_unless_another_is_chosen(client, credentials):
    columns = [
        {
            "header": "Customer Name",
            "field": "name",
            "transforms": [{"type": "default", "value": "Unnamed"}],
        },
        {"header": "E-mail", "field": "email", "transforms": []},
        {"header": "Credit Limit (RM)", "field": "", "transforms": []},
        {"header": "Notes", "field": "", "transforms": []},
    ]
    profiles.save_profile(
        company=credentials.company, user=None, entity="customers", name="API", columns=columns
    )
    client.force_login(staff_user(credentials))
    text = OLD_SYSTEM_CSV.replace("Acme Trading", "")

    kept = choose_columns(client, upload_file(client, text))
    upper = choose_columns(client, upload_file(client, text), transforms={"Customer Name": "upper"})

    assert [row.summary for row in kept.context["rows"]][0] == "Unnamed · acme@example.com"
    assert [row.summary for row in upper.context["rows"]][1] == "BETA SUPPLIES · beta@example.com"
    assert [row.would for row in upper.context["rows"]] == ["fail", "create"]


def test_an_unknown_transformation_is_sent_back_to_the_mapping_screen(client, credentials):
    client.force_login(staff_user(credentials))
    screen = upload_file(client, OLD_SYSTEM_CSV)

    response = choose_columns(client, screen, transforms={"Notes": "rot13"})

    assert response.context["mapping_errors"] == [
        "Column 'Notes': choose one of the transformations."
    ]
    assert not BatchJob.objects.exists()
