"""JSON as clients send it: how deeply its arrays and objects nest, found before it is parsed.

Python's JSON parsers recurse once per level, so a body nested a thousand levels deep ends in a
RecursionError (a server error) there, or in whatever walks the parsed value later. No request
of this API nests more than a few levels; anything deeper than MAX_NESTING is refused as
malformed JSON, through the parser's own error type."""

from itertools import accumulate

MAX_NESTING = 64

# Everything but brackets and quotes, which alone decide the nesting.
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'[]{}"')
_LEVEL_CHANGE = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TooDeeplyNested(ValueError):
    """JSON nested deeper than the limit; a ValueError, as a JSON parser's own errors are."""


def nesting_depth(text: bytes | str) -> int:
    """The deepest level of arrays and objects in `text`, counted without recursion; brackets
    inside strings do not count. Exact for valid JSON; for invalid JSON it is exact up to the
    first error, which is as far as a parser gets."""
    text = _as_bytes(text)
    if b"\\" in text:
        # An escaped quote or backslash never opens or closes a string.
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Removing adjacent quotes (an empty string, or the end of one string and the start of
    # the next) keeps every other quote's parity, so what is left outside the remaining
    # quotes is exactly the brackets outside strings.
    marks = text.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    return max(accumulate(map(_LEVEL_CHANGE.__getitem__, marks)), default=0)


def check_nesting(text: bytes | str, limit: int = MAX_NESTING) -> None:
    """Raise TooDeeplyNested when `text` nests arrays and objects deeper than `limit`."""
    text = _as_bytes(text)
    if text.count(b"[") + text.count(b"{") > limit and nesting_depth(text) > limit:
        raise TooDeeplyNested(f"arrays and objects nest deeper than {limit} levels")


def _as_bytes(text: bytes | str) -> bytes:
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
