from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "BigLedger Batch"
admin.site.site_title = "BigLedger Batch"
admin.site.index_title = "Books, imports and jobs"
# The admin's "View site" leads to `/`, which is the admin's front door: staff work there,
# and the API's callers have /v1/docs.
admin.site.site_url = "/"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("v1/", include("bigledger.api.urls")),
    path("health/", include("batch.api.health")),
]
