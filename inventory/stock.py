"""Inventory's stock book for trade documents (ledger.catalog.StockBook): invoices take stock
out at the moving average cost, bills put it in at their net unit cost, and an updated
document's movements are undone by opposite movements. Provided to ledger at start-up."""

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Case, F, IntegerField, Value, When

from bigledger.models import Company
from bigledger.money import ZERO, to_money
from ledger.catalog import StockMove, StockShortage

from .defaults import DEFAULT_LOCATIONS
from .models import ItemType, Location, StockLevel, StockMovement
from .services import COST, empty_stock_level, lock_stock_levels


class LevelBook:
    """StockLevel rows by (item id, location id), moved in memory."""

    def __init__(self, company: Company, levels: dict[tuple[int, int], StockLevel]):
        self.company = company
        self.levels = levels

    def level(self, item, location) -> StockLevel:
        key = (item.pk, location.pk)
        if key not in self.levels:  # only read (validateOnly), or a pair nobody stocked yet
            self.levels[key] = empty_stock_level(company=self.company, item=item, location=location)
        return self.levels[key]

    def issue(self, item, location, quantity: Decimal, *, allow_negative: bool) -> StockMove:
        level = self.level(item, location)
        if quantity > level.quantity and not allow_negative:
            raise StockShortage(level.quantity)
        # The last unit out takes what value is left, so no cents stay behind.
        if quantity == level.quantity:
            value = -level.value
        else:
            value = -to_money(quantity * level.average_cost)
        unit_cost = level.average_cost
        self._move(level, -quantity, value)
        return StockMove(item, location, -quantity, unit_cost, value)

    def receive(self, item, location, quantity: Decimal, value: Decimal) -> StockMove:
        level = self.level(item, location)
        self._move(level, quantity, value)
        unit_cost = (value / quantity).quantize(COST, ROUND_HALF_UP)
        return StockMove(item, location, quantity, unit_cost, value)

    def undo(self, move: StockMove, *, allow_negative: bool) -> StockMove:
        level = self.level(move.item, move.location)
        if move.quantity > level.quantity and not allow_negative:
            raise StockShortage(level.quantity)
        self._move(level, -move.quantity, -move.value)
        return StockMove(move.item, move.location, -move.quantity, move.unit_cost, -move.value)

    @staticmethod
    def _move(level: StockLevel, quantity: Decimal, value: Decimal) -> None:
        level.quantity += quantity
        level.value += value
        if level.quantity > 0:
            level.average_cost = (level.value / level.quantity).quantize(COST, ROUND_HALF_UP)

    def checkpoint(self) -> dict:
        return {
            key: (level.quantity, level.average_cost, level.value)
            for key, level in self.levels.items()
        }

    def restore(self, checkpoint: dict) -> None:
        for key, level in self.levels.items():
            level.quantity, level.average_cost, level.value = checkpoint.get(
                key, (Decimal(0), Decimal(0), ZERO)
            )


class InventoryStockBook:
    def holds_stock(self, item) -> bool:
        return item.type == ItemType.INVENTORY

    def location_model(self) -> type[Location]:
        return Location

    def default_location(self, *, company: Company) -> Location | None:
        """The company's main warehouse, else its first active location."""
        main = DEFAULT_LOCATIONS[0][0]
        return (
            Location.objects.for_company(company)
            .filter(active=True)
            .order_by(
                Case(When(code=main, then=Value(0)), default=1, output_field=IntegerField()),
                "code",
            )
            .first()
        )

    def levels(
        self, *, company: Company, pairs: Iterable[tuple[int, int]], lock: bool
    ) -> LevelBook:
        pairs = set(pairs)
        if lock:
            return LevelBook(company, lock_stock_levels(company=company, pairs=pairs))
        if not pairs:
            return LevelBook(company, {})
        rows = StockLevel.objects.for_company(company).filter(
            item_id__in={item_id for item_id, _ in pairs},
            location_id__in={location_id for _, location_id in pairs},
        )
        return LevelBook(
            company,
            {key: row for row in rows if (key := (row.item_id, row.location_id)) in pairs},
        )

    def moves_of(
        self, *, company: Company, line_field: str, document_field: str, document_ids
    ) -> dict[int, list[StockMove]]:
        document_ids = set(document_ids)
        moves: dict[int, list[StockMove]] = {}
        if not document_ids:
            return moves
        movements = (
            StockMovement.objects.for_company(company)
            .filter(**{f"{line_field}__{document_field}_id__in": document_ids})
            .annotate(document_id=F(f"{line_field}__{document_field}_id"))
            .select_related("item", "location")
            .order_by("id")
        )
        for movement in movements:
            moves.setdefault(movement.document_id, []).append(
                StockMove(
                    movement.item,
                    movement.location,
                    movement.quantity,
                    movement.unit_cost,
                    movement.value,
                )
            )
        return moves

    def release(
        self, *, company: Company, line_field: str, document_field: str, document_ids
    ) -> None:
        StockMovement.objects.for_company(company).filter(
            **{f"{line_field}__{document_field}_id__in": set(document_ids)}
        ).update(**{line_field: None})

    def record(
        self, *, company: Company, levels: LevelBook, line_field: str, moves: list[tuple]
    ) -> None:
        if not moves:
            return
        StockMovement.objects.bulk_create(
            StockMovement(
                company=company,
                item=move.item,
                location=move.location,
                quantity=move.quantity,
                unit_cost=move.unit_cost,
                value=move.value,
                reference=reference,
                **{line_field: line},
            )
            for line, move, reference in moves
        )
        StockLevel.objects.bulk_update(
            levels.levels.values(), ["quantity", "average_cost", "value"]
        )
