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


class JobKind(models.TextChoices):
    """What a batch was for, as people tell them apart in lists: a preview writes nothing
    and is never counted as an import."""

    API = "api", "API"
    IMPORT = "import", "Import"
    PREVIEW = "preview", "Preview"
    RETRY = "retry", "Retry"


class JobOutcome(models.TextChoices):
    """How a finished job ended, in words that do not flatter: `failed` when nothing went
    in, `partially_succeeded` when some records failed."""

    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    ROLLED_BACK = "rolled_back", "Rolled back"


class BatchJob(TenantModel):
    public_id = PublicIdField()
    entity = models.CharField(max_length=30)
    mode = models.CharField(max_length=5, choices=JobMode.choices, default=JobMode.SYNC)
    source = models.CharField(max_length=10, default="api", help_text="api, csv, excel, admin")
    kind = models.CharField(max_length=8, choices=JobKind.choices, default=JobKind.API)
    file_name = models.CharField(max_length=255, blank=True, default="")
    file_checksum = models.CharField(
        max_length=64, blank=True, default="", help_text="SHA-256 of the uploaded file."
    )
    file_columns = models.JSONField(
        default=list, blank=True, help_text="The uploaded file's headers, in its order."
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When a preview is deleted; imports never expire."
    )
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
    unchanged_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    rolled_back_records = models.PositiveIntegerField(default=0)
    execution_time = models.FloatField(null=True, blank=True, help_text="Seconds.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Async processing: who holds the job, since when it last showed life, how often it
    # was (re)started, and whether the caller asked it to stop.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # The web process is still storing the job's chunks; workers already run those
    # committed (batch.jobs.submit).
    receiving = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    # When its chunks (operations, results, file cells) were deleted, its retention over
    # (BATCH_RESULTS_RETENTION_DAYS); the job itself and its counts stay.
    results_deleted_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "status"]),
            models.Index(fields=["company", "created_at"]),
            # The sweep's look-up of expired previews, without reading every batch ever run.
            models.Index(
                fields=["expires_at"],
                condition=models.Q(kind="preview"),
                name="batchjob_preview_expiry",
            ),
            # The sweep's look-up of jobs whose results are due for deletion.
            models.Index(
                fields=["completed_at"],
                condition=models.Q(results_deleted_at__isnull=True),
                name="batchjob_results_kept",
            ),
            # The sweep's look-up of jobs still being received (batch.jobs.liveness).
            models.Index(
                fields=["id"], condition=models.Q(receiving=True), name="batchjob_receiving"
            ),
        ]
        constraints = [
            # A job is retried once: its unwritten records go into one retry job, and what
            # that job leaves unwritten is retried from it, so nothing is posted twice.
            models.UniqueConstraint(
                fields=["retry_of"],
                condition=models.Q(retry_of__isnull=False),
                name="batchjob_retried_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.entity} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def outcome(self) -> JobOutcome | None:
        """None until the job has finished."""
        if self.status == JobStatus.CANCELLED:
            return JobOutcome.CANCELLED
        if self.status == JobStatus.ROLLED_BACK:
            return JobOutcome.ROLLED_BACK
        if self.status == JobStatus.FAILED:
            return (
                JobOutcome.FAILED
                if not self.successful_records
                else (JobOutcome.PARTIALLY_SUCCEEDED)
            )
        if self.status != JobStatus.COMPLETED:
            return None
        if not self.failed_records and not self.skipped_records:
            return JobOutcome.SUCCEEDED
        if self.successful_records:
            return JobOutcome.PARTIALLY_SUCCEEDED
        return JobOutcome.FAILED


FINISHED = frozenset(
    {JobStatus.COMPLETED, JobStatus.ROLLED_BACK, JobStatus.FAILED, JobStatus.CANCELLED}
)


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"


class BatchChunk(models.Model):
    """A slice of a job, at most the entity's maximum operations. The chunk's business
    writes, its results and its `done` mark commit in one transaction: a chunk delivered
    twice is skipped the second time, so nothing is applied twice.

    Operations and results are JSON text (exact decimals, compressed by PostgreSQL's
    TOAST): a 100,000-record job is a few hundred rows, not one giant row or 100,000."""

    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    first_index = models.PositiveIntegerField(help_text="Index of its first operation.")
    size = models.PositiveIntegerField()
    status = models.CharField(
        max_length=8, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    operations = models.TextField(blank=True, default="", help_text="JSON; cleared when done.")
    results = models.TextField(blank=True, default="", help_text="JSON list of results.")
    file_cells = models.TextField(
        null=True,
        blank=True,
        help_text="From a file: JSON list, per operation, of its rows' original cells.",
    )
    failed_records = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    keys = models.BinaryField(
        default=b"", help_text="Hashes of the record keys its operations name (batch.jobs.lanes)."
    )
    processed_by = models.CharField(
        max_length=200, blank=True, default="", help_text="The worker process that did it."
    )

    class Meta:
        ordering = ["job_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="batchchunk_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.job} chunk {self.position}"


class BatchReference(models.Model):
    """What an operation of a composite job became, kept because a later chunk names it with
    "$ref:" (batch.jobs.composite). Written in its chunk's transaction, so a resumed job
    resolves its references as the first attempt would have."""

    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="references")
    index = models.PositiveIntegerField(help_text="The operation's position in the request.")
    status = models.CharField(max_length=12)
    public_id = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="batchreference_unique_index")
        ]

    def __str__(self) -> str:
        return f"{self.job} operations[{self.index}] {self.status} {self.public_id}"


class WebhookEvent(models.TextChoices):
    JOB_COMPLETED = "batch.job.completed", "Job completed"
    JOB_FAILED = "batch.job.failed", "Job failed"


def all_webhook_events() -> list[str]:
    return [event.value for event in WebhookEvent]


class WebhookEndpoint(TenantModel):
    """A URL a company wants job events POSTed to. The secret signs each delivery; it is
    kept readable because signing needs it, and shown to the caller only at creation."""

    public_id = PublicIdField("whk")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=all_webhook_events)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["company", "active"])]
        # Registering, listing and deleting endpoints is one right of its own: an endpoint
        # receives every job's outcome, so reading the books does not imply it.
        permissions = [("manage_webhooks", "Can register, list and delete webhook endpoints")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint and the log of trying to deliver it. `payload` is the
    exact JSON body sent (and signed) on every attempt."""

    public_id = PublicIdField("whd")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    job = models.ForeignKey(
        BatchJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A job finishes once: a second job_finished for it must not notify twice.
            models.UniqueConstraint(
                fields=["endpoint", "job", "event"], name="webhookdelivery_unique_job_event"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.public_id} {self.event} ({self.status})"


class MappingProfile(TenantModel):
    """A saved column mapping for one entity's files: which header feeds which field, with
    what transformations (batch.files.transforms). Proposed again when a file with the same
    headers comes back (`headers_key`); the API's file imports name it by `mappingProfile`."""

    entity = models.CharField(max_length=30)
    name = models.CharField(max_length=100)
    columns = models.JSONField(
        default=list,
        help_text='[{"header": …, "field": … or "", "transforms": [...]}], in the file\'s order.',
    )
    headers_key = models.CharField(
        max_length=64, blank=True, default="", help_text="Hash of the normalized headers."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["entity", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "entity", "name"], name="mappingprofile_unique_name"
            )
        ]
        indexes = [models.Index(fields=["company", "entity", "headers_key"])]

    def __str__(self) -> str:
        return f"{self.entity}: {self.name}"


class SweeperHeartbeat(models.Model):
    """When the sweeper last ran (batch.jobs.sweep.record_sweep): one row, written by the
    worker that sweeps and by beat's sweep, read by GET /health/workers to tell whether any
    worker is running at all."""

    swept_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"swept at {self.swept_at:%Y-%m-%d %H:%M:%S}"
