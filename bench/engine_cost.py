"""The batch engine's cost per record, and the share garbage collection takes of it.

Two workloads, each run BENCH_RUNS times (default 7) after one unmeasured warm-up:

- an async job of 10,000 new customers, submitted and then processed in this process by
  batch.jobs.processing.process_job, exactly as a worker runs it (no broker, no HTTP);
- a sync batch of 500 new customers posted over HTTP to a WSGI server in this process
  (bench/sync_batch.py's server, one thread keeping its database connection, and payload).

For each it prints the median wall time (records/s for the job, p50 ms for the batch), the
best wall time, the median CPU time of this process (steadier than wall time when other
work shares the machine) and the share of wall time the garbage collector took
(gc.callbacks).

Each workload runs under each garbage-collection setting in turn, interleaved run by run so
that other load on the machine falls on all of them alike:

- `python`: Python's thresholds throughout (what the engine did before);
- `batch`: what the engine does — generation 0's threshold raised to
  batch.engine.executor.BATCH_GC_THRESHOLD while run_batch runs;
- `frozen`: `batch`, after gc.freeze() (as a worker could do once started: the objects of
  the loaded code are never scanned again);
- `raised`: the raised threshold for the whole run, job processing and HTTP included.

The ratios are against `python`, in this same process. BENCH_WORKLOADS=job or =sync runs
one of the two; BENCH_GC=batch one setting.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigledger_bench python bench/engine_cost.py
"""

import gc
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bigledger_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")
# A benchmark measures throughput, not the per-company request limits.
os.environ.setdefault("BATCH_RATE_LIMIT", "100000/min")
os.environ.setdefault("BATCH_LARGE_RATE_LIMIT", "100000/min")

RUNS = int(os.environ.get("BENCH_RUNS", 7))
JOB_RECORDS = int(os.environ.get("BENCH_JOB_RECORDS", 10_000))
SYNC_RECORDS = 500
SETTINGS = os.environ.get("BENCH_GC", "python,batch,frozen,raised").split(",")
WORKLOADS = os.environ.get("BENCH_WORKLOADS", "job,sync").split(",")


class GcClock:
    """Seconds the garbage collector ran, from gc.callbacks."""

    def __init__(self):
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


@contextmanager
def gc_setting(name: str):
    from batch.engine import executor

    thresholds, in_batch = gc.get_threshold(), executor.BATCH_GC_THRESHOLD
    if name == "python":
        executor.BATCH_GC_THRESHOLD = thresholds[0]
    elif name == "frozen":
        gc.collect()
        gc.freeze()
    elif name == "raised":
        gc.set_threshold(in_batch, *thresholds[1:])
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        executor.BATCH_GC_THRESHOLD = in_batch


def measured(clock: GcClock, run) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, GC seconds) of run()."""
    gc_before = clock.seconds
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return (
        time.perf_counter() - wall,
        time.process_time() - cpu,
        clock.seconds - gc_before,
    )


def job_workload():
    from bench.flat_cost import new_company, run_job

    company, user = new_company("Engine cost")
    return lambda: run_job(company, user, JOB_RECORDS)


def sync_workload():
    from bench.sync_batch import customers_payload, post, serve
    from bigledger.tenancy import create_company

    run = time.time_ns()
    credentials = create_company(
        name=f"Engine cost {run}", username=f"engine-{run}", password="x-pw-12345"
    )
    port, key = serve(), credentials.api_key
    return lambda: post(port, key, "customers", customers_payload(SYNC_RECORDS))


def main() -> None:
    from bench.flat_cost import prepare

    prepare()
    clock = GcClock()
    workloads = {}
    if "job" in WORKLOADS:
        workloads[f"job of {JOB_RECORDS:,}"] = (JOB_RECORDS, job_workload())
    if "sync" in WORKLOADS:
        workloads[f"sync of {SYNC_RECORDS}"] = (SYNC_RECORDS, sync_workload())
    for _, run in workloads.values():
        run()  # imports, caches, connections
    print(f"median of {RUNS} runs; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f} at start")
    print(
        f"{'workload':<16}{'gc':<9}{'wall ms':>10}{'rec/s':>9}{'best ms':>9}{'cpu ms':>9}"
        f"{'gc %':>7}"
        f"{'wall vs python':>16}{'cpu vs python':>15}"
    )
    for label, (records, run) in workloads.items():
        times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in SETTINGS}
        for _ in range(RUNS):
            for name in SETTINGS:
                with gc_setting(name):
                    times[name].append(measured(clock, run))
        base_wall = statistics.median(wall for wall, _, _ in times[SETTINGS[0]])
        base_cpu = statistics.median(cpu for _, cpu, _ in times[SETTINGS[0]])
        for name, samples in times.items():
            wall = statistics.median(wall for wall, _, _ in samples)
            best = min(wall for wall, _, _ in samples)
            cpu = statistics.median(cpu for _, cpu, _ in samples)
            share = sum(spent for _, _, spent in samples) / sum(wall for wall, _, _ in samples)
            print(
                f"{label:<16}{name:<9}{wall * 1000:>10.1f}{records / wall:>9,.0f}"
                f"{best * 1000:>9.1f}{cpu * 1000:>9.1f}{share * 100:>6.1f}%"
                f"{wall / base_wall:>15.2f}x{cpu / base_cpu:>14.2f}x"
            )
    print(f"load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
