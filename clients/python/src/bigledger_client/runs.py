"""How a large piece of work goes in, whatever it is — a list of operations, a file, a folder
of files: as numbered chunks, each sent once with an Idempotency-Key derived from the run's
fingerprint and the chunk's number, each recorded in an optional state file the moment its
answer arrives, and every chunk's answer merged back into one, in input order.

The state file is JSON lines, one per chunk done: the run's fingerprint (a digest of the
whole input), the chunk's number and offset, and its answer. A line is appended, flushed and
fsynced before the next chunk is sent, and a torn last line is ignored, so a run killed at
any moment and started again with the same input skips every chunk it recorded; a chunk that
was in flight is sent again with its key, and the server answers it from its first
processing instead of applying it twice."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _json

# Each entity's sync maximum, and the order a migration takes them in (each before what
# refers to it).
ENTITY_MAXIMA: dict[str, int] = {
    "accounts": 200,
    "customers": 500,
    "suppliers": 500,
    "items": 1000,
    "stock-adjustments": 500,
    "invoices": 100,
    "bills": 100,
    "payments": 200,
    "journal-entries": 100,
}
ENTITIES: tuple[str, ...] = tuple(ENTITY_MAXIMA)
COMPOSITE_MAXIMUM = 1000
ASYNC_MAXIMUM = 100_000

COUNTS = (
    "totalRecords",
    "processedRecords",
    "successfulRecords",
    "failedRecords",
    "skippedRecords",
)

Answer = dict[str, Any]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Chunk:
    index: int
    offset: int
    count: int
    send: Callable[[str], Answer]  # the chunk's Idempotency-Key -> its answer's `data`
    operations: Sequence[Any] = ()


def split(items: Sequence[Any], size: int) -> list[tuple[int, Sequence[Any]]]:
    """(offset, slice) pairs of at most `size` items, in order."""
    if size < 1:
        raise ValueError("A chunk holds at least one operation.")
    return [(offset, items[offset : offset + size]) for offset in range(0, len(items), size)]


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(_json.canonical(parts).encode()).hexdigest()


def chunk_key(run_fingerprint: str, index: int) -> str:
    return f"blc-{run_fingerprint[:48]}-{index}"


class StateFile:
    """The chunks a run has done, kept across processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def done(self, run_fingerprint: str) -> dict[int, Answer]:
        if not self.path.exists():
            return {}
        done: dict[int, Answer] = {}
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    entry = _json.loads(line)
                except ValueError:  # a line torn by a kill mid-write
                    continue
                if isinstance(entry, dict) and entry.get("fingerprint") == run_fingerprint:
                    done[int(entry["chunk"])] = entry["answer"]
        return done

    def record(self, run_fingerprint: str, chunk: Chunk, answer: Answer) -> None:
        line = _json.dumps(
            {
                "fingerprint": run_fingerprint,
                "chunk": chunk.index,
                "offset": chunk.offset,
                "count": chunk.count,
                "answer": answer,
            }
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())


def run_chunks(
    chunks: Sequence[Chunk],
    run_fingerprint: str,
    *,
    state: StateFile | None = None,
    on_progress: Progress | None = None,
    stop_after_failure: bool = False,
) -> Answer:
    """Send each chunk not yet done, in order; answer the merged result. With
    `stop_after_failure` (continueOnError false), the chunks after one with a failure are
    not sent: their operations are answered `skipped`, as the server would."""
    answers, resumed = send_chunks(
        chunks,
        run_fingerprint,
        state=state,
        on_progress=on_progress,
        stop_after_failure=stop_after_failure,
    )
    merged = merge(zip((chunk.offset for chunk in chunks), answers, strict=True))
    merged["chunks"] = len(chunks)
    merged["resumedChunks"] = resumed
    return merged


def send_chunks(
    chunks: Sequence[Chunk],
    run_fingerprint: str,
    *,
    state: StateFile | None = None,
    on_progress: Progress | None = None,
    stop_after_failure: bool = False,
) -> tuple[list[Answer], int]:
    """Each chunk's answer, in order (from the state file for the chunks it records), and how
    many came from the state file."""
    done = state.done(run_fingerprint) if state else {}
    total = sum(chunk.count for chunk in chunks)
    answers: list[Answer] = []
    finished = resumed = 0
    stopped = False
    for chunk in chunks:
        if chunk.index in done:
            answer = done[chunk.index]
            resumed += 1
        elif stopped:
            answer = skipped_answer(chunk)
        else:
            answer = chunk.send(chunk_key(run_fingerprint, chunk.index))
            if state:
                state.record(run_fingerprint, chunk, answer)
        answers.append(answer)
        stopped = stopped or (stop_after_failure and _went_wrong(answer))
        finished += chunk.count
        if on_progress:
            on_progress(finished, total)
    return answers, resumed


def _went_wrong(answer: Answer) -> bool:
    return bool(answer.get("failedRecords") or answer.get("skippedRecords"))


def skipped_answer(chunk: Chunk) -> Answer:
    results = [
        {
            "index": position,
            "referenceId": _reference_id(operation),
            "operation": operation.get("operation") if isinstance(operation, dict) else None,
            "success": False,
            "status": "skipped",
            "error": {
                "code": "SKIPPED",
                "message": "Not processed: an earlier record failed and continueOnError is false.",
                "details": [],
            },
        }
        for position, operation in enumerate(chunk.operations)
    ]
    return {
        "status": "completed",
        "totalRecords": chunk.count,
        "processedRecords": 0,
        "successfulRecords": 0,
        "failedRecords": 0,
        "skippedRecords": chunk.count,
        "results": results,
        "summary": {},
    }


def _reference_id(operation: Any) -> Any:
    return operation.get("referenceId") if isinstance(operation, dict) else None


def merge(answers: Iterable[tuple[int, Answer]]) -> Answer:
    """One answer of the chunks' answers, in input order: each result's `index` (and the
    `rowNumber` of its error) counted over the whole input; counts and `summary` summed, with
    `summary.successful` and `summary.failed` as the page's examples read them."""
    merged: Answer = dict.fromkeys(COUNTS, 0)
    merged.update(status="completed", results=[], summary={}, batchIds=[], executionTime=0)
    statuses: list[str] = []
    for offset, answer in answers:
        statuses.append(answer.get("status", "completed"))
        for key in COUNTS:
            merged[key] += int(answer.get(key) or 0)
        for key, value in (answer.get("summary") or {}).items():
            merged["summary"][key] = merged["summary"].get(key, 0) + int(value or 0)
        merged["results"].extend(shift(result, offset) for result in answer.get("results", []))
        batch_id = answer.get("batchId") or answer.get("jobId")
        if batch_id:
            merged["batchIds"].append(batch_id)
        merged["executionTime"] += _seconds(answer.get("executionTime"))
        merged.setdefault("options", answer.get("options"))
        merged.setdefault("startedAt", answer.get("startedAt"))
        merged["completedAt"] = answer.get("completedAt", merged.get("completedAt"))
    merged["status"] = _merged_status(statuses)
    merged["summary"]["successful"] = merged["successfulRecords"]
    merged["summary"]["failed"] = merged["failedRecords"]
    merged["summary"]["skipped"] = merged["skippedRecords"]
    return merged


def _merged_status(statuses: list[str]) -> str:
    distinct = set(statuses)
    if len(distinct) == 1:
        return statuses[0]
    return "completed" if "completed" in distinct else statuses[-1] if statuses else "completed"


def _seconds(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def shift(result: Answer, offset: int) -> Answer:
    if not offset:
        return result
    shifted = dict(result, index=int(result["index"]) + offset)
    context = (result.get("error") or {}).get("context")
    if isinstance(context, dict) and isinstance(context.get("rowNumber"), int):
        error = dict(
            result["error"], context=dict(context, rowNumber=context["rowNumber"] + offset)
        )
        shifted["error"] = error
    return shifted
