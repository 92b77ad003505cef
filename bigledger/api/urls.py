"""Every /v1 route. Entity apps contribute their read routes through their api.urls."""

from django.urls import include, path

urlpatterns = [
    path("", include("batch.urls")),
    path("", include("ledger.api.urls")),
    path("", include("inventory.api.urls")),
]
