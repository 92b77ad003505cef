from django.urls import path

from . import views

urlpatterns = [
    path("batch/jobs", views.JobListView.as_view(), name="batch-jobs"),
    path("batch/jobs/<str:job_id>", views.JobDetailView.as_view(), name="batch-job"),
    path("batch/jobs/<str:job_id>/results", views.JobResultsView.as_view(), name="batch-results"),
    path("batch/jobs/<str:job_id>/cancel", views.JobCancelView.as_view(), name="batch-cancel"),
    path("batch/jobs/<str:job_id>/retry", views.JobRetryView.as_view(), name="batch-retry"),
    path("batch/<slug:entity>", views.BatchView.as_view(), name="batch"),
]
