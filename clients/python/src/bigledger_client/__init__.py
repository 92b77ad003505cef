"""BigLedger Batch from Python: `BigLedger(api_key=…, base_url=…)`, then
`client.batch.customers.process(operations, options)` with any number of operations."""

from .client import BigLedger
from .errors import ApiError, AuthError, BigLedgerError, NetworkError, RateLimitedError

__all__ = [
    "ApiError",
    "AuthError",
    "BigLedger",
    "BigLedgerError",
    "NetworkError",
    "RateLimitedError",
]
__version__ = "0.1.0"
