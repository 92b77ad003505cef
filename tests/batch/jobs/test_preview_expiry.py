"""Previews expire: the sweep deletes those whose time is up, with their results, and
nothing else — a bounded number at a time, and at most once a minute."""

import pytest

from batch.jobs import sweep
from batch.models import BatchChunk, BatchJob
from tests.helpers import admin_file_job

pytestmark = pytest.mark.django_db(transaction=True)

CSV = b"name,email\r\nAcme,acme@example.com\r\n"


def test_expired_previews_are_deleted_with_their_results_and_imports_stay(
    credentials, settings, fresh_pacing
):
    settings.BATCH_PREVIEW_TTL_SECONDS = -1  # made already expired
    expired = admin_file_job(credentials, CSV, validate_only=True)
    imported = admin_file_job(credentials, CSV)
    settings.BATCH_PREVIEW_TTL_SECONDS = 3600
    kept = admin_file_job(credentials, CSV, validate_only=True)

    outcome = sweep.sweep()

    assert outcome["previewsDeleted"] == 1
    assert not BatchJob.objects.filter(pk=expired.pk).exists()
    assert not BatchChunk.objects.filter(job_id=expired.pk).exists()
    assert set(BatchJob.objects.values_list("pk", flat=True)) == {imported.pk, kept.pk}
    assert imported.expires_at is None


def test_one_sweep_deletes_a_bounded_number(credentials, settings, fresh_pacing):
    settings.BATCH_PREVIEW_TTL_SECONDS = -1
    for _ in range(3):
        admin_file_job(credentials, CSV, validate_only=True)

    first = sweep.delete_expired_previews(limit=2)
    second = sweep.delete_expired_previews(limit=2)

    assert (first, second) == (2, 1)
    assert not BatchJob.objects.exists()


def test_the_sweep_deletes_at_most_once_a_minute(credentials, settings, fresh_pacing):
    settings.BATCH_PREVIEW_TTL_SECONDS = -1
    admin_file_job(credentials, CSV, validate_only=True)
    assert sweep.delete_expired_when_due()["previewsDeleted"] == 1
    admin_file_job(credentials, CSV, validate_only=True)

    again = sweep.delete_expired_when_due()["previewsDeleted"]

    assert again == 0  # its turn comes a minute after the last
    assert BatchJob.objects.count() == 1
