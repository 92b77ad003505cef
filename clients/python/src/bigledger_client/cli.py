"""`bigledger`: file imports, folder migrations, watching jobs, templates and exports from a
shell. The key comes from --api-key, BIGLEDGER_API_KEY or the config file (config.py).

Exit codes: 0 every record went in; 1 the request went through but some records failed or
were skipped (or the job did not succeed); 2 usage (bad arguments, no key, no such file);
3 the server refused the request (auth, permission, validation, rate limit); 4 the server
could not be reached or kept failing. `--json` prints the answer as JSON on stdout, for
scripts; progress goes to stderr."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .client import BigLedger
from .errors import ApiError, BigLedgerError, NetworkError
from .runs import ENTITIES

OK, RECORDS_FAILED, USAGE, REFUSED, UNREACHABLE = 0, 1, 2, 3, 4
STATE_FILE = ".bigledger-state.jsonl"


class UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"bigledger: {exc}", file=sys.stderr)
        return USAGE
    except ApiError as exc:
        _fail(args, exc.status, exc.code, exc.message, exc.details)
        return REFUSED
    except NetworkError as exc:
        _fail(args, None, "NETWORK_ERROR", str(exc), [])
        return UNREACHABLE
    except BigLedgerError as exc:
        print(f"bigledger: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api-key", help="default: BIGLEDGER_API_KEY, else the config file")
    common.add_argument("--base-url", help="default: BIGLEDGER_BASE_URL, else the config file")
    common.add_argument("--json", action="store_true", help="print the answer as JSON")
    common.add_argument("--quiet", action="store_true", help="no progress on stderr")
    common.add_argument("--retries", type=int, default=6, help="retries on network errors")

    parser = argparse.ArgumentParser(
        prog="bigledger", description="BigLedger Batch from the command line.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"bigledger {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    entity = {"choices": ENTITIES, "metavar": "ENTITY"}

    importing = commands.add_parser("import", parents=[common], help="import a CSV or .xlsx")
    importing.add_argument("file", type=Path)
    importing.add_argument("--entity", required=True, **entity)
    importing.add_argument("--mapping-profile")
    importing.add_argument("--mapping", help='JSON: {"apiField": "column", "_ignore": [...]}')
    importing.add_argument("--validate-only", action="store_true")
    importing.add_argument("--stop-on-error", action="store_true", help="continueOnError=false")
    importing.set_defaults(run=run_import)

    migrating = commands.add_parser(
        "migrate", parents=[common], help="import a folder of <entity>.csv/.xlsx in order"
    )
    migrating.add_argument("directory", type=Path)
    migrating.add_argument("--state", type=Path, help=f"default: DIRECTORY/{STATE_FILE}")
    migrating.add_argument("--validate-only", action="store_true")
    migrating.set_defaults(run=run_migrate)

    jobs = commands.add_parser("jobs", help="async jobs").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    for action, run, text in (
        ("watch", run_watch, "a live progress bar until the job ends"),
        ("get", run_job_get, "the job's status"),
        ("cancel", run_job_cancel, "cancel the job"),
        ("retry", run_job_retry, "send the job's records that did not go in again"),
    ):
        command = jobs.add_parser(action, parents=[common], help=text)
        command.add_argument("job_id", metavar="JOB")
        command.set_defaults(run=run)

    template = commands.add_parser("template", parents=[common], help="an import template")
    template.add_argument("entity", **entity)
    template.add_argument("--excel", action="store_true", help="the .xlsx workbook")
    template.add_argument("-o", "--output", type=Path, required=True)
    template.set_defaults(run=run_template)

    export = commands.add_parser("export", parents=[common], help="every row as CSV or JSON")
    export.add_argument("entity", **entity)
    export.add_argument("-o", "--output", type=Path, required=True, help=".csv or .json")
    export.set_defaults(run=run_export)
    return parser


def client_for(args: argparse.Namespace) -> BigLedger:
    return BigLedger(api_key=args.api_key, base_url=args.base_url, max_retries=args.retries)


# Commands.


def run_import(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise UsageError(f"no such file: {args.file}")
    options: dict[str, Any] = {}
    if args.validate_only:
        options["validateOnly"] = True
    if args.stop_on_error:
        options["continueOnError"] = False
    mapping = _json_argument(args.mapping, "--mapping") if args.mapping else None
    bar = Bar(enabled=not args.quiet)
    answer = client_for(args).import_file(
        args.file,
        args.entity,
        mapping_profile=args.mapping_profile,
        mapping=mapping,
        options=options or None,
        on_job=bar.job,
    )
    bar.close()
    _print_answer(args, answer, title=f"{args.entity} from {args.file.name}")
    return _records_code(answer)


def run_migrate(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():
        raise UsageError(f"no such folder: {args.directory}")
    client = client_for(args)
    bar = Bar(enabled=not args.quiet)

    def announce(entity: str, file: Path) -> None:
        bar.close()
        if not args.quiet:
            print(f"{entity}: {file.name}", file=sys.stderr)

    try:
        answers = client.batch.migrate(
            args.directory,
            state_file=args.state or args.directory / STATE_FILE,
            options={"validateOnly": True} if args.validate_only else None,
            on_file=announce,
            on_job=bar.job,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    bar.close()
    if args.json:
        _dump(answers)
    else:
        for entity, answer in answers.items():
            _print_answer(args, answer, title=entity)
    return max((_records_code(answer) for answer in answers.values()), default=OK)


def run_watch(args: argparse.Namespace) -> int:
    client = client_for(args)
    bar = Bar(enabled=not args.quiet)
    job = client.jobs.wait(args.job_id, on_progress=bar.job)
    bar.close()
    if args.json:
        _dump(job)
    else:
        print(_job_line(job))
    return OK if job.get("outcome") == "succeeded" else RECORDS_FAILED


def run_job_get(args: argparse.Namespace) -> int:
    job = client_for(args).jobs.get(args.job_id)
    _dump(job) if args.json else print(_job_line(job))
    return OK


def run_job_cancel(args: argparse.Namespace) -> int:
    job = client_for(args).jobs.cancel(args.job_id)
    _dump(job) if args.json else print(_job_line(job))
    return OK


def run_job_retry(args: argparse.Namespace) -> int:
    job = client_for(args).jobs.retry(args.job_id)
    _dump(job) if args.json else print(f"{job['jobId']} {job['status']}: retry of {args.job_id}")
    return OK


def run_template(args: argparse.Namespace) -> int:
    content = client_for(args).batch.entity(args.entity).template(excel=args.excel)
    args.output.write_bytes(content)
    report = {"entity": args.entity, "file": str(args.output), "bytes": len(content)}
    _dump(report) if args.json else print(f"{args.output}: {args.entity} template")
    return OK


def run_export(args: argparse.Namespace) -> int:
    rows = list(client_for(args).resource(args.entity).list())
    with args.output.open("w", encoding="utf-8", newline="") as out:
        if args.output.suffix.lower() == ".json":
            out.write(_dumps(rows) + "\n")
        else:
            write_csv(out, rows)
    report = {"entity": args.entity, "file": str(args.output), "rows": len(rows)}
    _dump(report) if args.json else print(f"{args.output}: {len(rows)} {args.entity}")
    return OK


# Output.


def write_csv(out: TextIO, rows: Iterable[dict[str, Any]]) -> None:
    """Nested objects as dotted columns (`address.city`), lists as JSON text."""
    flat = [flatten(row) for row in rows]
    columns: dict[str, None] = {}
    for row in flat:
        columns.update(dict.fromkeys(row))
    writer = csv.DictWriter(out, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(flat)


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            flat[prefix + key] = _dumps(value)
        else:
            flat[prefix + key] = "" if value is None else value
    return flat


def _records_code(answer: dict[str, Any]) -> int:
    went_wrong = answer.get("failedRecords") or answer.get("skippedRecords")
    if went_wrong or answer.get("status") in ("rolled_back", "failed", "cancelled"):
        return RECORDS_FAILED
    return OK


def _print_answer(args: argparse.Namespace, answer: dict[str, Any], *, title: str) -> None:
    if args.json:
        _dump(answer)
        return
    summary = answer.get("summary") or {}
    counts = ", ".join(
        f"{summary[key]} {key}"
        for key in ("created", "updated", "unchanged", "deleted", "validated", "rolledBack")
        if summary.get(key)
    )
    print(
        f"{title}: {answer.get('totalRecords', 0)} records — {counts or 'nothing written'}; "
        f"{answer.get('failedRecords', 0)} failed, {answer.get('skippedRecords', 0)} skipped"
        f" ({_ids(answer)})"
    )
    failures = [result for result in answer.get("results", []) if not result.get("success")]
    for result in failures[:20]:
        error = result.get("error") or {}
        row = (error.get("context") or {}).get("rowNumber", result.get("index"))
        field = f" {error['field']}" if error.get("field") else ""
        print(f"  row {row}: {error.get('code')}{field}: {error.get('message')}")
    if len(failures) > 20:
        print(f"  … and {len(failures) - 20} more")


def _ids(answer: dict[str, Any]) -> str:
    return answer.get("batchId") or answer.get("jobId") or ", ".join(answer.get("batchIds", []))


def _job_line(job: dict[str, Any]) -> str:
    progress = job["progress"]
    return (
        f"{job['jobId']} {job['status']} ({job.get('outcome') or 'running'}): "
        f"{progress['processedRecords']}/{progress['totalRecords']} processed, "
        f"{progress['successfulRecords']} successful, {progress['failedRecords']} failed, "
        f"{progress['skippedRecords']} skipped"
    )


def _fail(args: argparse.Namespace, status: int | None, code: str, message: str, details) -> None:
    if getattr(args, "json", False):
        _dump(
            {
                "success": False,
                "status": status,
                "error": {"code": code, "message": message, "details": details},
            }
        )
    print(f"bigledger: {code}: {message}", file=sys.stderr)


def _json_argument(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{name} is not JSON: {exc}") from exc


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(type(value).__name__)


def _dump(value: Any) -> None:
    print(_dumps(value))


class Bar:
    """A progress bar on stderr for a job: percent, rows, rows/s and the time left."""

    WIDTH = 30

    def __init__(self, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.first: tuple[float, int] | None = None
        self.drawn = False

    def job(self, job: dict[str, Any]) -> None:
        progress = job["progress"]
        self.update(progress["processedRecords"], progress["totalRecords"], job["status"])

    def update(self, done: int, total: int, status: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        self.stream.write("\r" + render(done, total, self.first, now, status))
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
        self.drawn = False
        self.first = None


def render(done: int, total: int, first: tuple[float, int], now: float, status: str = "") -> str:
    share = done / total if total else 1.0
    filled = round(share * Bar.WIDTH)
    elapsed = now - first[0]
    rate = (done - first[1]) / elapsed if elapsed > 0 else 0.0
    eta = _clock((total - done) / rate) if rate > 0 and done < total else "--:--"
    return (
        f"[{'#' * filled}{'.' * (Bar.WIDTH - filled)}] {share * 100:5.1f}% "
        f"{done:,}/{total:,} rows  {rate:,.0f} rows/s  ETA {eta}  {status}"
    ).rstrip()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
