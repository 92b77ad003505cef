"""Admin for the core models, and the tenant scoping every business admin shares.

A superuser sees every company. Any other staff member works inside the company of their
Membership: they only see its rows, only choose among its rows, and what they add belongs
to it. Rows that services post (journals, documents, stock) are shown, never edited.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone

from .models import ApiKey, Company, Membership, NumberSequence, TenantModel, Tombstone


def scoped_company(request) -> Company | None:
    """The company a non-superuser works in, or None (a member without a membership)."""
    membership = getattr(request.user, "membership", None)
    return membership.company if membership is not None else None


class TenantModelForm(forms.ModelForm):
    """Refuses a reference to another company's row; a superuser's choices are not scoped,
    so a form could otherwise tie company A's item to company B's tax code."""

    def clean(self):
        cleaned_data = super().clean()
        company = cleaned_data.get("company")
        company_id = company.pk if company is not None else self.instance.company_id
        if company_id is None:
            return cleaned_data
        for name, value in list(cleaned_data.items()):
            if name == "company" or not isinstance(value, models.Model):
                continue
            if getattr(value, "company_id", company_id) != company_id:
                self.add_error(name, "This belongs to another company.")
        return cleaned_data


class TenantAdminMixin:
    """Scopes a ModelAdmin (or inline) whose model has a `company` foreign key."""

    form = TenantModelForm

    def is_unscoped(self, request) -> bool:
        return request.user.is_superuser

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.is_unscoped(request):
            return queryset
        company = scoped_company(request)
        return queryset.filter(company=company) if company else queryset.none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not self.is_unscoped(request):
            company = scoped_company(request)
            related = db_field.related_model
            if db_field.name == "company":
                # Kept on the form, hidden and disabled (POSTed values are ignored), so the
                # per-company unique constraints (email, code) are still validated.
                company_pk = company.pk if company else None
                kwargs["queryset"] = Company.objects.filter(pk=company_pk)
                kwargs["initial"] = company_pk
                kwargs["widget"] = forms.HiddenInput
                kwargs["disabled"] = True
            elif issubclass(related, TenantModel):
                kwargs["queryset"] = related._default_manager.filter(company=company)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        company_field = form.base_fields.get("company")
        if obj is not None and company_field is not None:
            company_field.disabled = True  # Moving a row to another company orphans its refs.
        return form

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        view_only = obj is not None and not self.has_change_permission(request, obj)
        if view_only and not self.is_unscoped(request):
            return [field for field in fields if field != "company"]
        return fields

    def get_list_display(self, request):
        list_display = super().get_list_display(request)
        if self.is_unscoped(request):
            return [*list_display, "company"]
        return list_display

    def get_list_filter(self, request):
        list_filter = super().get_list_filter(request)
        if self.is_unscoped(request):
            return ["company", *list_filter]
        return list_filter

    def get_list_select_related(self, request):
        select_related = super().get_list_select_related(request)
        if self.is_unscoped(request) and isinstance(select_related, list | tuple):
            return [*select_related, "company"]
        return select_related

    def assign_company(self, request, obj) -> None:
        """A new row of a non-superuser belongs to their company, whatever was posted."""
        if self.is_unscoped(request):
            return
        company = scoped_company(request)
        if company is None:
            raise PermissionDenied("You are not a member of any company.")
        obj.company = company

    def save_model(self, request, obj, form, change):
        if not change:
            self.assign_company(request, obj)
        super().save_model(request, obj, form, change)


class ReadOnlyAdminMixin:
    """For rows whose numbers, totals and postings come from services: look, never touch.
    (The obj argument also fits the inline signatures.)"""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TenantAdmin(TenantAdminMixin, admin.ModelAdmin):
    pass


class ReadOnlyTenantAdmin(ReadOnlyAdminMixin, TenantAdminMixin, admin.ModelAdmin):
    pass


class ReadOnlyTenantInline(ReadOnlyAdminMixin, TenantAdminMixin, admin.TabularInline):
    """Posted lines under their posted document; `related` is select_related so each line's
    read-only references render without a query apiece."""

    extra = 0
    related: tuple[str, ...] = ()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.related)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id", "country", "base_currency", "allow_future_dates"]
    list_filter = ["country", "allow_future_dates"]
    search_fields = ["name", "public_id"]
    fields = ["public_id", "name", "country", "base_currency", "allow_future_dates", "created_at"]
    readonly_fields = ["public_id", "created_at"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        company = scoped_company(request)
        return queryset.filter(pk=company.pk) if company else queryset.none()


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ["user", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "company__name"]
    autocomplete_fields = ["user"]
    fields = ["company", "user", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    """Keys are issued by `issue_api_key` (create_company, seed_demo), the only place the raw
    key is ever shown; here they are listed, renamed and revoked. The hash never leaves the
    database."""

    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["user"]
    search_fields = ["prefix", "name", "user__username"]
    fields = ["prefix", "name", "user", "company", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "user", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke_selected_keys"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected_keys(self, request, queryset):
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


@admin.register(NumberSequence)
class NumberSequenceAdmin(ReadOnlyTenantAdmin):
    list_display = ["key", "last_value"]
    list_filter = ["key"]
    search_fields = ["key"]
    fields = ["company", "key", "last_value"]


@admin.register(Tombstone)
class TombstoneAdmin(ReadOnlyTenantAdmin):
    """What was deleted, as the deletions feed (GET /v1/{entity}/deleted) tells it."""

    list_display = ["model", "public_id", "external_id", "deleted_at"]
    list_filter = ["model", "deleted_at"]
    search_fields = ["public_id", "external_id"]
    fields = ["company", "model", "public_id", "external_id", "deleted_at"]
