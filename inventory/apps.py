from django.apps import AppConfig

from ledger.catalog import provide_item_model


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        provide_item_model(self.get_model("Item"))  # invoice and bill lines name our items
