"""`Authorization: Bearer <api key>`: the key names one user in one company."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiKey, hash_api_key

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
        api_key = (
            ApiKey.objects.select_related("company", "user")
            .filter(key_hash=hash_api_key(raw_key.strip()), revoked_at__isnull=True)
            .first()
        )
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
