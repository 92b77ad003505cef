from django.urls import path

from batch.api import files as file_views
from batch.api import profiles as profile_views
from batch.api import views
from batch.api import webhooks as webhook_views

urlpatterns = [
    path("batch", views.CompositeBatchView.as_view(), name="batch-composite"),
    path("batch/jobs", views.JobListView.as_view(), name="batch-jobs"),
    path("batch/jobs/<str:job_id>", views.JobDetailView.as_view(), name="batch-job"),
    path("batch/jobs/<str:job_id>/results", views.JobResultsView.as_view(), name="batch-results"),
    path("batch/jobs/<str:job_id>/cancel", views.JobCancelView.as_view(), name="batch-cancel"),
    path("batch/jobs/<str:job_id>/retry", views.JobRetryView.as_view(), name="batch-retry"),
    path("webhooks", webhook_views.WebhookListView.as_view(), name="webhooks"),
    path("webhooks/<str:webhook_id>", webhook_views.WebhookDetailView.as_view(), name="webhook"),
    path(
        "webhooks/<str:webhook_id>/deliveries",
        webhook_views.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path("batch/metrics", views.MetricsView.as_view(), name="batch-metrics"),
    path(
        "batch/mapping-profiles",
        profile_views.MappingProfileListView.as_view(),
        name="batch-mapping-profiles",
    ),
    path(
        "batch/mapping-profiles/propose",
        profile_views.MappingProfileProposeView.as_view(),
        name="batch-mapping-profiles-propose",
    ),
    path(
        "batch/mapping-profiles/<str:key>",
        profile_views.MappingProfileDetailView.as_view(),
        name="batch-mapping-profile",
    ),
    # A migration file (several entities) before the per-entity file paths it resembles.
    path(
        "batch/import-csv",
        file_views.MigrationCsvImportView.as_view(),
        name="batch-migration-import-csv",
    ),
    path(
        "batch/import-excel",
        file_views.MigrationExcelImportView.as_view(),
        name="batch-migration-import-excel",
    ),
    path(
        "batch/templates/excel/migration",
        file_views.MigrationTemplateView.as_view(),
        name="batch-migration-template",
    ),
    path(
        "batch/<slug:entity>/import-csv",
        file_views.CsvImportView.as_view(),
        name="batch-import-csv",
    ),
    path(
        "batch/<slug:entity>/import-excel",
        file_views.ExcelImportView.as_view(),
        name="batch-import-excel",
    ),
    path(
        "batch/<slug:entity>/template.csv",
        file_views.CsvTemplateView.as_view(),
        name="batch-template-csv",
    ),
    path(
        "batch/templates/excel/<slug:entity>",
        file_views.ExcelTemplateView.as_view(),
        name="batch-template-excel",
    ),
    path("batch/<slug:entity>", views.BatchView.as_view(), name="batch"),
]
