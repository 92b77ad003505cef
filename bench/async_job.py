"""100,000 customers as one async job, end to end, against PostgreSQL COPY of the same rows.

Starts a web server and a Celery worker (2 processes) as subprocesses on PostgreSQL and
Redis, posts the job over HTTP, polls it to completion and prints records/s end to end,
the peak RSS (VmHWM) of the web process and of every worker process, and — in the same
run — the time PostgreSQL's COPY takes to load the same rows into the same table, our
physical limit, with the ratio.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigledger_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/11 REDIS_URL=redis://127.0.0.1:6379/11 \\
    python bench/async_job.py
"""

import http.client
import io
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bigledger_bench")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")
# A benchmark measures throughput, not the per-company request limits.
os.environ.setdefault("BATCH_RATE_LIMIT", "100000/min")
os.environ.setdefault("BATCH_LARGE_RATE_LIMIT", "100000/min")

RECORDS = int(os.environ.get("BENCH_RECORDS", 100_000))
SERVER = """
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from bigledger.wsgi import application  # the product's WSGI entry, as gunicorn serves it
class Quiet(WSGIRequestHandler):
    def log_message(self, *args): pass
class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
server = make_server("127.0.0.1", 0, application, server_class=Server,
                     handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def start_server(env: dict) -> tuple[subprocess.Popen, int]:
    """The web server in its own process: (process, port)."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    return server, int(server.stdout.readline())


def start_worker(env: dict, concurrency: int = 2, log=subprocess.DEVNULL) -> subprocess.Popen:
    """A Celery worker of `concurrency` prefork processes, given a few seconds to start;
    its output goes to `log` (a file), else nowhere."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bigledger",
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    time.sleep(4)
    return worker


def start_processes(env: dict) -> tuple[subprocess.Popen, int, subprocess.Popen]:
    server, port = start_server(env)
    return server, port, start_worker(env)


def payload(run: str, records: int = RECORDS) -> bytes:
    import simplejson

    operations = [
        {
            "operation": "create",
            "referenceId": f"r{i}",
            "data": {
                "name": f"Customer {run}-{i}",
                "email": f"c{run}-{i}@example.com",
                "phone": "+60123456789",
                "address": {"city": "Kuala Lumpur", "country": "MY"},
                "creditLimit": "10000.00",
                "paymentTerms": 30,
                "taxNumber": "123456789012",
            },
        }
        for i in range(records)
    ]
    return simplejson.dumps({"operations": operations, "options": {"async": True}}).encode()


def request(port, method, path, key, body=None):
    import simplejson

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = simplejson.loads(response.read())
    connection.close()
    return response.status, data


def copy_baseline(company_id: int, run: str, records: int = RECORDS) -> float:
    """COPY the same rows (every column the engine writes) into ledger_customer."""
    import secrets

    from django.db import connection

    buffer = io.StringIO()
    for i in range(records):
        fields = [
            str(company_id),
            f"cust_copy{secrets.token_hex(8)}",
            f"CP{run[-6:]}-{i}",
            f"Customer {run}-{i}",
            f"copy{run}-{i}@example.com",
            "+60123456789",
            "",
            "Kuala Lumpur",
            "",
            "",
            "MY",
            "10000.00",
            "30",
            "123456789012",
            "active",
            "2026-01-01 00:00:00+00",
            "2026-01-01 00:00:00+00",
        ]
        buffer.write("\t".join(fields) + "\n")
    columns = (
        "company_id, public_id, number, name, email, phone, street, city, state, postal_code, "
        "country, credit_limit, payment_terms, tax_number, status, created_at, updated_at"
    )
    with connection.cursor() as cursor:
        raw = cursor.connection
        started = time.perf_counter()
        with raw.cursor() as pg, pg.copy(f"COPY ledger_customer ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        raw.commit()
        elapsed = time.perf_counter() - started
        cursor.execute("DELETE FROM ledger_customer WHERE number LIKE %s", [f"CP{run[-6:]}-%"])
    return elapsed


def prepare(label: str) -> tuple[str, object, dict]:
    """A migrated database, an empty broker and a fresh company: (run id, credentials, env
    for the server and worker subprocesses)."""
    import django

    django.setup()
    from bench.sync_batch import ensure_database

    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    from bigledger.tenancy import create_company

    run = str(time.time_ns())
    credentials = create_company(
        name=f"{label} bench {run}", username=f"{label.lower()}-{run}", password="x-pw-12345"
    )
    return run, credentials, {**os.environ, "BIGLEDGER_VAR_DIR": str(ROOT / "var" / "bench")}


def wait_for_job(
    port: int, key: str, job_id: str, records: int, interval: float, timeout: float | None = None
) -> dict:
    """Poll the job until it finishes; it must have completed with every record in. A job
    not finished after `timeout` seconds (when given) raises TimeoutError."""
    started = time.perf_counter()
    while True:
        _, job = request(port, "GET", f"/v1/batch/jobs/{job_id}", key)
        if job["data"]["status"] not in ("queued", "processing"):
            break
        if timeout is not None and time.perf_counter() - started > timeout:
            raise TimeoutError(f"job not finished after {timeout:.0f} s: {job['data']}")
        time.sleep(interval)
    assert job["data"]["status"] == "completed", job
    assert job["data"]["progress"]["successfulRecords"] == records, job["data"]["progress"]
    return job


def peak_rss(server: subprocess.Popen, worker: subprocess.Popen) -> dict[str, float]:
    rss = {"web": peak_rss_mb(server.pid), "worker (parent)": peak_rss_mb(worker.pid)}
    for n, child in enumerate(children(worker.pid), start=1):
        rss[f"worker (child {n})"] = peak_rss_mb(child)
    return rss


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    worker.wait(timeout=60)


def stop_processes(server: subprocess.Popen, worker: subprocess.Popen) -> None:
    server.terminate()
    stop_worker(worker)


def main() -> None:
    run, credentials, env = prepare("Async")
    server, port, worker = start_processes(env)
    try:
        body = payload(run)
        started = time.perf_counter()
        status, accepted = request(port, "POST", "/v1/batch/customers", credentials.api_key, body)
        submitted = time.perf_counter() - started
        assert status == 202, accepted
        job = wait_for_job(port, credentials.api_key, accepted["data"]["jobId"], RECORDS, 0.2)
        elapsed = time.perf_counter() - started
        rss = peak_rss(server, worker)
    finally:
        stop_processes(server, worker)
    copy_seconds = copy_baseline(credentials.company.pk, run)
    print(f"records:               {RECORDS}")
    print(f"submit (HTTP 202):     {submitted:.2f} s")
    print(f"end to end:            {elapsed:.2f} s  ->  {RECORDS / elapsed:,.0f} records/s")
    print(f"worker processing:     {job['data']['executionTime']:.2f} s")
    print(
        f"PostgreSQL COPY:       {copy_seconds:.2f} s  ->  {RECORDS / copy_seconds:,.0f} records/s"
    )
    print(f"ratio end to end/COPY: {elapsed / copy_seconds:.1f}x")
    for name, megabytes in rss.items():
        print(f"peak RSS {name:<18} {megabytes:,.0f} MB")


if __name__ == "__main__":
    main()
