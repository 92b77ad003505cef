from django.apps import AppConfig


class BatchConfig(AppConfig):
    name = "batch"
    verbose_name = "Batch operations"

    def ready(self) -> None:
        from .models import BatchJob
        from .signals import job_finished
        from .webhooks import on_job_finished

        job_finished.connect(on_job_finished, sender=BatchJob, dispatch_uid="batch.webhooks")
