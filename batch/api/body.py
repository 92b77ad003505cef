"""Reading a request's body without holding it whole.

The declared length is checked before any of the body is read. The body is then copied once,
as it arrives, into a temporary file — in memory while small, on disk past
FILE_UPLOAD_MAX_MEMORY_SIZE; never `request.body`, which Django keeps whole in memory up to
DATA_UPLOAD_MAX_MEMORY_SIZE (64 MiB here) — and everything after reads that file: the
idempotency fingerprint hashes it chunk by chunk, the rate limiter and the views read the
batch from it.

A JSON batch is first skimmed in one streaming pass (batch.api.json_stream, which builds
nothing): the envelope's keys, its options, how many operations it carries, and how deeply it
nests. That answers the rate limiter and decides the path. A body of at most
WHOLE_PARSE_BYTES is parsed whole instead, once, and the envelope read from that when it
shows all the skim would find (json_stream.parsed_envelope); the skim still reads the rest,
and refuses what it refuses. A sync batch (at most an entity's
maximum) is then parsed whole, as it always was. An async one keeps its operations in the
file: the job reads them chunk by chunk as it stores them, so the web process never holds
more than a few chunks of a 100,000-operation request. Both paths read numbers as Decimal and
refuse NaN and Infinity, and both refuse what parse_batch_request refuses, in its order."""

import functools
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

from django.conf import settings

from batch.api import json_stream
from batch.api.json_stream import (
    DigitRunScan,
    Envelope,
    NotJson,
    StreamedOperations,
    SurrogateScan,
)
from batch.engine.codes import RequestCode
from batch.engine.envelope import BatchRequest, parse_batch_request, parse_json
from bigledger.errors import RequestError, TooLarge, UnsupportedFormat

READ_BYTES = 64 * 1024  # read from the client, and hashed, at a time
# A body up to this size (a sync batch's: 500 customers are 130 KB) is parsed whole once, and
# its envelope taken from that, instead of skimmed first.
WHOLE_PARSE_BYTES = 1024 * 1024
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


def once_per_request(request, attribute: str, make: Callable):
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

    def __init__(
        self,
        file,
        size: int,
        *,
        spells_lone_surrogate: bool = False,
        has_long_digit_run: bool = False,
    ):
        self._file = file
        self.size = size
        self.spells_lone_surrogate = spells_lone_surrogate
        self.has_long_digit_run = has_long_digit_run

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

    def json_text(self) -> BinaryIO:
        """The file from its JSON text on: past a UTF-8 byte-order mark, which the whole-body
        parser accepts and yajl does not."""
        self._file.seek(0)
        if self._file.read(len(_UTF8_BOM)) != _UTF8_BOM:
            self._file.seek(0)
        return self._file

    @property
    def json_parser(self):
        """The ijson backend that reads this body exactly (batch.api.json_stream)."""
        return json_stream.backend(
            spells_lone_surrogate=self.spells_lone_surrogate,
            has_long_digit_run=self.has_long_digit_run,
        )

    def close(self) -> None:
        self._file.close()


def request_body(request) -> RequestBody:
    """The request's body, read from the client once (413 when over BATCH_MAX_BODY_BYTES,
    declared or sent)."""
    return once_per_request(request, "_batch_body", lambda: _spool(request))


def _spool(request) -> RequestBody:
    limit = settings.BATCH_MAX_BODY_BYTES
    check_body_length(request, limit)
    file = tempfile.SpooledTemporaryFile(  # noqa: SIM115  (kept open for the request; closes_body)
        max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
    )
    size, stream = 0, request.stream  # stream: None when empty
    surrogates, digit_runs = SurrogateScan(), DigitRunScan()
    while stream is not None and (chunk := stream.read(READ_BYTES)):
        size += len(chunk)
        if size > limit:
            file.close()
            raise _too_large(size, limit)
        file.write(chunk)
        surrogates.feed(chunk)
        digit_runs.feed(chunk)
    return RequestBody(
        file,
        size,
        spells_lone_surrogate=surrogates.found,
        has_long_digit_run=digit_runs.found,
    )


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

    return once_per_request(request, "_batch_json", parse)


def read_envelope(request) -> Envelope:
    """The batch envelope skimmed from the body, once per request: the same refusals as
    parse_batch_request (not JSON, not an object, an unknown or repeated key, bad options,
    no operations), and nesting deeper than MAX_NESTING, without building the operations."""

    def skim():
        _check_json_content_type(request)
        body = request_body(request)
        if body.size <= WHOLE_PARSE_BYTES and (envelope := _parsed_envelope(request)):
            return envelope
        try:
            return json_stream.skim(body.json_text(), parser=body.json_parser)
        except NotJson as error:
            if body.is_small:  # the whole-body parser's words, which say where (as always)
                parse_json(body.read())
            raise json_stream.invalid_json(str(error)) from None

    return once_per_request(request, "_batch_envelope", skim)


def _parsed_envelope(request) -> Envelope | None:
    """The envelope from the body parsed whole (kept for the sync path, which parses it so
    anyway); None when the skim must find it, refusals included, in its own words."""
    try:
        payload = read_json_body(request)
    except RequestError:
        return None
    return json_stream.parsed_envelope(payload, request_body(request).read())


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
    request) as they are read — a refusal met then comes before the job is accepted. When
    the skim found nothing there to refuse, the request is `checked`: its job may be run as
    it is stored (batch.jobs.submit.store_job)."""
    envelope = read_envelope(request)
    if not envelope.options.run_async:
        return parse_batch_request(read_json_body(request))
    body = request_body(request)
    operations = StreamedOperations(
        body.json_text, envelope.operation_count, parser=body.json_parser
    )
    return BatchRequest(
        operations=operations, options=envelope.options, checked=envelope.refuses_none
    )
