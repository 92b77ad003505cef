"""JSON out with Decimals as exact JSON numbers (10000.00, never 10000.0 through a float)."""

import simplejson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


class _DecimalPassthroughEncoder(simplejson.JSONEncoder):
    _fallback = JSONEncoder()

    def default(self, obj):
        return self._fallback.default(obj)


class DecimalJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return simplejson.dumps(
            data,
            cls=_DecimalPassthroughEncoder,
            use_decimal=True,
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        ).encode()
