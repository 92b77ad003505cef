from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class BigLedgerConfig(AppConfig):
    name = "bigledger"
    verbose_name = "BigLedger core"

    def ready(self) -> None:
        # Each app's `defaults` module registers what a new company starts with.
        autodiscover_modules("defaults")
