"""Read-only serializer field kinds every app's read API shares: money and quantities as
exact JSON numbers, related rows as their public ids."""

import decimal
from functools import partial

from rest_framework import serializers


class ExactDecimal(serializers.DecimalField):
    """A read-only decimal written at a fixed scale (`decimal_places`), whatever its size.

    DRF's DecimalField rounds within `max_digits` and fails on a value that has more; a
    column holds 18 digits, but what PostgreSQL sums over many rows (a trial balance, a
    total owed) has no such bound, and an answer must never fail for it."""

    def __init__(self, *, decimal_places: int, **kwargs):
        kwargs.setdefault("coerce_to_string", False)
        kwargs.setdefault("read_only", True)
        super().__init__(max_digits=None, decimal_places=decimal_places, **kwargs)

    def quantize(self, value: decimal.Decimal) -> decimal.Decimal:
        if not value.is_finite():
            return value
        digits = max(value.adjusted(), 0) + 1 + self.decimal_places
        context = decimal.Context(prec=digits + 1, rounding=self.rounding)
        return value.quantize(decimal.Decimal(1).scaleb(-self.decimal_places), context=context)


Money = partial(ExactDecimal, decimal_places=2)
Quantity = partial(ExactDecimal, decimal_places=4)
PublicId = partial(serializers.SlugRelatedField, slug_field="public_id", read_only=True)
