"""Signals for what happens after a job: webhooks listen to `job_finished`."""

from django.dispatch import Signal

job_finished = Signal()  # sent with job=BatchJob once its final status has committed
