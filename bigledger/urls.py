from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "BigLedger Batch"
admin.site.site_title = "BigLedger Batch"
admin.site.index_title = "Books, imports and jobs"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("bigledger.api.urls")),
]
