"""The Django admin: every model is there, each company's staff see only their own rows, and
what services post cannot be edited by hand."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model

from bigledger.models import ApiKey, NumberSequence
from inventory.models import Item
from ledger.models import Customer, JournalEntry
from tests import builders
from tests.helpers import admin_url, make_company, staff_user

pytestmark = pytest.mark.django_db

ADMIN_APPS = ("bigledger", "ledger", "inventory")


def staff_user_for(company):
    return get_user_model().objects.get(membership__company=company)


@pytest.fixture
def books(company):
    """One of everything the services post, so every changelist has rows to render."""
    acme = builders.customer(company)
    widgets = builders.supplier(company)
    invoice = builders.invoice(company, acme)
    bill = builders.bill(company, widgets)
    builders.payment(company, acme, "500.00", [(invoice, "500.00")])
    builders.payment(company, widgets, "100.00", [(bill, "100.00")])
    builders.journal(company, "1000", "3000", "250.00")
    stock_item = builders.item(company)
    builders.adjust_stock(company, stock_item, "increase", "10", "4.50")
    builders.adjust_stock(company, stock_item, "decrease", "3")
    builders.customer(company, name="Gone").delete()  # leaves a tombstone
    return company


def business_models():
    for label in ADMIN_APPS:
        yield from apps.get_app_config(label).get_models()


def registered_models():
    return [model for model in business_models() if admin.site.is_registered(model)]


def test_every_model_is_registered_or_shown_inline_under_its_document():
    inline_models = {
        inline.model
        for model in registered_models()
        for inline in admin.site.get_model_admin(model).inlines
    }
    missing = [
        model.__name__
        for model in business_models()
        if not admin.site.is_registered(model) and model not in inline_models
    ]
    assert missing == []


def test_every_changelist_and_change_page_answers_200_for_a_superuser(client, superuser, books):
    client.force_login(superuser)
    for model in registered_models():
        changelist = client.get(admin_url(model, "changelist"))
        assert changelist.status_code == 200, model.__name__
        obj = model._default_manager.first()
        assert obj is not None, f"no {model.__name__} arranged"
        change = client.get(admin_url(model, "change", obj.pk))
        assert change.status_code == 200, model.__name__


def test_changelist_search_and_filters_answer_200(client, superuser, books):
    client.force_login(superuser)
    queries = {
        Customer: {"q": "acme", "status__exact": "active"},
        JournalEntry: {"q": "JE-", "source__exact": "invoice"},
        Item: {"q": "widget", "type__exact": "inventory", "active__exact": "1"},
    }
    for model, params in queries.items():
        response = client.get(admin_url(model, "changelist"), params)
        assert response.status_code == 200, model.__name__
        assert response.context["cl"].result_count >= 1, model.__name__


def test_staff_member_sees_their_company_customers_and_not_another_company(client):
    alpha, beta = make_company(), make_company()
    builders.customer(alpha.company, name="Alpha Buyer")
    builders.customer(beta.company, name="Beta Buyer")
    client.force_login(staff_user(alpha))

    response = client.get(admin_url(Customer, "changelist"))

    assert response.status_code == 200
    assert "Alpha Buyer" in response.text
    assert "Beta Buyer" not in response.text


def test_staff_member_cannot_open_another_company_customer(client):
    alpha, beta = make_company(), make_company()
    theirs = builders.customer(beta.company, name="Beta Buyer")
    client.force_login(staff_user(alpha))

    response = client.get(admin_url(Customer, "change", theirs.pk))

    assert response.status_code in (302, 404)
    assert "Beta Buyer" not in response.text


def test_staff_member_chooses_only_among_their_company_rows(client):
    alpha = make_company()
    make_company()  # another company whose tax codes must not be offered
    client.force_login(staff_user(alpha))

    form = client.get(admin_url(Item, "add")).context["adminform"].form

    tax_codes = form.fields["tax_code"].queryset
    assert tax_codes.exists()
    assert set(tax_codes.values_list("company", flat=True)) == {alpha.company.pk}
    assert form.fields["company"].widget.is_hidden


def test_journal_entry_is_read_only_even_for_a_member_with_change_permission(client, company):
    entry = builders.journal(company, "1000", "3000", "250.00")
    user = staff_user_for(company)
    assert user.has_perm("ledger.change_journalentry")
    client.force_login(user)
    url = admin_url(JournalEntry, "change", entry.pk)

    page = client.get(url)
    post = client.post(url, {"reference": "edited"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert post.status_code == 403
    assert client.get(admin_url(JournalEntry, "add")).status_code == 403
    assert client.post(admin_url(JournalEntry, "delete", entry.pk)).status_code == 403
    entry.refresh_from_db()
    assert entry.reference == "JE-REF"
    editable = client.get(admin_url(Customer, "change", builders.customer(company).pk))
    assert 'name="_save"' in editable.text  # so its absence above means something


def customer_form(**fields) -> dict:
    return {
        "name": "Walk-in Buyer",
        "email": "",
        "phone": "",
        "street": "",
        "city": "",
        "state": "",
        "postal_code": "",
        "country": "MY",
        "credit_limit": "0.00",
        "payment_terms": "30",
        "tax_number": "",
        "status": "active",
        **fields,
    }


def test_adding_a_customer_takes_the_next_number_and_the_member_company(client):
    alpha, beta = make_company(), make_company()
    client.force_login(staff_user(alpha))
    url = admin_url(Customer, "add")

    first = client.post(url, customer_form(name="First", company=beta.company.pk))
    second = client.post(url, customer_form(name="Second"))

    assert first.status_code == 302
    assert second.status_code == 302
    added = Customer.objects.order_by("number")
    assert [(c.number, c.name, c.company_id) for c in added] == [
        ("CUST-0001", "First", alpha.company.pk),
        ("CUST-0002", "Second", alpha.company.pk),
    ]
    sequence = NumberSequence.objects.get(company=alpha.company, key="CUST")
    assert sequence.last_value == 2


def test_adding_a_customer_with_a_taken_email_is_a_form_error(client, credentials):
    builders.customer(credentials.company, email="buyer@example.com")
    client.force_login(staff_user(credentials))

    response = client.post(admin_url(Customer, "add"), customer_form(email="BUYER@example.com"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    sequence = NumberSequence.objects.get(company=credentials.company, key="CUST")
    assert sequence.last_value == 1  # the refused add took no number


def item_form(company, tax_code) -> dict:
    return {
        "company": company.pk,
        "item_code": "X-1",
        "name": "Cross",
        "type": "inventory",
        "unit_of_measure": "units",
        "cost_price": "1.00",
        "selling_price": "2.00",
        "tax_code": tax_code.pk,
        "reorder_level": "0",
        "reorder_quantity": "0",
        "stock_levels-TOTAL_FORMS": "0",
        "stock_levels-INITIAL_FORMS": "0",
    }


def test_superuser_cannot_tie_a_row_to_another_company_reference(client, superuser):
    alpha, beta = make_company(), make_company()
    client.force_login(superuser)

    refused = client.post(
        admin_url(Item, "add"), item_form(alpha.company, builders.tax(beta.company))
    )
    accepted = client.post(
        admin_url(Item, "add"), item_form(alpha.company, builders.tax(alpha.company))
    )

    assert refused.status_code == 200
    assert "tax_code" in refused.context["adminform"].form.errors
    assert accepted.status_code == 302
    assert Item.objects.get(item_code="X-1").company == alpha.company


def test_api_key_hash_is_never_shown_and_keys_can_be_revoked(client, superuser, credentials):
    key = ApiKey.objects.get(company=credentials.company)
    client.force_login(superuser)

    page = client.get(admin_url(ApiKey, "change", key.pk))
    response = client.post(
        admin_url(ApiKey, "changelist"),
        {"action": "revoke_selected_keys", "_selected_action": [key.pk]},
    )

    assert page.status_code == 200
    assert key.key_hash not in page.text
    assert "key_hash" not in page.context["adminform"].form.fields
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
