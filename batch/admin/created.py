"""What a job wrote, as links on its page: the first records it created or updated, each to its
own admin page, and the entity's list for the rest — so a bookkeeper who just imported a file
goes straight to what it made."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from batch.engine.codes import Status
from batch.engine.composite import COMPOSITE
from batch.engine.handlers import get_handler
from batch.jobs.results import iter_results
from batch.models import BatchJob

SHOWN = 20
WRITTEN = (Status.CREATED, Status.UPDATED)


@dataclass(frozen=True)
class WrittenRecord:
    label: str
    url: str
    status: str


@dataclass(frozen=True)
class Written:
    records: list[WrittenRecord]
    list_url: str | None  # the entity's admin list
    list_label: str


def written_records(job: BatchJob) -> Written | None:
    """The first SHOWN records the job created or updated, linked; None for a job of several
    entities, a job that wrote nothing, or an entity the admin does not list."""
    handler = get_handler(job.entity) if job.entity != COMPOSITE else None
    if handler is None or not (job.created_count or job.updated_count):
        return None
    model = handler.model
    opts = model._meta
    try:
        list_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    except NoReverseMatch:
        return None
    written = {}  # public id → status, in request order
    for result in iter_results(job):
        if result.get("status") in WRITTEN and (public_id := (result.get("data") or {}).get("id")):
            written[public_id] = result["status"]
            if len(written) == SHOWN:
                break
    rows = model.objects.for_company(job.company).in_bulk(list(written), field_name="public_id")
    records = [
        WrittenRecord(
            label=str(rows[public_id]),
            url=reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change", args=[rows[public_id].pk]
            ),
            status=status,
        )
        for public_id, status in written.items()
        if public_id in rows  # deleted since
    ]
    return Written(records, list_url, f"All {opts.verbose_name_plural}")
