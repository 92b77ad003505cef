"""A batch's record: sync batches (batch_…) and async jobs (job_…) alike, so lists and
metrics see all work."""

from django.conf import settings
from django.db import models

from bigledger.models import PublicIdField, TenantModel


class JobMode(models.TextChoices):
    SYNC = "sync", "Synchronous"
    ASYNC = "async", "Asynchronous"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class BatchJob(TenantModel):
    public_id = PublicIdField()
    entity = models.CharField(max_length=30)
    mode = models.CharField(max_length=5, choices=JobMode.choices, default=JobMode.SYNC)
    source = models.CharField(max_length=10, default="api", help_text="api, csv, excel, admin")
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    options = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total_records = models.PositiveIntegerField(default=0)
    processed_records = models.PositiveIntegerField(default=0)
    successful_records = models.PositiveIntegerField(default=0)
    failed_records = models.PositiveIntegerField(default=0)
    skipped_records = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    deleted_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    execution_time = models.FloatField(null=True, blank=True, help_text="Seconds.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "status"]),
            models.Index(fields=["company", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.entity} ({self.status})"
