"""The Celery app; a worker starts with `celery -A bigledger worker`, and beat (optional)
with `celery -A bigledger beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")

app = Celery("bigledger")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["batch.jobs", "batch.webhooks"])
# Imported when a worker starts: every worker sweeps in its main process, so beat is optional.
app.conf.imports = ["batch.worker"]
