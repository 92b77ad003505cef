from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class BatchConfig(AppConfig):
    name = "batch"
    verbose_name = "Batch operations"

    def ready(self) -> None:
        # Entity apps register their handlers in their `handlers` module, found here as the
        # admin finds `admin` modules: the engine never names an entity app.
        autodiscover_modules("handlers")
        from batch.webhooks import notify  # noqa: F401  (connects its job_finished receiver)
