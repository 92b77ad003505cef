"""The items and stock ledger documents sell and buy: a declared interface.

Invoice and bill lines name items and move their stock, but ledger does not import the app
that keeps them. That app provides its item model and its stock book here at start-up
(inventory does, in its AppConfig). What ledger relies on of an item: a tenant model
(`for_company`) with `public_id`, `item_code`, `name`, `active`, and the optional accounts
`sales_account` / `purchase_account`; of a location: `public_id`, `code`, `active`."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.db.models import Model


class StockShortage(ValueError):
    """A move would take out more than is on hand (and the company forbids negative stock)."""

    def __init__(self, on_hand: Decimal):
        super().__init__(f"only {on_hand.normalize():f} on hand")
        self.on_hand = on_hand


@dataclass
class StockMove:
    """Units of an item moved at a location: quantity and value signed, in positive."""

    item: Any
    location: Any
    quantity: Decimal
    unit_cost: Decimal
    value: Decimal


class StockLevels(Protocol):
    """Stock on hand of some (item, location) pairs, moved in memory: a batch validates on
    it in request order, and a document service moves it, then saves it."""

    def issue(self, item, location, quantity: Decimal, *, allow_negative: bool) -> StockMove:
        """Take units out at the moving average cost; StockShortage when not on hand."""

    def receive(self, item, location, quantity: Decimal, value: Decimal) -> StockMove:
        """Put units in worth `value`; the moving average follows."""

    def undo(self, move: StockMove, *, allow_negative: bool) -> StockMove:
        """The opposite of `move`, applied: units and value back where they came from."""

    def checkpoint(self) -> Any:
        """What restore() needs to put the levels back as they are now."""

    def restore(self, checkpoint: Any) -> None: ...


class StockBook(Protocol):
    """What trade documents need of the app that keeps stock."""

    def holds_stock(self, item) -> bool:
        """Whether lines of this item move stock (services and non-stock items do not)."""

    def location_model(self) -> type[Model]: ...

    def default_location(self, *, company) -> Model | None:
        """Where a line that names no location moves stock."""

    def levels(self, *, company, pairs: Iterable[tuple[int, int]], lock: bool) -> StockLevels:
        """The levels of (item id, location id) pairs, locked for the transaction when
        `lock` (the caller will write), else only read."""

    def moves_of(
        self, *, company, line_field: str, document_field: str, document_ids: Iterable[int]
    ) -> dict[int, list[StockMove]]:
        """The moves the current lines of these documents made, by document id."""

    def release(
        self, *, company, line_field: str, document_field: str, document_ids: Iterable[int]
    ) -> None:
        """Unlink these documents' moves from their lines, which are about to be replaced;
        the movements stay, as history."""

    def record(self, *, company, levels: StockLevels, line_field: str, moves: list[tuple]) -> None:
        """Write movements — (line or None, StockMove, reference) — and the levels."""


_provided: dict[str, Any] = {}


def provide_item_model(model: type[Model]) -> None:
    _provided["items"] = model


def provide_stock_book(book: StockBook) -> None:
    _provided["stock"] = book


def item_model() -> type[Model]:
    return _lookup("items")


def stock_book() -> StockBook:
    return _lookup("stock")


def _lookup(key: str):
    try:
        return _provided[key]
    except KeyError:
        raise LookupError(f"No installed app provides {key} to ledger.") from None
