"""JSON out with Decimals as exact JSON numbers (10000.00, never 10000.0 through a float)."""

from decimal import Decimal

import simplejson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from bigledger import json_text

_DRF = JSONEncoder()  # how DRF writes dates and times, lazy text, sets …


class _DecimalPassthroughEncoder(simplejson.JSONEncoder):
    def default(self, obj):
        return _DRF.default(obj)


def _default(obj):
    """Decimals exact, the rest as DRF writes them."""
    if isinstance(obj, Decimal):
        return json_text.exact_decimal(obj)
    return _DRF.default(obj)


class DecimalJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        try:
            return json_text.dumps(data, default=_default)
        except TypeError:  # what only simplejson writes as it should (bigledger.json_text)
            return simplejson.dumps(
                data,
                cls=_DecimalPassthroughEncoder,
                use_decimal=True,
                ensure_ascii=False,
                separators=(",", ":"),
                allow_nan=False,
            ).encode()
