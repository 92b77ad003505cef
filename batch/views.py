"""POST /v1/batch/{entity}: parse, run, answer. Nothing more lives here."""

from django.conf import settings
from rest_framework.response import Response
from rest_framework.views import APIView

from bigledger.api.errors import RequestError

from .codes import RequestCode
from .envelope import parse_batch_request, parse_json
from .services import batch_response, handler_for, run_sync_batch


def read_json_body(request) -> object:
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "application/json":
        raise RequestError(
            RequestCode.UNSUPPORTED_MEDIA_TYPE,
            "Send the batch as application/json.",
            status_code=415,
        )
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.BATCH_MAX_BODY_BYTES:
        raise RequestError(
            RequestCode.PAYLOAD_TOO_LARGE,
            f"The body is {length} bytes; the limit is {settings.BATCH_MAX_BODY_BYTES}.",
            status_code=413,
        )
    return parse_json(request.body)


class BatchView(APIView):
    def post(self, request, entity: str):
        handler_for(entity)  # an unknown entity is 404 whatever the body
        batch_request = parse_batch_request(read_json_body(request))
        job, outcome = run_sync_batch(
            company=request.auth.company, user=request.user, entity=entity, request=batch_request
        )
        return Response(batch_response(job, outcome))
