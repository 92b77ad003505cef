from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from bigledger.tenancy import register_company_setup

        from .defaults import setup_ledger_defaults

        register_company_setup(setup_ledger_defaults)

        from .handlers import register_all

        register_all()
