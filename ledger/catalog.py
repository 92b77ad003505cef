"""The items ledger documents sell and buy: a declared interface.

Invoice and bill lines name items, but ledger does not import the app that keeps them. That
app provides its item model here at start-up (inventory does, in its AppConfig), and ledger
finds items through `item_model()`. What ledger relies on: a tenant model (`for_company`)
with `public_id`, `item_code`, `name` and `active`."""

from django.db.models import Model

_provided: dict[str, type[Model]] = {}


def provide_item_model(model: type[Model]) -> None:
    _provided["items"] = model


def item_model() -> type[Model]:
    try:
        return _provided["items"]
    except KeyError:
        raise LookupError("No installed app provides items to ledger.") from None
