from django.apps import AppConfig


class BigLedgerConfig(AppConfig):
    name = "bigledger"
    verbose_name = "BigLedger core"
