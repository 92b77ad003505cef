"""The external ids creates keep, for entities that are only ever created (payments, journal
entries, stock adjustments): unique per company and entity (docs/api.md), so a create whose
externalId the database already holds, or an earlier record of the batch took, is a
DUPLICATE_ERROR. One query per batch finds the taken ones; another, after the write met
the unique constraint, finds what a concurrent batch committed meanwhile."""

from django.db.models import QuerySet

from batch.engine.handlers import EXTERNAL_ID, duplicate_error
from batch.engine.records import Record


class ExternalIds:
    def __init__(self, rows: QuerySet, records: list[Record]):
        self.rows = rows
        self.taken = self.stored({external_id_of(record) for record in records} - {None})

    def stored(self, wanted: set[str]) -> set[str]:
        if not wanted:
            return set()
        return set(self.rows.filter(external_id__in=wanted).values_list("external_id", flat=True))

    def free(self, record: Record) -> bool:
        """False, with the record a DUPLICATE_ERROR, when its externalId is taken."""
        external_id = external_id_of(record)
        if external_id in self.taken:
            duplicate(record, external_id)
            return False
        return True

    def keep(self, record: Record) -> None:
        """The record passed: later records of the batch cannot have its externalId."""
        if (external_id := external_id_of(record)) is not None:
            self.taken.add(external_id)

    def find_conflicts(self, records: list[Record]) -> bool:
        """After the write met the unique constraint: the records whose externalId another
        batch committed since load() become DUPLICATE_ERRORs, so the others can be written."""
        pending = {external_id: r for r in records if r.ok and (external_id := external_id_of(r))}
        taken = self.stored(set(pending))
        for external_id in taken:
            duplicate(pending[external_id], external_id)
        self.taken |= taken
        return bool(taken)


def external_id_of(record: Record) -> str | None:
    return record.values.get(EXTERNAL_ID) or None


def duplicate(record: Record, external_id: str) -> None:
    duplicate_error(record, EXTERNAL_ID, external_id)
