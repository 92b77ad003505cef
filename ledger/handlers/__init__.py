"""Batch handlers for the ledger's entities, one module each. The batch app imports this
module at start-up (it looks for a `handlers` module in every app), and each module's
HANDLERS are registered here."""

from batch.engine.handlers import register

from . import accounts, bills, invoices, journals, parties, payments

for module in (accounts, bills, invoices, journals, parties, payments):
    for handler in module.HANDLERS:
        register(handler)
