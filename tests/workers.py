"""Real Celery workers for tests: separate processes on Redis, reading the test database."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from batch.jobs.processing import claim
from batch.worker import Sweeper

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


class Worker:
    """One `celery worker` process group — with beat embedded (-B) unless beat=False, as
    production may run it — started, waited for, killed. Its log is
    test-artifacts/worker-<name>-<pid of the test run>.log."""

    def __init__(self, name: str, concurrency: int = 2, beat: bool = True, **env):
        ARTIFACTS.mkdir(exist_ok=True)
        name = f"{name}-{os.getpid()}"  # several test runs may share the checkout
        self.log_path = ARTIFACTS / f"worker-{name}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
            "BATCH_SWEEP_SECONDS": "1",  # beat's sweep, where beat runs
            "BIGLEDGER_VAR_DIR": str(ARTIFACTS / f"var-{name}"),
            **{key: str(value) for key, value in env.items()},
        }
        self.concurrency = concurrency
        self.beat = beat
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Worker":
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "bigledger",
                "worker",
                *(["-B"] if self.beat else []),
                f"--concurrency={self.concurrency}",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                f"--hostname={self.log_path.stem}-{time.time_ns()}@test",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log_path.read_text(errors="replace"):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker — parent, pool children and beat — as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def flush_broker() -> None:
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


def queued_messages() -> int:
    """Messages waiting in the broker's default queue."""
    return redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("celery")


def claim_and_die(job_pk: int) -> None:
    """What a worker that claimed the job and was killed leaves behind: the job processing,
    its liveness lock freed with the dead worker's connection."""

    def claim_on_its_own_connection():
        try:
            assert claim(job_pk) is not None
        finally:
            connection.close()

    thread = threading.Thread(target=claim_on_its_own_connection)
    thread.start()
    thread.join(timeout=30)


def wait_for(predicate, timeout: float = 60, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def stop_shared_worker(workers: dict) -> None:
    """Stop the session's shared worker (the `_workers` fixture's), for a test that must be
    the only one consuming the queue."""
    if "main" in workers:
        workers.pop("main").stop()


def sweep_as_a_worker() -> None:
    """A tick of the sweeper in a worker's main process (batch.worker), which sweeps without
    beat — on its own connection, as there, closed after so that its lock goes too."""

    def tick():
        try:
            Sweeper(interval=1).tick()
        finally:
            connection.close()

    thread = threading.Thread(target=tick)
    thread.start()
    thread.join(30)
