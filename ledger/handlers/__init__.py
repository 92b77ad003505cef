"""Batch handlers for the ledger's entities, one module each; every module lists its
handlers in HANDLERS, and ready() registers them."""

from importlib import import_module

HANDLER_MODULES = ["parties", "journals", "documents", "payments", "accounts"]


def register_all() -> None:
    from batch.engine.handlers import register

    for name in HANDLER_MODULES:
        for handler in import_module(f"{__name__}.{name}").HANDLERS:
            register(handler)
