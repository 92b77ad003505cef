"""Customers and suppliers in batches: create, update, delete."""

from batch.engine.countries import tax_number_valid_for
from batch.engine.fields import Detail, Field, FieldCode, Nested, Schema
from batch.engine.master import MasterDataHandler
from batch.engine.parsers import (
    Choice,
    Country,
    Email,
    ExternalId,
    ExternalReference,
    Integer,
    Money,
    Phone,
    Reference,
    Text,
)
from batch.files.templates import template_list

from ..models import Bill, Customer, Invoice, Payment, Status, Supplier

ADDRESS = Schema(
    {
        "street": Field(Text(200)),
        "city": Field(Text(100)),
        "state": Field(Text(100)),
        "postalCode": Field(Text(20)),
        "country": Field(Country()),
    }
)


def party_fields() -> dict:
    return {
        "name": Field(Text(100, blank=False), required=True),
        "email": Field(Email()),
        "phone": Field(Phone()),
        "address": Nested(ADDRESS),
        "creditLimit": Field(Money(what="Credit limit")),
        "paymentTerms": Field(Integer(0, 365, what="Payment terms")),
        "taxNumber": Field(Text(30)),
        "status": Field(Choice(Status.values)),
        "externalId": Field(ExternalId()),
    }


def identity_fields(number_param: str) -> dict:
    return {"id": Field(Reference()), number_param: Field(Reference())}


def delete_fields(number_param: str) -> dict:
    return {**identity_fields(number_param), "externalId": Field(ExternalReference())}


PARTY_FIELD_MAP = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "address.street": "street",
    "address.city": "city",
    "address.state": "state",
    "address.postalCode": "postal_code",
    "address.country": "country",
    "creditLimit": "credit_limit",
    "paymentTerms": "payment_terms",
    "taxNumber": "tax_number",
    "status": "status",
    "externalId": "external_id",
}


class PartyHandler(MasterDataHandler):
    operations = frozenset({"create", "update", "upsert", "delete"})
    max_records = 500
    natural_key = "number"
    unique_fields = {"email": ("email", True), "externalId": ("external_id", False)}
    extra_match_fields = ("email",)
    field_map = PARTY_FIELD_MAP
    document_models: tuple = ()

    @classmethod
    def template_lists(cls, company) -> dict[str, list[str]]:
        """The numbers update and delete rows name, for the templates' dropdowns."""
        return {
            cls.natural_key_param: template_list(cls.model.objects.for_company(company), "number")
        }

    def check(self, record, instance, *, creating: bool) -> list[Detail]:
        if instance.tax_number and not tax_number_valid_for(instance.country, instance.tax_number):
            return [
                Detail(
                    "taxNumber",
                    f"Tax number is not valid for country {instance.country}.",
                    FieldCode.INVALID_TAX_NUMBER,
                )
            ]
        return []

    def rows_in_use(self, pks: list[int]) -> set[int]:
        party = self.model._meta.model_name
        in_use = set()
        for model in self.document_models:
            in_use.update(
                self.scoped(model)
                .filter(**{f"{party}_id__in": pks})
                .order_by()
                .values_list(f"{party}_id", flat=True)
                .distinct()
            )
        return in_use

    def in_use_message(self, instance) -> str:
        return f"{self.what} {instance.number} has documents or payments and cannot be deleted."


class CustomerHandler(PartyHandler):
    entity = "customers"
    model = Customer
    what = "Customer"
    natural_key_param = "customerNumber"
    numbered = ("CUST", 4)
    document_models = (Invoice, Payment)
    create_schema = Schema(party_fields())
    update_schema = Schema({**party_fields(), **identity_fields("customerNumber")})
    delete_schema = Schema(delete_fields("customerNumber"))
    match_fields = ("externalId", "customerNumber")


class SupplierHandler(PartyHandler):
    entity = "suppliers"
    model = Supplier
    what = "Supplier"
    natural_key_param = "supplierNumber"
    numbered = ("SUPP", 4)
    document_models = (Bill, Payment)
    create_schema = Schema(party_fields())
    update_schema = Schema({**party_fields(), **identity_fields("supplierNumber")})
    delete_schema = Schema(delete_fields("supplierNumber"))
    match_fields = ("externalId", "supplierNumber")


HANDLERS = [CustomerHandler, SupplierHandler]
