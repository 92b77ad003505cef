"""A job's liveness lock: who may process a job, and which processing jobs lost their
processor. On PostgreSQL it is a session advisory lock, which the server frees the moment a
killed worker's connection drops, so a job whose lock is free has no live processor. SQLite
has no such locks: there a processing job whose heartbeat (its last committed chunk) is
older than BATCH_JOB_STALE_SECONDS counts as abandoned.

Its receiving lock is the same kind of lock, held by the web process while it stores a
job whose chunks workers run as they arrive (batch.jobs.submit; PostgreSQL only): a job
still receiving whose lock is free lost the request that was sending it."""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from batch.models import BatchJob, JobMode, JobStatus

LOCK_NAMESPACE = 7_242_001  # first key of the two-key advisory lock: "batch job"
RECEIVING_NAMESPACE = 7_242_002  # "batch job being received"

# The advisory locks of this database (pg_locks lists every database's) in the two-key form
# (objsubid 2), whose keys pg_locks shows as classid and objid.
HELD_JOB_LOCKS = """
    SELECT objid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = %s
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def take_liveness_lock(job: BatchJob) -> bool:
    """Make this connection the job's processor, unless a live one holds it."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, job.pk])
            return cursor.fetchone()[0]
    return job.status != JobStatus.PROCESSING or _heartbeat_is_stale(job.heartbeat_at)


def release_liveness_lock(job_pk: int) -> None:
    if is_postgres():
        _unlock(LOCK_NAMESPACE, job_pk)


def take_receiving_lock(job_pk: int) -> None:
    """Say, for as long as this connection lives or until released, that it is storing the
    job (a new job: no one else holds its lock)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [RECEIVING_NAMESPACE, job_pk])


def release_receiving_lock(job_pk: int) -> None:
    _unlock(RECEIVING_NAMESPACE, job_pk)


def _unlock(namespace: int, job_pk: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, job_pk])


def interrupted_receipt_ids() -> list[int]:
    """Jobs still receiving that no web process is storing any more: it died, or lost its
    connection, before the last of the job's chunks committed."""
    if not is_postgres():
        return []
    # The lock is taken before the job's first commit, so a receiving job read here whose
    # lock is free next has lost its sender (or has just finished: receiving is then false,
    # which the caller's update checks again).
    receiving = BatchJob.objects.filter(receiving=True)
    return _unheld(list(receiving.values_list("pk", flat=True)), RECEIVING_NAMESPACE)


def orphaned_job_ids() -> list[int]:
    """Processing jobs that no live worker holds: their worker died (or gave the job up
    without recording an end), so they can be resumed at once."""
    processing = BatchJob.objects.filter(mode=JobMode.ASYNC, status=JobStatus.PROCESSING)
    if not is_postgres():
        stale_before = timezone.now() - timedelta(seconds=settings.BATCH_JOB_STALE_SECONDS)
        return list(processing.filter(heartbeat_at__lt=stale_before).values_list("pk", flat=True))
    # A job's lock is taken before its `processing` status commits, so a job read here whose
    # lock is free next has lost its processor (or just finished: enqueuing it is harmless).
    return _unheld(list(processing.values_list("pk", flat=True)), LOCK_NAMESPACE)


def _unheld(job_pks: list[int], namespace: int) -> list[int]:
    """Those of the jobs whose lock in `namespace` no session holds."""
    if not job_pks:
        return []
    with connection.cursor() as cursor:
        cursor.execute(HELD_JOB_LOCKS, [namespace])
        held = {int(objid) for (objid,) in cursor.fetchall()}
    return [pk for pk in job_pks if pk not in held]


def _heartbeat_is_stale(heartbeat_at) -> bool:
    stale_before = timezone.now() - timedelta(seconds=settings.BATCH_JOB_STALE_SECONDS)
    return heartbeat_at is None or heartbeat_at < stale_before
