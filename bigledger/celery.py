"""The Celery app; a worker starts with `celery -A bigledger worker`, and beat (optional)
with `celery -A bigledger beat`."""

import os

from celery import Celery
from celery.signals import worker_process_init

from bigledger.heap import freeze_startup_heap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")

app = Celery("bigledger")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["batch.jobs", "batch.webhooks"])
# Imported when a worker starts: every worker sweeps in its main process, so beat is optional.
app.conf.imports = ["batch.worker"]


@worker_process_init.connect
def _freeze_startup_heap(**kwargs) -> None:
    """Each pool process, once started, keeps its start-up heap out of the collector's way
    (bigledger.heap)."""
    freeze_startup_heap()
