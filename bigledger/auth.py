"""`Authorization: Bearer <api key>`: the key names one user in one company."""

import functools

from django.contrib.auth import backends, get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiKey, hash_api_key
from .sql import column, table

LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not raw_key.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        try:  # get(), not first(): an unordered query, built in half the time
            api_key = ApiKey.objects.select_related("company", "user").get(
                key_hash=hash_api_key(raw_key.strip()), revoked_at__isnull=True
            )
        except ApiKey.DoesNotExist:
            api_key = None
        if api_key is None or not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        self._touch(api_key)
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        # Naming a scheme makes DRF answer 401 (not 403) to a request without credentials.
        return f'{self.keyword} realm="api"'

    @staticmethod
    def _touch(api_key: ApiKey) -> None:
        now = timezone.now()
        last = api_key.last_used_at
        if last is None or (now - last).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


class ModelBackend(backends.ModelBackend):
    """Django's, with a user's own permissions and their groups' read by one statement of
    plain SQL instead of two built by the ORM: every batch request asks
    (batch.engine.handlers.BatchContext.can), and building the two querysets cost more than
    running them. Superusers, inactive and anonymous users are Django's own answers."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                cursor.execute(_permissions_statement(), [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {f"{label}.{codename}" for label, codename in cursor}
        return user_obj._perm_cache


@functools.cache
def _permissions_statement() -> str:
    """The app label and codename of each permission a user holds, directly or through a
    group; the user's id twice."""
    user = get_user_model()
    own = user._meta.get_field("user_permissions").remote_field.through
    membership = user._meta.get_field("groups").remote_field.through
    granted = Group._meta.get_field("permissions").remote_field.through
    member = user._meta.model_name  # the through tables' column naming the user
    return (
        f"SELECT ct.{column(ContentType, 'app_label')}, p.{column(Permission, 'codename')} "
        f"FROM {table(Permission)} p JOIN {table(ContentType)} ct "
        f"ON ct.{column(ContentType, 'id')} = p.{column(Permission, 'content_type')} "
        f"WHERE p.{column(Permission, 'id')} IN ("
        f"SELECT {column(own, 'permission')} FROM {table(own)} "
        f"WHERE {column(own, member)} = %s "
        f"UNION ALL SELECT g.{column(granted, 'permission')} "
        f"FROM {table(granted)} g JOIN {table(membership)} m "
        f"ON m.{column(membership, 'group')} = g.{column(granted, 'group')} "
        f"WHERE m.{column(membership, member)} = %s)"
    )
