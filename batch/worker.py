"""The sweeper every Celery worker runs in its main process, so a deployment needs no beat:
a thread that, every BATCH_WORKER_SWEEP_SECONDS, runs the same sweep as beat's task
(batch.jobs.sweep.sweep: ends the receiving of jobs whose web process died storing them,
hands workers the jobs whose worker died and the queued jobs that have a free slot, deletes
what expired), enqueuing a job it enqueued lately only once it was claimed, and every minute
re-sends overdue webhook deliveries. It starts when the worker is ready (loaded through the
Celery app's `imports`).

One worker at a time sweeps: the one holding the sweeper's PostgreSQL advisory lock, which
the others try for at each tick; when that worker dies its connection drops, the lock frees,
and another worker takes over at its next tick. It runs in the main process, not in the pool,
so busy pool processes never delay it."""

import logging
import threading
import time

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import connection

from batch.jobs.liveness import is_postgres
from batch.jobs.submit import enqueue
from batch.jobs.sweep import sweep
from batch.webhooks.notify import resend_overdue_deliveries

logger = logging.getLogger(__name__)

SWEEPER_LOCK = (7_242_002, 0)  # the two keys of the advisory lock: "batch sweeper"
# A job this sweeper enqueued and nobody has claimed since is enqueued again only this much
# later: its message is waiting behind busy workers and needs no copy every tick.
REENQUEUE_AFTER_SECONDS = 30
RESEND_WEBHOOKS_EVERY_SECONDS = 60


class Sweeper(threading.Thread):
    def __init__(self, interval: float):
        super().__init__(name="batch-sweeper", daemon=True)
        self.interval = interval
        self.stopping = threading.Event()
        self.leading = False
        self.enqueued_at: dict[tuple[int, int], float] = {}  # (job pk, claims) → when
        self.webhooks_resent_at: float | None = None

    def run(self) -> None:
        logger.info("sweeping every %s s while this worker leads", self.interval)
        while not self.stopping.is_set():
            self.tick()
            self.stopping.wait(self.interval)
        connection.close()  # frees the sweeper's lock for another worker at once

    def tick(self) -> None:
        try:
            if self.lead():
                sweep(enqueue_due=self.enqueue_new)
                self.resend_overdue_webhooks()
        except Exception:
            logger.exception("sweep failed; the next one is in %s s", self.interval)
            self.leading = False
            connection.close()  # a broken connection reconnects at the next tick

    def lead(self) -> bool:
        if not is_postgres():
            return True  # SQLite: one machine, and no advisory locks
        if not self.leading:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", SWEEPER_LOCK)
                self.leading = cursor.fetchone()[0]
            self.enqueued_at.clear()
        return self.leading

    def enqueue_new(self, due: dict[int, int]) -> None:
        """Enqueue the due jobs (job pk → claims) but those this sweeper enqueued lately and
        nobody has claimed since."""
        now = time.monotonic()
        recent = {
            job: at for job, at in self.enqueued_at.items() if now - at < REENQUEUE_AFTER_SECONDS
        }
        for job_pk, claims in due.items():
            if (job_pk, claims) not in recent:
                enqueue(job_pk)
                recent[job_pk, claims] = now
        self.enqueued_at = recent

    def resend_overdue_webhooks(self) -> None:
        now = time.monotonic()
        last = self.webhooks_resent_at
        if last is None or now - last >= RESEND_WEBHOOKS_EVERY_SECONDS:
            resend_overdue_deliveries()
            self.webhooks_resent_at = now


_sweeper: Sweeper | None = None


@worker_ready.connect(dispatch_uid="batch.worker.start_sweeper")
def start_sweeper(**kwargs) -> None:
    global _sweeper
    interval = settings.BATCH_WORKER_SWEEP_SECONDS
    if interval > 0 and _sweeper is None:
        _sweeper = Sweeper(interval)
        _sweeper.start()


@worker_shutdown.connect(dispatch_uid="batch.worker.stop_sweeper")
def stop_sweeper(**kwargs) -> None:
    if _sweeper is not None:
        _sweeper.stopping.set()
        _sweeper.join(timeout=10)
