"""Every /v1 route. Entity apps contribute their read routes through their api.urls."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bigledger.api import openapi  # noqa: F401  (registers the OpenAPI bearer scheme)

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("batch.api.urls")),
    path("", include("ledger.api.urls")),
    path("", include("inventory.api.urls")),
]
