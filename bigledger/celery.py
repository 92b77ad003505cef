"""The Celery app; a worker starts with `celery -A bigledger worker`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")

app = Celery("bigledger")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["batch.jobs", "batch.webhooks"])
