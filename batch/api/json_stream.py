"""A JSON batch read as a stream with ijson, never built whole: the skim of its envelope (keys,
options, how many operations, how deeply it nests) and its operations, parsed a batch at a
time. What it reads from is a seekable binary file (batch.api.body keeps the request's).

ijson parses with yajl in C. yajl cannot keep a lone UTF-16 surrogate ("\\ud800" not half of a
pair): it writes '?' for a high one and bytes no decoder reads for a low one, where the
whole-body parser keeps the text and the field parsers refuse it as the record's error. So a
body that spells one — which SurrogateScan tells while the body is read — is parsed with
ijson's pure-Python backend, which keeps it; slower, and only ever for such bodies."""

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import InvalidOperation
from typing import Any, BinaryIO

import ijson

from batch.engine.codes import RequestCode
from batch.engine.envelope import BatchOptions, Operation, parse_operations, refuses_none
from bigledger.client_json import MAX_NESTING
from bigledger.errors import RequestError

READ_BYTES = 64 * 1024  # handed to the parser at a time
PARSE_BATCH = 1_000  # operations built and checked at a time
ENVELOPE_KEYS = ("operations", "options")
KEPT_NAMES = 32  # unknown keys (and options) kept for the refusal: more only cost memory

_EXACT_BACKEND = ijson.get_backend("python")


def backend(*, spells_lone_surrogate: bool, has_long_digit_run: bool = False):
    """The ijson backend for a body: yajl's, unless the body spells a lone surrogate or
    holds a run of digits too long for yajl's C backend to turn into a number safely."""
    return _EXACT_BACKEND if spells_lone_surrogate or has_long_digit_run else ijson


class NotJson(ValueError):
    """The text is not JSON; the message is the parser's reason."""


def invalid_json(reason: str) -> RequestError:
    return RequestError(RequestCode.INVALID_JSON, f"Request body is not valid JSON: {reason}")


def _reason(error: Exception) -> str:
    return (str(error).strip().splitlines() or ["it cannot be read"])[0]


# Lone surrogates --------------------------------------------------------------------------------

_ESCAPED_BACKSLASH = b"\\\\"
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_PAIR_BYTES = 12


class SurrogateScan:
    """Whether JSON text, fed chunk by chunk, escapes a UTF-16 surrogate other than as half of
    a pair. Escaped backslashes are set aside first (pairing from the left, as JSON reads
    them), so every backslash left starts an escape; then each surrogate escape must be in a
    high-low pair. Exact, and linear in the text."""

    def __init__(self):
        self._pending = b""  # the text not yet counted (a backslash or an escape may continue)
        self._escapes = self._pairs = 0

    def feed(self, chunk: bytes) -> None:
        text = self._pending + chunk
        # A trailing run of backslashes pairs with what follows: keep back its last one if odd.
        run = len(text) - len(text.rstrip(b"\\"))
        held = run % 2
        text = (
            text[: len(text) - held].replace(_ESCAPED_BACKSLASH, b"##") + text[len(text) - held :]
        )
        self._count(text, end=len(text) - (_PAIR_BYTES - 1))

    def _count(self, text: bytes, *, end: int) -> None:
        # Matches starting before `end` are whole; the rest is counted with the next chunk.
        self._escapes += sum(1 for match in _SURROGATE.finditer(text) if match.start() < end)
        self._pairs += sum(1 for match in _PAIR.finditer(text) if match.start() < end)
        self._pending = text[max(end, 0) :]

    @property
    def found(self) -> bool:
        """Whether the text fed so far, taken as complete, spells a lone surrogate."""
        escapes = self._escapes + len(_SURROGATE.findall(self._pending))
        pairs = self._pairs + len(_PAIR.findall(self._pending))
        return escapes != 2 * pairs


# Long numbers ----------------------------------------------------------------------------------

# Python makes no int of more digits (sys.get_int_max_str_digits() is 4,300), and yajl's C
# backend, asked to, fails without cleaning up after itself — later the process can crash.
LONG_DIGIT_RUN = 4_000
_DIGITS = b"0123456789"
# Digits as "1" and the rest as "0", then a plain substring search for a long run of "1":
# a fifteenth of the time of the regex [0-9]{4001,}, which restarts inside every run.
_DIGIT_MAP = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x30 for byte in range(256))
_LONG_RUN = b"1" * (LONG_DIGIT_RUN + 1)


class DigitRunScan:
    """Whether text, fed chunk by chunk, holds a run of more than LONG_DIGIT_RUN digits (in a
    number or a string alike: such a body is then parsed by ijson's pure-Python backend, which
    refuses a number that long as not JSON and reads a string as it is)."""

    def __init__(self):
        self._run = 0  # digits ending the text fed so far
        self.found = False

    def feed(self, chunk: bytes) -> None:
        if self.found or not chunk:
            return
        head = len(chunk) - len(chunk.lstrip(_DIGITS))
        if head == len(chunk):
            self._run += head
        else:
            if self._run + head > LONG_DIGIT_RUN or _LONG_RUN in chunk.translate(_DIGIT_MAP):
                self.found = True
            self._run = len(chunk) - len(chunk.rstrip(_DIGITS))
        self.found = self.found or self._run > LONG_DIGIT_RUN


# The skim --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """What the skim of a JSON batch found: its options, how many operations it has, and
    whether reading them will refuse none (objects, referenceIds well-formed and unique)."""

    options: BatchOptions
    operation_count: int
    refuses_none: bool = False


def skim(stream: BinaryIO, *, parser=ijson) -> Envelope:
    """The envelope of the JSON batch in `stream`, refused as parse_batch_request refuses it
    (not an object, an unknown key, bad options, no operations) and also for a key given
    twice or nesting deeper than MAX_NESTING; NotJson when it is not JSON at all. Builds
    nothing but the options."""
    found = _Skim()
    try:
        found.feed(parser.basic_parse(stream, buf_size=READ_BYTES, use_float=False))
    except (ijson.JSONError, UnicodeDecodeError, InvalidOperation) as error:
        # InvalidOperation: a number whose exponent no Decimal holds (1e99999999999999999999)
        raise NotJson(_reason(error)) from None
    return found.envelope()


class _Skim:
    """The envelope's top level as the parser's events pass: its keys, its options (built one
    level deep: a nested value stands in as an empty one, which BatchOptions refuses as it
    would the value) and its operations, counted."""

    def __init__(self):
        self.top: str | None = None  # "object", or what the body is instead
        self.seen = dict.fromkeys(ENVELOPE_KEYS, 0)
        self.unknown: set[str] = set()
        self.key: str | None = None
        self.options: Any = None
        self.option: str | None = None
        self.operations: str | None = None  # "list", or what it is instead
        self.count = 0
        self.plain = True  # every operation an object, no referenceId an array or object
        self.reference_ids: list = []  # the operations' referenceIds (of those that have one)

    def feed(self, events) -> None:
        # Millions of events pass here, nearly all inside operations' data: they are let go
        # first and with the fewest comparisons.
        depth = 0
        wants_reference = False  # the next value at depth 3 is an operation's referenceId
        for event, value in events:
            if depth > 3:  # inside an operation's data, or deeper: only the nesting counts
                if event == "start_map" or event == "start_array":
                    depth += 1
                    if depth > MAX_NESTING:
                        raise invalid_json(
                            f"arrays and objects nest deeper than {MAX_NESTING} levels"
                        )
                elif event == "end_map" or event == "end_array":
                    depth -= 1
                continue
            if event == "map_key" or event == "string":
                if depth == 3 and self.key != "options":
                    if wants_reference:
                        self.reference_ids.append(value)
                        wants_reference = False
                    elif event == "map_key" and value == "referenceId":
                        wants_reference = True
                    continue
            elif event == "start_map" or event == "start_array":
                depth += 1
                if depth > MAX_NESTING:
                    raise invalid_json(f"arrays and objects nest deeper than {MAX_NESTING} levels")
                if wants_reference:  # a referenceId that is an array or an object
                    self.plain, wants_reference = False, False
                if depth <= 3:
                    self._container(depth, event)
                continue
            elif event == "end_map" or event == "end_array":
                depth -= 1
                continue
            elif depth == 3 and self.key != "options":
                if wants_reference:
                    self.reference_ids.append(value)
                    wants_reference = False
                continue
            self._scalar_or_key(depth, event, value)

    def _container(self, depth: int, event: str) -> None:
        empty = {} if event == "start_map" else []
        if depth == 1:
            self.top = "object" if event == "start_map" else "array"
        elif depth == 2:
            self._value(empty, "list" if event == "start_array" else "object")
        elif self.key == "operations" and self.operations == "list":
            self.count += 1  # an operation (an object, if it is right)
            self.plain = self.plain and event == "start_map"
        elif self.key == "options":
            self._option(empty)

    def _scalar_or_key(self, depth: int, event: str, value) -> None:
        if depth == 3:  # inside an option's list or object (only "options" gets here)
            if event != "map_key":
                self._option_item(value)
            return
        if depth == 0:
            self.top = "scalar"
        elif event == "map_key":
            if depth == 1:
                self.key = value
                if value in self.seen:
                    self.seen[value] += 1
                elif len(self.unknown) < KEPT_NAMES:
                    self.unknown.add(value)
            elif self.key == "options":
                self.option = value
        elif depth == 1:
            self._value(value, "scalar")
        elif self.key == "operations" and self.operations == "list":
            self.count += 1  # an operation that is not an object: parse_operations refuses it
            self.plain = False
        elif self.key == "options":
            self._option(value)

    def _option(self, value) -> None:
        # Past KEPT_NAMES names some are unknown, which refuses the options whatever the rest.
        if isinstance(self.options, dict) and len(self.options) < KEPT_NAMES:
            self.options[self.option] = value

    def _option_item(self, value) -> None:
        # An element of an option's list (options.matchOn); anything deeper stays empty.
        if isinstance(self.options, dict) and isinstance(self.options.get(self.option), list):
            self.options[self.option].append(value)

    def _value(self, value, kind: str) -> None:
        if self.key == "options":
            self.options = value
        elif self.key == "operations":
            self.operations = kind

    def envelope(self) -> Envelope:
        """The skim's findings, refused as parse_batch_request would refuse the body."""
        if self.top != "object":
            raise RequestError(RequestCode.INVALID_REQUEST, "The body must be a JSON object.")
        if self.unknown:
            unknown = ", ".join(sorted(self.unknown))
            raise RequestError(RequestCode.INVALID_REQUEST, f"Unknown key: {unknown}.")
        repeated = [key for key, times in self.seen.items() if times > 1]
        if repeated:
            raise RequestError(
                RequestCode.INVALID_REQUEST,
                f"The body gives {' and '.join(repeated)} more than once.",
            )
        options = BatchOptions.from_json(self.options)
        if self.operations != "list" or not self.count:
            raise RequestError(
                RequestCode.INVALID_REQUEST, "operations must be a non-empty list of operations."
            )
        references = ({"referenceId": value} for value in self.reference_ids)
        return Envelope(
            options=options,
            operation_count=self.count,
            refuses_none=self.plain and refuses_none(references),
        )


# A body parsed whole ---------------------------------------------------------------------------

_LITERAL_KEYS = tuple(b'"%s"' % key.encode() for key in ENVELOPE_KEYS)
_FLAT = (str, bool, int, type(None))  # option values the skim reads as they are


def parsed_envelope(payload: Any, text: bytes) -> Envelope | None:
    """The skim's envelope of a body already parsed whole (`payload`, from `text`), so a
    small batch is read once, not skimmed and then parsed; None when only the skim can tell
    — whenever it would refuse the body, a top-level key may be given twice (its name
    appears twice in the text, or is spelled with an escape), or options nest deeper than
    the skim reads them or name more than it keeps."""
    if not isinstance(payload, dict) or not payload.keys() <= set(ENVELOPE_KEYS):
        return None
    if b"\\u" in text or any(text.count(key) > 1 for key in _LITERAL_KEYS):
        return None
    operations, options = payload.get("operations"), payload.get("options")
    if not isinstance(operations, list) or not operations or not _flat_options(options):
        return None
    return Envelope(
        options=BatchOptions.from_json(options),
        operation_count=len(operations),
        refuses_none=refuses_none(operations),
    )


def _flat_options(options: Any) -> bool:
    if options is None:
        return True
    return (
        isinstance(options, dict)
        and len(options) < KEPT_NAMES
        and all(
            isinstance(value, _FLAT)
            or (isinstance(value, list) and all(isinstance(item, _FLAT) for item in value))
            for value in options.values()
        )
    )


# The operations --------------------------------------------------------------------------------


class StreamedOperations:
    """A JSON batch's operations, read from its file each time they are iterated and checked
    as parse_operations checks them (objects; referenceIds unique across the whole request).
    Sized (from the skim) and iterable, which is all storing a job asks of its operations."""

    def __init__(self, open_stream: Callable[[], BinaryIO], count: int, *, parser=ijson):
        self._open_stream = open_stream
        self._count = count
        self._parser = parser

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Operation]:
        stream = self._open_stream()
        raw = self._parser.items(stream, "operations.item", use_float=False, buf_size=READ_BYTES)
        seen: dict[str, int] = {}
        try:
            for start in itertools.count(0, PARSE_BATCH):
                batch = list(itertools.islice(raw, PARSE_BATCH))
                if not batch:
                    return
                yield from parse_operations(batch, start=start, seen=seen)
        except (ijson.JSONError, UnicodeDecodeError, InvalidOperation) as error:  # as the skim
            raise invalid_json(_reason(error)) from None
