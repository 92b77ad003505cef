"""Items in batches: create, update, delete.

An update or delete names its item by `id` — the public id or the item's current itemCode —
or, when no id is sent, by `itemCode`. So `{"id": "item_…", "itemCode": "NEW"}` renames the
item, while `{"itemCode": "WIDGET-001", "name": …}` updates WIDGET-001 in place."""

from batch.engine.codes import FieldCode
from batch.engine.fields import Detail, Field, Schema
from batch.engine.handlers import ReferenceIndex, reference_error, split_refs
from batch.engine.master import MasterDataHandler
from batch.engine.parsers import (
    Boolean,
    Choice,
    ExternalId,
    ExternalReference,
    Money,
    Quantity,
    Reference,
    Text,
)
from batch.files.templates import template_list
from ledger.models import Account, BillLine, InvoiceLine, TaxCode

from ..models import Item, ItemType, StockAdjustment, StockLevel, StockMovement, UnitOfMeasure

PRICE_FIELDS = {"costPrice", "sellingPrice", "type"}

# Where invoice and bill lines of the item post when they name no account, with the fields
# that may name each: its code, or its external id.
ACCOUNT_PARAMS = {
    "sales_account": ("salesAccountCode", "salesAccountExternalId"),
    "purchase_account": ("purchaseAccountCode", "purchaseAccountExternalId"),
}


def item_fields() -> dict:
    return {
        "itemCode": Field(Text(50, blank=False), required=True),
        "name": Field(Text(200, blank=False), required=True),
        "description": Field(Text(2000)),
        "category": Field(Text(100)),
        "type": Field(Choice(ItemType.values)),
        "unitOfMeasure": Field(Choice(UnitOfMeasure.values)),
        "costPrice": Field(Money(what="Cost price")),
        "sellingPrice": Field(Money(what="Selling price")),
        "taxCode": Field(Reference()),
        "salesAccountCode": Field(Reference()),
        "purchaseAccountCode": Field(Reference()),
        "salesAccountExternalId": Field(ExternalReference()),
        "purchaseAccountExternalId": Field(ExternalReference()),
        "reorderLevel": Field(Quantity(what="Reorder level")),
        "reorderQuantity": Field(Quantity(what="Reorder quantity")),
        "trackSerial": Field(Boolean()),
        "trackBatch": Field(Boolean()),
        "active": Field(Boolean()),
        "externalId": Field(ExternalId()),
    }


IDENTITY = {"id": Field(Reference())}


class ItemHandler(MasterDataHandler):
    entity = "items"
    model = Item
    what = "Item"
    operations = frozenset({"create", "update", "upsert", "delete"})
    max_records = 1000
    natural_key = "item_code"
    natural_key_param = "itemCode"
    unique_fields = {"itemCode": ("item_code", False), "externalId": ("external_id", False)}
    match_fields = ("externalId", "itemCode")
    field_map = {
        "itemCode": "item_code",
        "name": "name",
        "description": "description",
        "category": "category",
        "type": "type",
        "unitOfMeasure": "unit_of_measure",
        "costPrice": "cost_price",
        "sellingPrice": "selling_price",
        "reorderLevel": "reorder_level",
        "reorderQuantity": "reorder_quantity",
        "trackSerial": "track_serial",
        "trackBatch": "track_batch",
        "active": "active",
        "externalId": "external_id",
    }
    create_schema = Schema(item_fields())
    # The default chart's sales and purchases accounts and tax codes.
    file_example = [
        {
            "operation": "create",
            "itemCode": "WIDGET-001",
            "name": "Widget",
            "description": "Steel widget, 10 cm",
            "category": "Hardware",
            "type": "inventory",
            "unitOfMeasure": "pieces",
            "costPrice": "6.50",
            "sellingPrice": "10.00",
            "taxCode": "SST",
            "salesAccountCode": "4000",
            "purchaseAccountCode": "5000",
            "reorderLevel": "10",
            "reorderQuantity": "50",
            "trackSerial": "false",
            "trackBatch": "false",
            "active": "true",
        },
    ]
    update_schema = Schema({**item_fields(), **IDENTITY})
    delete_schema = Schema(
        {
            **IDENTITY,
            "itemCode": Field(Text(50, blank=False)),
            "externalId": Field(ExternalReference()),
        }
    )
    # What stops a delete: each is one query for the whole batch.
    dependents = (StockMovement, StockAdjustment, InvoiceLine, BillLine)

    @classmethod
    def template_lists(cls, company) -> dict[str, list[str]]:
        tax_codes = TaxCode.objects.for_company(company).filter(active=True)
        return {"taxCode": template_list(tax_codes, "code")}

    def load_references(self, records) -> None:
        refs = [record.values.get("taxCode") for record in records]
        self.tax_codes = ReferenceIndex(self.scoped(TaxCode), "code", refs)
        params = [param for params in ACCOUNT_PARAMS.values() for param in params]
        codes, external = split_refs((record.values for record in records), params)
        self.accounts = ReferenceIndex(self.scoped(Account), "code", codes, external_refs=external)

    def assignable_attrs(self) -> list[str]:
        # The id, not the object: reading `tax_code` of a stored item would query it.
        accounts = [f"{attr}_id" for attr in ACCOUNT_PARAMS]
        return [*super().assignable_attrs(), "tax_code_id", *accounts]

    def assign_references(self, instance, values) -> set[str]:
        assigned = set()
        if "taxCode" in values:
            instance.tax_code = self.tax_codes.get(values["taxCode"])
            assigned.add("tax_code")
        for attr, params in ACCOUNT_PARAMS.items():
            sent = [param for param in params if param in values]
            if sent:  # when several name different accounts, check() refuses the record
                setattr(instance, attr, self.accounts.lookup(sent[0], values[sent[0]]))
                assigned.add(attr)
        return assigned

    def check(self, record, instance, *, creating: bool) -> list[Detail]:
        ref = record.values.get("taxCode")
        if ref and self.tax_codes.get(ref) is None:
            reference_error(record, "taxCode", "Tax code", ref)
            return []
        for params in ACCOUNT_PARAMS.values():
            for param in params:
                ref = record.values.get(param)
                if ref and self.accounts.lookup(param, ref) is None:
                    reference_error(record, param, "Account", ref)
                    return []
        details = [
            detail
            for params in ACCOUNT_PARAMS.values()
            if (detail := self.account_disagreement(record.values, params))
        ]
        if details:
            return details
        if (
            PRICE_FIELDS & record.values.keys()
            and instance.type == ItemType.INVENTORY
            and instance.selling_price < instance.cost_price
        ):
            record.warn(
                "SELLING_BELOW_COST",
                f"Selling price {instance.selling_price} is below cost price "
                f"{instance.cost_price}.",
                field="sellingPrice",
            )
        return []

    def account_disagreement(self, values: dict, params: tuple[str, ...]) -> Detail | None:
        """A code and an external id sent together must name the same account (or, both
        null, none)."""
        sent = [param for param in params if param in values]
        if len(sent) < 2:
            return None
        first, second = sent
        if self.accounts.lookup(first, values[first]) is self.accounts.lookup(
            second, values[second]
        ):
            return None
        message = f"{first} and {second} name different accounts."
        return Detail(second, message, FieldCode.INVALID_VALUE)

    def rows_in_use(self, pks: list[int]) -> set[int]:
        in_use = set()
        for model in self.dependents:
            # order_by(): an ordering column in the SELECT would defeat DISTINCT.
            rows = self.scoped(model).filter(item_id__in=pks).order_by()
            in_use.update(rows.values_list("item_id", flat=True).distinct())
        return in_use

    def in_use_message(self, instance) -> str:
        return (
            f"Item {instance.item_code} has stock movements, adjustments or document lines "
            "and cannot be deleted."
        )

    def delete_rows(self, pks: list[int]) -> None:
        # Levels cascade with their item; without movements they can only be zero.
        self.scoped(StockLevel).filter(item_id__in=pks).delete()
        super().delete_rows(pks)


HANDLERS = [ItemHandler]
