"""Reading a request's body without holding it whole.

The declared length is checked before any of the body is read. The body is then copied once,
as it arrives, into a temporary file — in memory while small, on disk past
FILE_UPLOAD_MAX_MEMORY_SIZE; never `request.body`, which Django keeps whole in memory up to
DATA_UPLOAD_MAX_MEMORY_SIZE (64 MiB here) — and everything after reads that file: the
idempotency fingerprint hashes it chunk by chunk, the rate limiter and the views read the
batch from it.

A JSON batch is first skimmed in one streaming pass (ijson over yajl, which builds nothing):
the envelope's keys, its options, how many operations it carries, and how deeply it nests.
That answers the rate limiter and decides the path. A sync batch (at most an entity's
maximum) is then parsed whole, as it always was. An async one keeps its operations in the
file: the job reads them chunk by chunk as it stores them, so the web process never holds
more than a few chunks of a 100,000-operation request. Both paths read numbers as Decimal and
refuse NaN and Infinity, and both refuse what parse_batch_request refuses, in its order."""

import functools
import itertools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import ijson
from django.conf import settings

from batch.engine.codes import RequestCode
from batch.engine.envelope import (
    BatchOptions,
    BatchRequest,
    Operation,
    parse_batch_request,
    parse_json,
    parse_operations,
)
from bigledger.client_json import MAX_NESTING
from bigledger.errors import RequestError, TooLarge, UnsupportedFormat

READ_BYTES = 64 * 1024  # read from the client, hashed, and handed to the JSON parser at a time
PARSE_BATCH = 1_000  # async operations built and checked at a time
ENVELOPE_KEYS = ("operations", "options")
KEPT_NAMES = 32  # unknown keys (and options) kept for the refusal: more only cost memory
_UTF8_BOM = b"\xef\xbb\xbf"


def declared_length(request) -> int:
    """The body's length as the client declares it; a declaration that is not a whole
    number is refused rather than guessed at."""
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except ValueError:
        length = -1
    if length < 0:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            "Content-Length must be a whole number of bytes.",
            details=[{"field": "Content-Length", "message": "Not a whole number."}],
        )
    return length


def check_body_length(request, limit: int | None = None) -> None:
    """Refuse, before the body is read, a body declared longer than `limit` bytes
    (BATCH_MAX_BODY_BYTES by default)."""
    limit = settings.BATCH_MAX_BODY_BYTES if limit is None else limit
    length = declared_length(request)
    if length > limit:
        raise _too_large(length, limit)


def _too_large(length: int, limit: int) -> TooLarge:
    return TooLarge(
        RequestCode.PAYLOAD_TOO_LARGE,
        f"The body is {length} bytes; the limit is {limit}.",
        details=[{"size": length, "limit": limit}],
    )


def _once(request, attribute: str, make: Callable):
    """`make()` once per request; a refusal is raised again each time it is asked for."""
    if not hasattr(request, attribute):
        try:
            setattr(request, attribute, (make(), None))
        except RequestError as error:
            setattr(request, attribute, (None, error))
    value, error = getattr(request, attribute)
    if error is not None:
        raise error
    return value


# The body, read once ---------------------------------------------------------------------------


class RequestBody:
    """A request's body as the client sent it, kept in a temporary file (anonymous: it goes
    when closed). One reader at a time: each starts from the beginning."""

    def __init__(self, file, size: int):
        self._file = file
        self.size = size

    @property
    def is_small(self) -> bool:
        """Held in memory rather than on disk."""
        return self.size <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    def chunks(self) -> Iterator[bytes]:
        self._file.seek(0)
        while chunk := self._file.read(READ_BYTES):
            yield chunk

    def read(self) -> bytes:
        self._file.seek(0)
        return self._file.read()

    def json_stream(self) -> BinaryIO:
        """The file from its JSON text on: past a UTF-8 byte-order mark, which the whole-body
        parser accepts and yajl does not."""
        self._file.seek(0)
        if self._file.read(len(_UTF8_BOM)) != _UTF8_BOM:
            self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()


def request_body(request) -> RequestBody:
    """The request's body, read from the client once (413 when over BATCH_MAX_BODY_BYTES,
    declared or sent)."""
    return _once(request, "_batch_body", lambda: _spool(request))


def _spool(request) -> RequestBody:
    limit = settings.BATCH_MAX_BODY_BYTES
    check_body_length(request, limit)
    file = tempfile.SpooledTemporaryFile(  # noqa: SIM115  (kept open for the request; closes_body)
        max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
    )
    size, stream = 0, request.stream  # None when the body is empty
    while stream is not None and (chunk := stream.read(READ_BYTES)):
        size += len(chunk)
        if size > limit:
            file.close()
            raise _too_large(size, limit)
        file.write(chunk)
    return RequestBody(file, size)


def closes_body(post):
    """Outermost decorator of a view whose body this module reads: the body's temporary file
    is closed once the view has answered, not whenever the request is collected."""

    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        try:
            return post(view, request, *args, **kwargs)
        finally:
            if getattr(request, "_batch_body", (None,))[0] is not None:
                request._batch_body[0].close()

    return wrapper


# JSON ------------------------------------------------------------------------------------------


def _check_json_content_type(request) -> None:
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedFormat(
            RequestCode.UNSUPPORTED_MEDIA_TYPE, "Send the batch as application/json."
        )


def read_json_body(request) -> object:
    """The JSON body parsed whole, once per request (a small body: a sync batch, a retry's
    corrections); a refused body raises the same error each time it is asked for."""

    def parse():
        _check_json_content_type(request)
        return parse_json(request_body(request).read())

    return _once(request, "_batch_json", parse)


@dataclass(frozen=True)
class Envelope:
    """What the skim of a JSON batch found: its options, and how many operations it has."""

    options: BatchOptions
    operation_count: int


def read_envelope(request) -> Envelope:
    """The batch envelope skimmed from the body, once per request: the same refusals as
    parse_batch_request (not JSON, not an object, an unknown or repeated key, bad options,
    no operations), and nesting deeper than MAX_NESTING, without building the operations."""

    def skim():
        _check_json_content_type(request)
        return _skim(request_body(request))

    return _once(request, "_batch_envelope", skim)


def operation_count(request) -> int:
    """How many operations a JSON batch carries, for the large-batch rate limit — from the
    skim, which the view then uses too. A body the view will refuse counts as none: the view
    answers it."""
    try:
        return read_envelope(request).operation_count
    except RequestError:
        return 0


def read_batch_request(request) -> BatchRequest:
    """The batch a JSON body asks for. Sync: parsed whole. Async: its operations stay in the
    body's file and are parsed and checked (objects, referenceIds unique across the whole
    request) as they are read — a refusal met then comes before the job is accepted."""
    envelope = read_envelope(request)
    if not envelope.options.run_async:
        return parse_batch_request(read_json_body(request))
    operations = StreamedOperations(request_body(request), envelope.operation_count)
    return BatchRequest(operations=operations, options=envelope.options)


class StreamedOperations:
    """An async batch's operations, read from the body's file each time they are iterated.
    Sized (from the skim) and iterable, which is all storing a job asks of its operations."""

    def __init__(self, body: RequestBody, count: int):
        self._body = body
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Operation]:
        raw = ijson.items(self._body.json_stream(), "operations.item", use_float=False)
        seen: dict[str, int] = {}
        try:
            for start in itertools.count(0, PARSE_BATCH):
                batch = list(itertools.islice(raw, PARSE_BATCH))
                if not batch:
                    return
                yield from parse_operations(batch, start=start, seen=seen)
        except ijson.JSONError as error:  # the skim read the same bytes: not expected
            raise _invalid_json(error) from None


def _invalid_json(error: Exception) -> RequestError:
    reason = (str(error).strip().splitlines() or ["cannot be read"])[0]
    return RequestError(RequestCode.INVALID_JSON, f"Request body is not valid JSON: {reason}")


# The skim -------------------------------------------------------------------------------------


class _Skim:
    """The envelope's top level as yajl's events pass: its keys, its options (built one
    level deep: a nested value stands in as an empty one, which BatchOptions refuses as
    it would the value) and its operations, counted."""

    def __init__(self):
        self.top: str | None = None  # "object", or what the body is instead
        self.seen = dict.fromkeys(ENVELOPE_KEYS, 0)
        self.unknown: set[str] = set()
        self.key: str | None = None
        self.options: Any = None
        self.option: str | None = None
        self.operations: str | None = None  # "list", or what it is instead
        self.count = 0

    def feed(self, events) -> None:
        # Millions of events pass here, nearly all keys and strings deep inside operations:
        # they are let go first and with the fewest comparisons.
        depth = 0
        for event, value in events:
            if event == "map_key" or event == "string":
                if depth > 2:
                    continue
            elif event == "start_map" or event == "start_array":
                depth += 1
                if depth > MAX_NESTING:
                    raise RequestError(
                        RequestCode.INVALID_JSON,
                        "Request body is not valid JSON: arrays and objects nest deeper "
                        f"than {MAX_NESTING} levels",
                    )
                if depth <= 3:
                    self._container(depth, event)
                continue
            elif event == "end_map" or event == "end_array":
                depth -= 1
                continue
            elif depth > 2:
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
        elif self.key == "options":
            self._option(empty)

    def _scalar_or_key(self, depth: int, event: str, value) -> None:
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
        elif self.key == "options":
            self._option(value)

    def _option(self, value) -> None:
        # Past KEPT_NAMES names some are unknown, which refuses the options whatever the rest.
        if isinstance(self.options, dict) and len(self.options) < KEPT_NAMES:
            self.options[self.option] = value

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
        return Envelope(options=options, operation_count=self.count)


def _skim(body: RequestBody) -> Envelope:
    skim = _Skim()
    try:
        skim.feed(ijson.basic_parse(body.json_stream(), buf_size=READ_BYTES, use_float=False))
    except ijson.JSONError as error:
        if body.is_small:  # the whole-body parser's words, which say where (as they always did)
            parse_json(body.read())
        raise _invalid_json(error) from None
    return skim.envelope()
