"""JSON with exact decimals: answers are read with Decimal for every number with a point,
and Decimals sent are written as plain decimal text, which the API reads exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> str:
    """The same text for the same value, whatever the order of its keys (for fingerprints)."""
    return json.dumps(value, default=_default, separators=(",", ":"), sort_keys=True)


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)
