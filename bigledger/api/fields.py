"""Read-only serializer field kinds every app's read API shares: money and quantities as
exact JSON numbers, related rows as their public ids."""

from functools import partial

from rest_framework import serializers

Money = partial(
    serializers.DecimalField,
    max_digits=18,
    decimal_places=2,
    coerce_to_string=False,
    read_only=True,
)
Quantity = partial(
    serializers.DecimalField,
    max_digits=18,
    decimal_places=4,
    coerce_to_string=False,
    read_only=True,
)
PublicId = partial(serializers.SlugRelatedField, slug_field="public_id", read_only=True)
