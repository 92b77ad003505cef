"""Text a client can send but no one can store or read back: lone surrogates.

JSON may spell a UTF-16 surrogate on its own ("\\ud800"); the parser hands it over as a
Python str that UTF-8 cannot encode, so PostgreSQL, the JSON renderer and a CSV download
would each fail on it. The field parsers refuse such text (a record's INVALID_VALUE), and
everything a result echoes of the request passes through `displayable` first."""

from typing import Any

# What a record is told when a text field (or its referenceId) holds a lone surrogate.
NOT_UNICODE = (
    "Must be valid Unicode text: a \\uD800-\\uDFFF escape must be half of a surrogate pair."
)


def is_encodable(text: str) -> bool:
    """True unless `text` holds a lone surrogate."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def displayable(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys included, at any depth)
    replaced by U+FFFD, as any UTF-8 decoder shows bytes it cannot read; anything else is
    returned as it is."""
    if isinstance(value, str):
        return value if is_encodable(value) else _replaced(value)
    if isinstance(value, dict):
        return {displayable(key): displayable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [displayable(item) for item in value]
    return value


def _replaced(text: str) -> str:
    # A surrogate pair that arrived as two code points becomes its one character again.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
