"""A JSON batch read as a stream: the lone-surrogate scan and the skim. No database."""

import io

import pytest
import simplejson

from batch.api.json_stream import NotJson, SurrogateScan, backend, parsed_envelope, skim
from bigledger.errors import RequestError


def scanned(text: bytes, size: int) -> bool:
    scan = SurrogateScan()
    for start in range(0, len(text), size):
        scan.feed(text[start : start + size])
    return scan.found


@pytest.mark.parametrize(
    ("text", "lone"),
    [
        (rb'"plain"', False),
        (rb'"\ud83d\ude00 and \uD83D\uDE01"', False),
        (rb'"\ud800"', True),
        (rb'"\udc00"', True),
        (rb'"\ud800\ud800\udc00"', True),
        (rb'"\\ud800"', False),  # an escaped backslash, then text
        (rb'"\\\ud800"', True),  # an escaped backslash, then the escape
        (rb'"\\ud83d\udc00"', True),  # text, then a lone low surrogate
        (rb'"\ud83d\\udc00"', True),  # a lone high surrogate, then text
        (b'"' + b"\\\\" * 40 + rb'\ud800"', True),
        (b'"' + b"\\\\" * 40 + b'ud800"', False),
    ],
)
def test_the_scan_finds_a_lone_surrogate_however_the_text_is_cut(text, lone):
    assert {scanned(text, size) for size in range(1, len(text) + 1)} == {lone}


def test_a_body_with_a_lone_surrogate_is_read_by_the_backend_that_keeps_it():
    text = b'{"operations": [{"data": {"name": "x\\ud800"}}], "options": {"async": true}}'

    envelope = skim(io.BytesIO(text), parser=backend(spells_lone_surrogate=True))

    assert (envelope.operation_count, envelope.options.run_async) == (1, True)


def test_the_skim_counts_operations_wherever_the_options_are():
    text = b'{"operations": [{"a": [1, {"b": 2}]}, {}, "x"], "options": {"async": true}}'

    envelope = skim(io.BytesIO(text))

    assert (envelope.operation_count, envelope.options.run_async) == (3, True)


def test_the_skim_reads_match_on_as_the_envelope_does():
    text = b'{"options": {"matchOn": ["email", "externalId"], "async": true}, "operations": [{}]}'

    envelope = skim(io.BytesIO(text))

    assert envelope.options.match_on == ("email", "externalId")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (b'{"operations": [{}], "options": {"async": {"deep": true}}}', "true or false"),
        (b'{"operations": [{}], "options": {"matchOn": {"email": 1}}}', "list of 1 to 5"),
        (b'{"operations": [{}], "options": {"matchOn": [["email"]]}}', "list of 1 to 5"),
        (b'{"operations": [{}], "options": {"matchOn": ["email", 3]}}', "list of 1 to 5"),
        (b'{"operations": [{}], "options": {"matchOn": []}}', "list of 1 to 5"),
        (b'{"operations": [{}], "options": [true]}', "options must be an object"),
        (b'{"operations": [{}], "extra": [[[]]]}', "Unknown key: extra."),
        (b'{"options": {}, "options": {}, "operations": [{}]}', "options more than once"),
        (b'"operations"', "must be a JSON object"),
    ],
)
def test_the_skim_refuses_what_the_envelope_refuses(text, says):
    with pytest.raises(RequestError) as refused:
        skim(io.BytesIO(text))

    assert says in refused.value.message


def test_nesting_past_the_limit_is_refused_as_it_is_read():
    with pytest.raises(RequestError) as refused:
        skim(io.BytesIO(b'{"operations": [' + b"[" * 100_000))

    assert refused.value.code == "INVALID_JSON"


@pytest.mark.parametrize("text", [b"", b"{", b'{"operations": [NaN]}', b'{"a": 1} x', b'"\xff"'])
def test_text_that_is_not_json_is_not_json(text):
    with pytest.raises(NotJson):
        skim(io.BytesIO(text))


@pytest.mark.parametrize(
    ("operations", "refuses_none"),
    [
        (b'[{"referenceId": "a"}, {"referenceId": "b", "data": {"referenceId": "a"}}]', True),
        (b'[{"data": {}}, {"referenceId": null}, {"referenceId": 7}, {"referenceId": "8"}]', True),
        (b'[{"referenceId": "a"}, {"data": {}}, {"referenceId": "a"}]', False),
        (b'[{"referenceId": 7}, {"referenceId": "7"}]', False),  # one referenceId, as text
        (b'[{"referenceId": {"id": "a"}}]', False),
        (b'[{"referenceId": ["a"]}]', False),
        (b'[{"referenceId": 1.5}]', False),
        (b'[{"data": {}}, "create"]', False),
        (b'[{"data": {}}, ["create"]]', False),
    ],
)
def test_the_skim_tells_whether_reading_the_operations_will_refuse_none(operations, refuses_none):
    """As parse_operations reads them: objects, referenceIds strings or integers, none
    repeated — whichever way the body is read."""
    text = b'{"operations": ' + operations + b', "options": {"async": true}}'
    assert skim(io.BytesIO(text)).refuses_none is refuses_none
    payload = simplejson.loads(text, use_decimal=True)
    assert parsed_envelope(payload, text).refuses_none is refuses_none
