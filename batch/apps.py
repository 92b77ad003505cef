from django.apps import AppConfig


class BatchConfig(AppConfig):
    name = "batch"
    verbose_name = "Batch operations"

    def ready(self) -> None:
        from batch.models import BatchJob
        from batch.signals import job_finished
        from batch.webhooks.delivery import on_job_finished

        job_finished.connect(on_job_finished, sender=BatchJob, dispatch_uid="batch.webhooks")
