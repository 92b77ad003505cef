"""A small batch parsed whole gives the skim's envelope, or leaves the body to the skim
whenever the parsed value could hide what the skim would find."""

import io

import pytest

from batch.api.json_stream import parsed_envelope, skim
from batch.engine.envelope import parse_json


def both(text: bytes):
    return parsed_envelope(parse_json(text), text), skim(io.BytesIO(text))


@pytest.mark.parametrize(
    "text",
    [
        b'{"operations": [{}, {"a": [1, {"b": 2}]}, "x"]}',
        b'{"options": {"async": true, "matchOn": ["email"]}, "operations": [{}]}',
        b'{"operations": [{"data": {"opts": 1}}], "options": null}',
    ],
)
def test_a_plain_body_parsed_whole_gives_the_skims_envelope(text):
    parsed, skimmed = both(text)

    assert parsed == skimmed


@pytest.mark.parametrize(
    "text",
    [
        b'{"options": {}, "options": {"async": true}, "operations": [{}]}',  # given twice
        b'{"operations": [{}], "op\\u0065rations": [{}, {}]}',  # twice, once escaped
        b'{"operations": [{}], "options": {"matchOn": [["email"]]}}',  # deeper than the skim
        b'{"operations": [{}], "options": {"async": {"deep": true}}}',
        b'{"operations": [{}], "extra": 1}',
        b'{"operations": [{"data": {"options": 1}}], "options": null}',  # a key's name inside
        b'{"operations": []}',
        b'["operations"]',
    ],
)
def test_a_body_the_parse_could_misread_is_left_to_the_skim(text):
    assert parsed_envelope(parse_json(text), text) is None


@pytest.mark.django_db
def test_a_key_given_twice_is_still_refused_through_the_endpoint(api):
    body = b'{"operations": [], "operations": [{"operation": "create", "data": {}}]}'

    response = api.post("/v1/batch/customers", body, content_type="application/json")

    assert response.status_code == 400
    assert "operations more than once" in response.json()["error"]["message"]
