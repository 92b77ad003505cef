"""The read-only API's one tenant-scoping mechanism, its exact-match filters and its router.

Every read viewset derives from `TenantScopedReadOnlyViewSet`: the caller's company scopes the
queryset in one place, so another company's row is simply absent (404 on detail), and reading
needs the model's view permission (403 without it)."""

from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Prefetch, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from bigledger.api.feed import ChangeFeedPagination, DeletionFeedPagination, TombstoneSerializer
from bigledger.api.permissions import REQUIRES_PERMISSIONS, view_permission
from bigledger.models import Tombstone


class ExactQueryParamFilter(BaseFilterBackend):
    """Filters by the view's `query_filters`: camelCase query parameter -> model lookup."""

    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        lookups = {
            lookup: request.query_params[param]
            for param, lookup in getattr(view, "query_filters", {}).items()
            if param in request.query_params
        }
        if not lookups:
            return queryset
        refused = {
            param: ["Must not contain a NUL character."]
            for param in getattr(view, "query_filters", {})
            if "\x00" in request.query_params.get(param, "")
        }
        if refused:  # PostgreSQL text cannot hold one, so no row could match
            raise exceptions.ValidationError(refused)
        try:
            return queryset.filter(**lookups)
        except (DjangoValidationError, ValueError, TypeError) as exc:
            # A value the column cannot hold (a bad date, say) is the caller's mistake: 400.
            raise exceptions.ValidationError({"query": [str(exc)]}) from exc

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": param,
                "required": False,
                "in": "query",
                "description": f"Only rows whose {lookup} matches.",
                "schema": {"type": "string"},
            }
            for param, lookup in getattr(view, "query_filters", {}).items()
        ]


class TenantScopedReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    """List and retrieve one company's rows of `model`, looked up by public id, for a user
    holding the model's view permission.

    Subclasses declare `model`, `serializer_class`, what to join (`select_related`,
    `prefetch_related`) so a page costs a constant number of queries, and `query_filters`.
    """

    model: type[Model]
    select_related: Sequence[str] = ()
    prefetch_related: Sequence[str | Prefetch] = ()
    query_filters: Mapping[str, str] = {}

    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    filter_backends = [ExactQueryParamFilter]
    permission_classes = REQUIRES_PERMISSIONS

    @property
    def required_permissions(self) -> list[str]:
        return [view_permission(self.model)]

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return self.model.objects.none()
        queryset = self.model.objects.for_company(self.request.auth.company)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        if self.prefetch_related:
            queryset = queryset.prefetch_related(*self.prefetch_related)
        return queryset

    def get_object(self) -> Model:
        # Name what was not found; Django's Http404 message is generic.
        try:
            return super().get_object()
        except Http404 as exc:
            raise exceptions.NotFound(f"No {self.model._meta.verbose_name} with this id.") from exc

    def retrieve(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(self.get_object())
        return Response({"success": True, "data": serializer.data})


class SyncedReadOnlyViewSet(TenantScopedReadOnlyViewSet):
    """The read API of a record other systems keep in step with (a SyncedModel): filterable
    by `externalId`, readable as a change feed (`updatedSince`, `cursor`) and with its
    deletions at /v1/{entity}/deleted (docs/api.md, "Change feed and deletions")."""

    pagination_class = ChangeFeedPagination

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.query_filters = {"externalId": "external_id", **cls.query_filters}

    @extend_schema(responses=TombstoneSerializer(many=True))
    @action(
        detail=False,
        url_path="deleted",
        pagination_class=DeletionFeedPagination,
        filter_backends=[],
    )
    def deleted(self, request) -> Response:
        """The records deleted since `since`, in the order they were deleted."""
        tombstones = Tombstone.objects.filter(
            company=request.auth.company, model=self.model._meta.label_lower
        )
        page = self.paginate_queryset(tombstones)
        return self.get_paginated_response(TombstoneSerializer(page, many=True).data)


class OptionalSlashRouter(SimpleRouter):
    """Routes answer with or without the trailing slash: /v1/customers and /v1/customers/."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"
