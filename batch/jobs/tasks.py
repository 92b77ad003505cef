"""Celery tasks of jobs: thin wrappers. Messages are acknowledged only after the task ran
(acks_late) and rejected back to the queue when the worker process dies. Names are fixed, so
the modules that enqueue them send them by name and import nothing from here."""

from celery import shared_task

from batch.jobs.processing import help_job, process_job
from batch.jobs.submit import HELP_JOB_TASK, RUN_JOB_TASK
from batch.jobs.sweep import sweep


@shared_task(name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_pk: int) -> None:
    process_job(job_pk)


@shared_task(name=HELP_JOB_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def help_job_task(job_pk: int) -> None:
    help_job(job_pk)


@shared_task(name="batch.sweep_jobs", ignore_result=True)
def sweep_jobs() -> dict:
    return sweep()
