"""Async jobs: their status, waiting for one to finish, its results page after page, cancel
and retry. A finished job's answer takes the shape of a sync batch's, so a caller reads both
the same way."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .transport import Transport

FINISHED = frozenset({"completed", "rolled_back", "failed", "cancelled"})
Job = dict[str, Any]


class Jobs:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def get(self, job_id: str) -> Job:
        return self._transport.json("GET", f"/v1/batch/jobs/{job_id}")["data"]

    def list(self, **filters: Any) -> Iterator[Job]:
        """Every job and sync batch of the company, newest first (`status=`, `entity=` …)."""
        page = 1
        while True:
            params = {**filters, "page": page, "pageSize": 500}
            answer = self._transport.json("GET", "/v1/batch/jobs", params=params)
            yield from answer["data"]
            if page >= answer["pagination"]["totalPages"]:
                return
            page += 1

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Job], None] | None = None,
        poll: float = 0.5,
        max_poll: float = 5.0,
    ) -> Job:
        """Poll the job until it has finished; answer its final status. Polls come quicker
        while the job moves and slow down to `max_poll` while it does not."""
        deadline = None if timeout is None else self._transport.clock() + timeout
        interval, last = poll, None
        while True:
            job = self.get(job_id)
            if on_progress:
                on_progress(job)
            if job["status"] in FINISHED:
                return job
            if deadline is not None and self._transport.clock() > deadline:
                raise TimeoutError(f"{job_id} is still {job['status']} after {timeout} s.")
            moved = job["progress"]["processedRecords"] != last
            last = job["progress"]["processedRecords"]
            interval = poll if moved else min(max_poll, interval * 2)
            self._transport.sleep(interval)

    def results(
        self, job_id: str, *, status: str | None = None, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Each result of the job in index order (`status="failed"`: those records only)."""
        page = 1
        while True:
            params: dict[str, Any] = {"page": page, "pageSize": page_size}
            if status:
                params["status"] = status
            answer = self._transport.json("GET", f"/v1/batch/jobs/{job_id}/results", params=params)
            yield from answer["data"]["results"]
            if page >= answer["pagination"]["totalPages"]:
                return
            page += 1

    def failed_rows_csv(self, job_id: str) -> bytes:
        """The records that did not go in, as rows of the entity's CSV file."""
        path = f"/v1/batch/jobs/{job_id}/results"
        return self._transport.request("GET", path, params={"format": "csv"}).content

    def failed_rows_workbook(self, job_id: str) -> bytes:
        """The records of a batch of several entities (a migration) that did not go in, as
        a workbook (.xlsx) with a sheet per entity, to correct and import again."""
        path = f"/v1/batch/jobs/{job_id}/results"
        return self._transport.request("GET", path, params={"format": "xlsx"}).content

    def cancel(self, job_id: str) -> Job:
        return self._transport.json("POST", f"/v1/batch/jobs/{job_id}/cancel")["data"]

    def retry(
        self,
        job_id: str,
        *,
        corrections: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Send the job's records that did not go in again, as a new job (answered at once)."""
        body: dict[str, Any] = {}
        if corrections:
            body["corrections"] = dict(corrections)
        if options:
            body["options"] = dict(options)
        key = idempotency_key or f"blc-retry-{job_id}-{time.time_ns()}"
        return self._transport.json(
            "POST",
            f"/v1/batch/jobs/{job_id}/retry",
            body=body,
            idempotency_key=key,
            counted=True,
        )["data"]

    def outcome(self, job_id: str, job: Job | None = None) -> dict[str, Any]:
        """A finished job as a sync batch answers: counts, summary and every result."""
        job = job or self.get(job_id)
        progress = job["progress"]
        return {
            "jobId": job["jobId"],
            "batchId": job["jobId"],
            "status": job["status"],
            "outcome": job.get("outcome"),
            **{key: progress[key] for key in progress if key.endswith("Records")},
            "results": list(self.results(job_id)),
            "summary": job.get("summary") or {},
            "options": job.get("options"),
            "executionTime": job.get("executionTime"),
            "startedAt": job.get("startedAt"),
            "completedAt": job.get("completedAt"),
        }
