"""Issue #16's table in one run: every figure measured side by side on this machine, each with
what it is compared with, the ratio, the goal and whether the goal is met.

The figures, in the order they run:

- XLSX read: the product's reader (batch.files.readers.open_xlsx: python-calamine where the
  sheet is safe for it) and the same reader held to openpyxl read_only, on the same workbook,
  each in its own interpreter (bench/xlsx_read.py). Goal >= 50,000 rows/s.
- Sync batch of 500 customers: p50 over HTTP to a server in this process
  (bench/sync_batch.py). Goal <= 40 ms.
- A 1k (and a 10k) customer job on a company whose table holds 1,000,000 customers, against
  the same job on an empty table: processed here as a worker would (bench/flat_cost.py), the
  median of BENCH_RUNS runs (three times as many for the 1k job). Goal <= 1.2x. And the
  same jobs of a new company on the table the other company's 1,000,000 rows fill, whose
  statistics know nothing of the new one (as for any tenant signing up): the same goal.
- Then a web server and a Celery worker run as subprocesses (bench/async_job.py), and
  ledger_customer is emptied (TRUNCATE, ANALYZE) before each of these:
  - a 10,000-row customers CSV posted to /v1/batch/customers/import-csv as an async job,
    from the POST to the job's own completedAt (every job figure ends there: done_at);
    against django-import-export importing the same CSV file (read into a tablib Dataset,
    a ModelResource with use_bulk=True, its other options left at their defaults) into
    another company in this process. Each side first imports a 20-row file, unmeasured;
    then each runs three times, in turn, and the medians are compared. Goal >= 5x faster.
  - 100,000 customers as one async JSON job, end to end; against PostgreSQL COPY of the same
    rows into the same table, timed right after. Goal within 4x.
  - the worker's processes: that 100k job with a worker of --concurrency=2 (the run above)
    and of --concurrency=1, and two 50k jobs at once on --concurrency=2 — what two processes
    give this machine when both have work; rates end to end, as above. Goal: one job gains at
    least 90% of what two jobs gain. These job figures are medians of BENCH_JOB_RUNS (3) runs,
    each run taking them in turn. For the 100k job on 2 and on 1 process it prints where
    the CPU went: PostgreSQL's processes, the worker's, the rest, and what stayed idle.
  - a 1,000,000-row customers CSV, upload to job done (bench/file_import.py). Goal <= 60 s,
    i.e. >= 16,667 rows/s, which is what a scaled-down run is judged by.

Before the job figures, and again before the live ones, a CHECKPOINT writes out what the
figures before left dirty, so that each measures its own writes (settle()).

Prints a line as each figure is measured, then the table (of what was measured, should a
figure fail), the machine (CPUs, CPU model, PostgreSQL version, load average before and
after) and the code measured: HEAD and a digest of the uncommitted changes, with a warning
when other work changed the checkout during the run. A job unfinished after two minutes plus
500 records a second stops the run and shows the end of the worker's log.

It truncates ledger_customer (and what refers to it) and flushes its Redis database, so it
refuses a database whose name does not say "bench" unless BENCH_DATABASE names it.
BENCH_SCALE (default 1.0) scales every size; BENCH_CSV_ROWS, BENCH_JOB_RECORDS,
BENCH_TABLE_ROWS, BENCH_FLAT_JOBS ("1000,10000"), BENCH_FILE_ROWS, BENCH_XLSX_ROWS,
BENCH_SYNC_RUNS, BENCH_RUNS and BENCH_JOB_RUNS set one figure's size. BENCH_SCALE=0.02 runs
in about a minute; the full run in five minutes (a fast 2-CPU machine) to ten.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigledger_bench_volume \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 REDIS_URL=redis://127.0.0.1:6379/13 \\
    python bench/volume.py
"""

import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bigledger_bench_volume")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")

from bench import async_job, file_import, flat_cost, sync_batch, xlsx_read  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", 1.0))


def size(name: str, full: int, least: int) -> int:
    """The figure's size: its own variable, else `full` scaled by BENCH_SCALE."""
    return int(os.environ.get(name, max(least, round(full * SCALE))))


CSV_ROWS = size("BENCH_CSV_ROWS", 10_000, 100)
JOB_RECORDS = size("BENCH_JOB_RECORDS", 100_000, 1_000)
TABLE_ROWS = size("BENCH_TABLE_ROWS", 1_000_000, 1_000)
FLAT_JOBS = tuple(
    int(n)
    for n in os.environ.get(
        "BENCH_FLAT_JOBS", f"{max(50, round(1_000 * SCALE))},{max(100, round(10_000 * SCALE))}"
    ).split(",")
)
FILE_ROWS = size("BENCH_FILE_ROWS", 1_000_000, 1_000)
XLSX_ROWS = size("BENCH_XLSX_ROWS", 100_000, 1_000)
SYNC_SIZE = 500
SYNC_RUNS = size("BENCH_SYNC_RUNS", 15, 5)
CSV_RUNS = 3  # the 10k CSV against django-import-export: medians of this many runs of each
JOB_RUNS = int(os.environ.get("BENCH_JOB_RUNS", 3))  # the JSON job figures: medians of as many
RUNS = int(os.environ.get("BENCH_RUNS", 5 if SCALE >= 0.5 else 3))

WARM_UP_ROWS = 20
SHARE_OF_TWO_JOBS = 0.9  # one job's gain from a second process, against two jobs' gain


@dataclass
class Figure:
    measure: str
    ours: str
    baseline: str
    ratio: str
    goal: str
    met: bool


def say(text: str) -> None:
    print(text, flush=True)


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def speed(seconds: float, against: float) -> str:
    """How much faster (or slower) `seconds` is than `against`."""
    if seconds <= against:
        return f"{against / seconds:.2f}x faster"
    return f"{seconds / against:.2f}x slower"


# Where it runs -----------------------------------------------------------------------------------


def check_database() -> None:
    """Refuse a database not named for benches, unless BENCH_DATABASE names it."""
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    if "bench" not in name and os.environ.get("BENCH_DATABASE") != name:
        raise SystemExit(
            f"bench/volume.py truncates ledger_customer and flushes its Redis database; "
            f"database {name!r} is not named for benches. Run it on a database of its own, "
            f"or set BENCH_DATABASE={name} to run it there."
        )


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout


def code_measured() -> str:
    """HEAD, the number of files changed since, and a digest of those changes: other work
    in the checkout can change the code under a run."""
    changed = [line for line in git("status", "--porcelain").splitlines() if line[:2] != "??"]
    if not changed:
        return git("rev-parse", "--short", "HEAD").strip()
    digest = hashlib.sha256(git("diff", "HEAD").encode()).hexdigest()[:8]
    return (
        f"{git('rev-parse', '--short', 'HEAD').strip()} + uncommitted changes in "
        f"{len(changed)} files (diff {digest})"
    )


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def empty_customers() -> None:
    """ledger_customer empty and analyzed, as each job figure starts."""
    flat_cost.execute("TRUNCATE ledger_customer CASCADE")
    flat_cost.execute("ANALYZE ledger_customer")


def new_credentials(label: str):
    from bigledger.tenancy import create_company

    run = time.time_ns()
    return create_company(
        name=f"Volume {label} {run}", username=f"volume-{label}-{run}", password="x-pw-12345"
    )


# XLSX read ---------------------------------------------------------------------------------------


def xlsx_figure() -> Figure:
    seconds = xlsx_read.read_both(XLSX_ROWS)
    ours, openpyxl = seconds["product reader"], seconds["openpyxl read_only"]
    ours_rate, openpyxl_rate = XLSX_ROWS / ours, XLSX_ROWS / openpyxl
    return Figure(
        f"XLSX read, {XLSX_ROWS:,} rows: product reader (calamine) vs openpyxl read_only",
        f"{ours_rate:,.0f} rows/s",
        f"{openpyxl_rate:,.0f} rows/s",
        f"{ours_rate / openpyxl_rate:.2f}x",
        f">= {xlsx_read.GOAL:,} rows/s",
        ours_rate >= xlsx_read.GOAL,
    )


# Sync batch over HTTP ----------------------------------------------------------------------------


def sync_figure(key: str) -> Figure:
    port = sync_batch.serve()
    sync_batch.post(port, key, "customers", sync_batch.customers_payload(SYNC_SIZE))  # warm-up
    times = [
        sync_batch.post(port, key, "customers", sync_batch.customers_payload(SYNC_SIZE))[0]
        for _ in range(SYNC_RUNS)
    ]
    p50 = statistics.median(times)
    say(
        f"sync {SYNC_SIZE} customers: p50 {p50 * 1000:.1f} ms over {SYNC_RUNS} runs "
        f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})"
    )
    return Figure(
        f"sync batch of {SYNC_SIZE} customers, p50 over HTTP",
        f"{p50 * 1000:.1f} ms",
        "-",
        "-",
        "<= 40 ms",
        p50 <= 0.040,
    )


# A job on a big table against an empty one -------------------------------------------------------


@contextmanager
def jobs_run_here() -> Iterator[None]:
    """Jobs submitted in this process are processed here (flat_cost.run_job), not handed to
    a broker: no worker runs while they do."""
    from batch.jobs import submit

    handed = {
        name: getattr(submit, name)
        for name in ("enqueue", "enqueue_helpers")
        if hasattr(submit, name)
    }
    for name in handed:
        setattr(submit, name, lambda *args: None)
    try:
        yield
    finally:
        for name, function in handed.items():
            setattr(submit, name, function)


def runs(job: int) -> range:
    """How many times a job is measured: three times RUNS for a job of at most 2,000
    records, whose tenth of a second moves by a third from run to run here."""
    return range(RUNS * 3 if job <= 2_000 else RUNS)


def flat_figures() -> Iterator[Figure]:
    from batch.jobs.processing import EntityChunks

    policy = EntityChunks.refresh_statistics
    with jobs_run_here():
        flat_cost.measure_empty(FLAT_JOBS[0], policy)  # imports, caches, connections
        empty = {
            job: statistics.median(flat_cost.measure_empty(job, policy) for _ in runs(job))
            for job in FLAT_JOBS
        }
        flat_cost.execute("TRUNCATE ledger_customer CASCADE")
        company, user = flat_cost.new_company("Volume full")
        loaded = flat_cost.load_customers(company, TABLE_ROWS)
        say(f"big table: {TABLE_ROWS:,} customers loaded (COPY) and analyzed in {loaded:.1f} s")
        full = {
            job: statistics.median(
                flat_cost.measure_full(company, user, job, policy) for _ in runs(job)
            )
            for job in FLAT_JOBS
        }
        neighbour = {
            job: statistics.median(flat_cost.measure_neighbour(job, policy) for _ in runs(job))
            for job in FLAT_JOBS
        }
    for job in FLAT_JOBS:
        a, b, c = empty[job], full[job], neighbour[job]
        say(
            f"{job:,}-customer job, median of {len(runs(job))}: empty table {a:.3f} s, "
            f"{TABLE_ROWS:,}-row table {b:.3f} s, a new company beside those rows {c:.3f} s"
        )
        yield Figure(
            f"{job:,}-customer job on a {TABLE_ROWS:,}-row table vs an empty one",
            f"{b:.3f} s",
            f"{a:.3f} s",
            f"{b / a:.2f}x",
            "<= 1.2x",
            b / a <= 1.2,
        )
        yield Figure(
            f"{job:,}-customer job of a new company beside another's {TABLE_ROWS:,} rows",
            f"{c:.3f} s",
            f"{a:.3f} s",
            f"{c / a:.2f}x",
            "<= 1.2x",
            c / a <= 1.2,
        )


# Jobs through the API and a Celery worker --------------------------------------------------------


@dataclass
class Live:
    """The web server and the current worker, and the environment they run in."""

    env: dict
    server: subprocess.Popen
    port: int
    log: Path
    worker: subprocess.Popen | None = None
    concurrency: int = 0

    def start_worker(self, concurrency: int) -> None:
        """A worker of `concurrency` processes, unless one runs already."""
        if self.worker is not None and self.concurrency == concurrency:
            return
        self.stop_worker()
        with self.log.open("a") as log:
            self.worker = async_job.start_worker(self.env, concurrency, log)
        self.concurrency = concurrency

    def stop_worker(self) -> None:
        if self.worker is not None:
            async_job.stop_worker(self.worker)
            self.worker = None

    def stop(self) -> None:
        self.stop_worker()
        self.server.terminate()
        self.server.wait(timeout=60)

    def wait(self, key: str, job_id: str, records: int, interval: float) -> dict:
        """The job, once completed; a job still unfinished after two minutes plus 500
        records a second shows the end of the worker's log."""
        try:
            return async_job.wait_for_job(
                self.port, key, job_id, records, interval, timeout=120 + records / 500
            )
        except TimeoutError:
            say("worker log, last lines:\n" + "\n".join(self.log_tail()))
            raise

    def log_tail(self, lines: int = 30) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()[-lines:]


def done_at(job: dict) -> float:
    """When the job recorded itself completed (its completedAt), as time.time() tells time:
    the server runs on this machine, so both read one clock. A figure ends there, not when a
    poll saw it: polls cost the web process CPU that the workers need (about 8 ms each on a
    slow CPU), and a poll every 50 ms, to see the end sooner, took a fifth of one."""
    return datetime.fromisoformat(job["data"]["completedAt"]).timestamp()


def upload_csv(live: Live, key: str, body: Path, rows: int, interval: float) -> float:
    """POST a customers CSV as an async job and wait for it: the seconds to the job done."""
    started = time.time()
    status, accepted = file_import.post_file(live.port, key, body)
    assert status == 202, accepted
    return done_at(live.wait(key, accepted["data"]["jobId"], rows, interval)) - started


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Every process on the machine: its pid → (what it is: "postgres", "celery" — the worker
    and its pool — or its command name; its CPU seconds so far, user + system)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = b" ".join((entry / "cmdline").read_bytes().split(b"\0")[:3]).decode()
        except (OSError, UnicodeDecodeError):
            continue  # ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        name = "celery" if "celery" in command else stat[stat.index("(") + 1 : stat.rindex(")")]
        found[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


@contextmanager
def cpu_split(label: str) -> Iterator[None]:
    """Print where the CPU went meanwhile: PostgreSQL's processes, the worker's, the busiest
    others, and what stayed idle. Processes are read every half second, so a connection's
    backend that ends meanwhile is counted up to its last reading."""
    before = cpu_by_process()
    seen = dict(before)  # pid → its last reading
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            seen.update(cpu_by_process())

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()
    seen.update(cpu_by_process())
    wall = time.perf_counter() - started
    used: dict[str, float] = {}
    for pid, (name, seconds) in seen.items():
        earlier = before.get(pid)
        spent = seconds - earlier[1] if earlier else seconds  # new meanwhile: all of it
        used[name] = used.get(name, 0.0) + spent
    postgres, worker = used.get("postgres", 0.0), used.get("celery", 0.0)
    other = sorted(
        ((s, n) for n, s in used.items() if n not in ("postgres", "celery")), reverse=True
    )
    capacity = wall * os.cpu_count()
    parts = [f"PostgreSQL {postgres:.1f} s", f"worker {worker:.1f} s"]
    parts += [f"{name} {seconds:.1f} s" for seconds, name in other[:3] if seconds >= 0.1]
    say(
        f"CPU during {label} ({wall:.1f} s on {os.cpu_count()} CPUs, {capacity:.1f} CPU-s): "
        f"{', '.join(parts)}; idle {max(capacity - sum(used.values()), 0):.1f} s"
    )


def post_jobs(live: Live, key: str, bodies: list[bytes], records: int) -> tuple[float, float]:
    """POST each JSON job, then wait for all: the seconds from the first POST to the last
    job done, and the longest of the jobs' own processing times (executionTime)."""
    started = time.time()
    accepted = []
    for body in bodies:
        status, answer = async_job.request(live.port, "POST", "/v1/batch/customers", key, body)
        assert status == 202, answer
        accepted.append(answer["data"]["jobId"])
    jobs = [live.wait(key, job_id, records, 0.25) for job_id in accepted]
    elapsed = max(done_at(job) for job in jobs) - started
    return elapsed, max(job["data"]["executionTime"] for job in jobs)


def median_run(measured: list[tuple[float, float]]) -> tuple[float, float]:
    """The run of median end-to-end time (of an odd number: the middle one), with its
    executionTime."""
    return sorted(measured)[len(measured) // 2]


def write_upload(directory: Path, rows: int, run: str, name: str) -> Path:
    """A customers CSV of `rows` rows and its multipart body (an async import): the body."""
    csv_path, body = directory / f"{name}.csv", directory / f"{name}.body"
    file_import.write_csv(csv_path, rows, run)
    file_import.write_multipart(csv_path, body, '{"continueOnError": true, "async": true}')
    return body


def customer_resource(company):
    """django-import-export's resource for the CSV's columns, creating `company`'s customers
    in bulk; numbered as the engine numbers them (CUST-0001 …), since the file has none."""
    from import_export import fields, resources, widgets

    from ledger.models import Customer

    def column(attribute: str, name: str, widget=None) -> fields.Field:
        return fields.Field(attribute=attribute, column_name=name, widget=widget)

    class CustomerResource(resources.ModelResource):
        street = column("street", "address.street")
        city = column("city", "address.city")
        country = column("country", "address.country")
        credit_limit = column("credit_limit", "creditLimit", widgets.DecimalWidget())
        payment_terms = column("payment_terms", "paymentTerms", widgets.IntegerWidget())
        tax_number = column("tax_number", "taxNumber")

        class Meta:
            model = Customer
            use_bulk = True

        def init_instance(self, row=None):
            instance = super().init_instance(row)
            instance.company = company
            self.numbered += 1
            instance.number = f"CUST-{self.numbered:04d}"
            return instance

    resource = CustomerResource()
    resource.numbered = 0
    return resource


def import_export_seconds(csv_path: Path, rows: int) -> float:
    """django-import-export importing the CSV file: read into a Dataset, then import_data."""
    import tablib

    from ledger.models import Customer

    company = new_credentials("import-export").company
    resource = customer_resource(company)
    started = time.perf_counter()
    dataset = tablib.Dataset().load(csv_path.read_text(encoding="utf-8"), format="csv")
    result = resource.import_data(dataset, dry_run=False, raise_errors=True)
    elapsed = time.perf_counter() - started
    assert not result.has_errors() and not result.has_validation_errors()
    stored = Customer.objects.filter(company=company)
    assert stored.count() == rows, stored.count()
    return elapsed


def csv_upload_figure(live: Live, directory: Path, run: str) -> Figure:
    """Each side warmed up first by a small file of its own (worker processes, imports)."""
    key = new_credentials("csv").api_key
    warm_up = write_upload(directory, WARM_UP_ROWS, f"{run}w", "warm-up")
    upload_csv(live, key, warm_up, WARM_UP_ROWS, 0.25)
    import_export_seconds(directory / "warm-up.csv", WARM_UP_ROWS)
    body = write_upload(directory, CSV_ROWS, run, "csv")
    ours_runs, theirs_runs = [], []
    for _ in range(CSV_RUNS):  # each side in turn, so a slower spell of the machine hits both
        empty_customers()
        ours_runs.append(upload_csv(live, key, body, CSV_ROWS, 0.25))
        empty_customers()
        theirs_runs.append(import_export_seconds(directory / "csv.csv", CSV_ROWS))
    ours, theirs = statistics.median(ours_runs), statistics.median(theirs_runs)
    say(
        f"{CSV_ROWS:,}-row CSV, medians of {CSV_RUNS} runs each "
        f"(ours {', '.join(f'{t:.2f}' for t in ours_runs)}; "
        f"theirs {', '.join(f'{t:.2f}' for t in theirs_runs)}): "
        f"upload to job done {ours:.2f} s ({rate(CSV_ROWS, ours)}); "
        f"django-import-export use_bulk {theirs:.2f} s ({rate(CSV_ROWS, theirs)})"
    )
    return Figure(
        f"{CSV_ROWS:,}-row customers CSV, upload to job done vs django-import-export use_bulk",
        f"{ours:.2f} s",
        f"{theirs:.2f} s",
        speed(ours, theirs),
        ">= 5x faster",
        theirs / ours >= 5,
    )


def json_job_figures(live: Live, run: str) -> Iterator[Figure]:
    """The 100k JSON job on 2 processes against COPY; on 1 process; two 50k jobs on 2: each
    the median of JOB_RUNS runs, run in turn (2 processes, COPY, the pair, then 1 process)
    so that a slower spell of the machine falls on all of them."""
    credentials = new_credentials("json")
    key = credentials.api_key
    half = JOB_RECORDS // 2
    bodies = {
        "one": async_job.payload(f"{run}1", JOB_RECORDS),
        "alone": async_job.payload(f"{run}2", JOB_RECORDS),
        "pair": [async_job.payload(f"{run}3", half), async_job.payload(f"{run}4", half)],
    }
    runs: dict[str, list[tuple[float, float]]] = {"two": [], "pair": [], "one": []}
    copies = []
    for _ in range(JOB_RUNS):  # the same bodies each time: the table is emptied before each
        live.start_worker(2)
        empty_customers()
        with cpu_split(f"the {JOB_RECORDS:,} job on 2 processes"):
            runs["two"].append(post_jobs(live, key, [bodies["one"]], JOB_RECORDS))
        copies.append(async_job.copy_baseline(credentials.company.pk, run, JOB_RECORDS))
        empty_customers()
        runs["pair"].append(post_jobs(live, key, bodies["pair"], half))
        live.start_worker(1)
        empty_customers()
        with cpu_split(f"the {JOB_RECORDS:,} job on 1 process"):
            runs["one"].append(post_jobs(live, key, [bodies["alone"]], JOB_RECORDS))
    live.stop_worker()
    (two, two_worker), (pair, pair_worker), (one, one_worker) = (
        median_run(runs[name]) for name in ("two", "pair", "one")
    )
    copy = statistics.median(copies)

    def each(name: str) -> str:
        return ", ".join(f"{elapsed:.2f}" for elapsed, _ in runs[name])

    say(
        f"{JOB_RECORDS:,}-customer JSON job, end to end, medians of {JOB_RUNS} runs (each run; "
        f"the median's executionTime): on 2 processes {two:.2f} s ({each('two')}; "
        f"{two_worker:.2f}) {rate(JOB_RECORDS, two)}, on 1 {one:.2f} s ({each('one')}; "
        f"{one_worker:.2f}) {rate(JOB_RECORDS, one)}; COPY {copy:.2f} s "
        f"({', '.join(f'{t:.2f}' for t in copies)}) {rate(JOB_RECORDS, copy)}; two {half:,} "
        f"jobs on 2 processes {pair:.2f} s ({each('pair')}; {pair_worker:.2f}) "
        f"{rate(2 * half, pair)}"
    )
    gain, pair_gain = one / two, (2 * half / pair) / (JOB_RECORDS / one)
    yield Figure(
        f"{JOB_RECORDS:,} customers as one async JSON job vs PostgreSQL COPY",
        f"{rate(JOB_RECORDS, two)} ({two:.1f} s)",
        f"{rate(JOB_RECORDS, copy)} ({copy:.2f} s)",
        speed(two, copy),
        "within 4x",
        two / copy <= 4,
    )
    yield Figure(
        f"one {JOB_RECORDS:,}-customer job: worker of 2 processes vs 1",
        f"{rate(JOB_RECORDS, two)}",
        f"{rate(JOB_RECORDS, one)}",
        f"{gain:.2f}x",
        f">= {SHARE_OF_TWO_JOBS * pair_gain:.2f}x (2 jobs get {pair_gain:.2f}x)",
        gain >= SHARE_OF_TWO_JOBS * pair_gain,
    )


def file_figure(live: Live, directory: Path, run: str) -> Figure:
    key = new_credentials("file").api_key
    body = write_upload(directory, FILE_ROWS, run, "file")
    (directory / "file.csv").unlink()
    live.start_worker(2)
    empty_customers()
    seconds = upload_csv(live, key, body, FILE_ROWS, 0.5)
    live.stop_worker()
    goal = 1_000_000 / 60
    say(f"{FILE_ROWS:,}-row CSV end to end: {seconds:.1f} s ({rate(FILE_ROWS, seconds)})")
    return Figure(
        f"{FILE_ROWS:,}-row customers CSV end to end",
        f"{seconds:.1f} s ({rate(FILE_ROWS, seconds)})",
        "-",
        "-",
        f"<= 60 s for 1M (>= {goal:,.0f}/s)",
        FILE_ROWS / seconds >= goal,
    )


def live_figures(env: dict, run: str) -> Iterator[Figure]:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        server, port = async_job.start_server(env)
        live = Live(env, server, port, directory / "worker.log")
        try:
            live.start_worker(2)
            yield csv_upload_figure(live, directory, run)
            yield from json_job_figures(live, run)
            yield file_figure(live, directory, run)
        finally:
            live.stop()


# The table ---------------------------------------------------------------------------------------


def print_table(figures: list[Figure]) -> None:
    header = ("measure", "ours", "baseline", "ratio", "goal", "met?")
    rows = [header] + [
        (f.measure, f.ours, f.baseline, f.ratio, f.goal, "yes" if f.met else "no") for f in figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    say("")
    say(line(header))
    say("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows[1:]:
        say(line(row))


def settle() -> None:
    """Write out what earlier work left dirty, now rather than during the next figure.
    PostgreSQL spreads a checkpoint's writes over minutes (checkpoint_completion_target), and
    loading the million-row table fills max_wal_size several times over; without this, the
    figures after it ran beside those writes, and the 1k job on an empty table took 0.11 s
    in a full run against 0.05 s alone."""
    flat_cost.execute("CHECKPOINT")


def figures(key: str, env: dict, run: str) -> Iterator[Figure]:
    yield xlsx_figure()
    empty_customers()
    yield sync_figure(key)
    settle()
    yield from flat_figures()
    settle()
    yield from live_figures(env, run)


def main() -> None:
    import django

    django.setup()
    check_database()
    run, credentials, env = async_job.prepare("Volume")
    load_before, code = load(), code_measured()
    say(f"BENCH_SCALE={SCALE}; load average {load_before}; code {code}")
    measured = []
    try:
        for figure in figures(credentials.api_key, env, run):
            measured.append(figure)
    finally:  # what was measured, even when a figure failed
        print_table(measured)
        say(
            f"\nmachine: {os.cpu_count()} CPUs ({cpu_model()}), PostgreSQL "
            f"{postgres_version()}; load average before {load_before}, after {load()}; "
            f"code {code}"
        )
        if code_measured() != code:
            say(f"the checkout changed during the run, now {code_measured()}: code may differ")


if __name__ == "__main__":
    main()
