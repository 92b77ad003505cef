"""Signals for what happens to a job: webhooks listen to `job_finished`, Idempotency-Key to
`job_stored`."""

from django.dispatch import Signal

# Sent with job=BatchJob once the job has committed (a received job: with its first chunks):
# it will be processed now, whatever becomes of the request that stored it.
job_stored = Signal()
job_finished = Signal()  # sent with job=BatchJob once its final status has committed
