from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from bigledger.tenancy import register_company_setup

        from .defaults import setup_inventory_defaults

        register_company_setup(setup_inventory_defaults)

        from .handlers import register_all

        register_all()
