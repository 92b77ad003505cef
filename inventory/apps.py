from django.apps import AppConfig

from ledger.catalog import provide_item_model, provide_stock_book


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from .stock import InventoryStockBook  # models are importable only once apps are ready

        provide_item_model(self.get_model("Item"))  # invoice and bill lines name our items
        provide_stock_book(InventoryStockBook())  # and move their stock
