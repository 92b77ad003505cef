"""The web process's memory and speed while it accepts one 100,000-operation async request.

Starts the web server alone as a subprocess on PostgreSQL and Redis (no worker: the job stays
queued; only its submission is measured), warms it with a small async request, then POSTs
the customers of bench/async_job.py as one async batch, its options after its operations,
and prints the seconds to the 202, records/s of submission, and the web process's resident
memory at rest and at its peak (VmRSS before, VmHWM after).

In the same run, as a baseline, a fresh interpreter submits the same body the way the web
process did before it streamed bodies: read whole, parsed whole, then stored through the
same submit_job — without HTTP, which flatters it — and prints its memory growth and
records/s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigledger_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/11 REDIS_URL=redis://127.0.0.1:6379/11 \\
    python bench/async_memory.py            # BENCH_RECORDS=100000

The broker's Redis database is flushed first: give the benchmark a database of its own.
"""

import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bigledger_bench")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")
os.environ.setdefault("BATCH_RATE_LIMIT", "100000/min")
os.environ.setdefault("BATCH_LARGE_RATE_LIMIT", "100000/min")

from bench.async_job import RECORDS, payload, peak_rss_mb, prepare, start_server  # noqa: E402

WARM_UP_RECORDS = 1_000

# The baseline: the body read and parsed whole, then stored, in an interpreter of its own.
WHOLE_BODY = """
import sys, time
import django
django.setup()
from batch.engine.envelope import parse_batch_request, parse_json
from batch.jobs.submit import submit_job
from batch.services.batches import handler_for
from bench.async_job import peak_rss_mb
from bench.async_memory import resident_mb
from bigledger.models import Company
company = Company.objects.get(pk=int(sys.argv[2]))
handler = handler_for("customers")
before = resident_mb("self")
started = time.perf_counter()
with open(sys.argv[1], "rb") as file:
    request = parse_batch_request(parse_json(file.read()))
job = submit_job(company=company, user=None, handler=handler, request=request)
elapsed = time.perf_counter() - started
print(job.total_records, elapsed, peak_rss_mb("self") - before)
"""


def resident_mb(pid: int | str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def post(port: int, key: str, body: bytes) -> tuple[int, float]:
    """POST an async batch; (status, seconds to the answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    started = time.perf_counter()
    connection.request("POST", "/v1/batch/customers", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return response.status, elapsed


def whole_body_baseline(body: bytes, company_id: int, env: dict) -> tuple[float, float]:
    """(seconds, MB of growth) to submit the body read and parsed whole."""
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        output = subprocess.run(
            [sys.executable, "-c", WHOLE_BODY, file.name, str(company_id)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    assert int(output[0]) == RECORDS, output
    return float(output[1]), float(output[2])


def main() -> None:
    run, credentials, env = prepare("AsyncMemory")
    key = credentials.api_key
    body = payload(run)
    server, port = start_server(env)
    try:
        status, _ = post(port, key, small_payload(run))
        assert status == 202, status
        at_rest = resident_mb(server.pid)
        status, submitted = post(port, key, body)
        assert status == 202, status
        peak = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    whole_seconds, whole_mb = whole_body_baseline(body, credentials.company.pk, env)
    print(f"records:                    {RECORDS:,} ({len(body) / 1024 / 1024:,.1f} MB of JSON)")
    print(
        f"submit (HTTP 202):          {submitted:.2f} s  ->  {RECORDS / submitted:,.0f} records/s"
    )
    print(f"web RSS at rest:            {at_rest:,.0f} MB")
    print(f"web peak RSS:               {peak:,.0f} MB  (+{peak - at_rest:,.0f} MB)")
    print(
        f"baseline, read whole:       {whole_seconds:.2f} s  ->  "
        f"{RECORDS / whole_seconds:,.0f} records/s, +{whole_mb:,.0f} MB (no HTTP)"
    )


def small_payload(run: str) -> bytes:
    """An async batch of WARM_UP_RECORDS customers, so the server has loaded what it needs."""
    import simplejson

    operations = [
        {"operation": "create", "data": {"name": f"Warm-up {run}-{i}"}}
        for i in range(WARM_UP_RECORDS)
    ]
    return simplejson.dumps({"operations": operations, "options": {"async": True}}).encode()


if __name__ == "__main__":
    main()
