"""Mapping-profile endpoints: a company's saved column mappings per entity, and proposals
for a file's headers. They parse the request, call batch.services.profiles, and answer;
permissions are the file imports' own, as a profile only serves them."""

import itertools

from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from batch.api.files import FILE_FIELD, check_upload_headers, parse_form
from batch.api.openapi import profiles as openapi
from batch.engine.codes import RequestCode
from batch.services import imports, profiles
from batch.services.batches import handler_for
from bigledger.errors import RequestError

SAMPLE_ROWS = 5


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise RequestError(RequestCode.INVALID_REQUEST, "The body must be a JSON object.")
    return request.data


def _entity(raw) -> str:
    if not isinstance(raw, str) or not raw:
        raise RequestError(
            RequestCode.INVALID_REQUEST,
            "entity is required.",
            details=[{"field": "entity", "message": "Required.", "code": "REQUIRED"}],
        )
    handler_for(raw)  # an unknown entity is 404
    return raw


class MappingProfileListView(APIView):
    """GET: the company's profiles (?entity= filters). POST {entity, name, columns}: save."""

    parser_classes = [JSONParser]

    @openapi.profile_list_schema
    def get(self, request):
        found = profiles.company_profiles(
            company=request.auth.company, entity=request.query_params.get("entity")
        )
        data = [profiles.profile_json(profile) for profile in found.order_by("entity", "name")]
        return Response({"success": True, "data": data})

    @openapi.profile_create_schema
    def post(self, request):
        body = _body(request)
        profile = profiles.save_profile(
            company=request.auth.company,
            user=request.user,
            entity=_entity(body.get("entity")),
            name=body.get("name"),
            columns=body.get("columns"),
        )
        return Response({"success": True, "data": profiles.profile_json(profile)}, status=201)


class MappingProfileDetailView(APIView):
    """GET, PUT {name, columns} or DELETE one profile, by its id or its name (?entity= when
    two entities have a profile of that name)."""

    parser_classes = [JSONParser]

    def get_profile(self, request, key: str):
        return profiles.find_profile(
            company=request.auth.company, key=key, entity=request.query_params.get("entity")
        )

    @openapi.profile_detail_schema
    def get(self, request, key: str):
        profile = self.get_profile(request, key)
        return Response({"success": True, "data": profiles.profile_json(profile)})

    @openapi.profile_update_schema
    def put(self, request, key: str):
        profile, body = self.get_profile(request, key), _body(request)
        profile = profiles.save_profile(
            company=request.auth.company,
            user=request.user,
            entity=profile.entity,
            name=body.get("name", profile.name),
            columns=body.get("columns"),
            profile=profile,
        )
        return Response({"success": True, "data": profiles.profile_json(profile)})

    @openapi.profile_delete_schema
    def delete(self, request, key: str):
        self.get_profile(request, key).delete()
        return Response(status=204)


class MappingProfileProposeView(APIView):
    """POST multipart {file, entity}: a proposal per header of the file (field, how it was
    found, confidence, sample values) and the saved profile whose headers match, if any."""

    parser_classes = [MultiPartParser]

    @openapi.profile_propose_schema
    def post(self, request):
        check_upload_headers(request)
        parse_form(request)
        entity = _entity(request.data.get("entity"))
        upload = request.FILES.get(FILE_FIELD)
        if upload is None:
            raise RequestError(
                RequestCode.INVALID_REQUEST,
                f"Send the file in the multipart field '{FILE_FIELD}'.",
                details=[{"field": FILE_FIELD, "message": "Required.", "code": "REQUIRED"}],
            )
        kind = imports.XLSX if upload.name.lower().endswith(".xlsx") else imports.CSV
        rows = imports.open_rows(upload, kind)
        samples = [row for _, row in itertools.islice(rows, SAMPLE_ROWS)]
        proposals, match = profiles.proposals_for(
            company=request.auth.company, entity=entity, headers=list(rows.headers), samples=samples
        )
        data = {
            "entity": entity,
            "headers": list(rows.headers),
            "proposals": [proposal.as_json() for proposal in proposals],
            "matchingProfile": profiles.profile_json(match) if match else None,
        }
        return Response({"success": True, "data": data})
