"""Request body parsers of the API's DRF views (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES)."""

import io

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from bigledger.client_json import check_nesting


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing JSON nested deeper than bigledger.client_json.MAX_NESTING
    before parsing it: a ParseError (400 INVALID_JSON) instead of a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            check_nesting(body.decode(encoding))
        except ValueError as error:  # too deep, or not text in its declared encoding
            raise ParseError(f"JSON parse error - {error}") from None
        return super().parse(io.BytesIO(body), media_type, parser_context)
