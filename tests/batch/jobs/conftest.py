import pytest

from batch.jobs import sweep
from tests.workers import stop_shared_worker


@pytest.fixture
def fresh_pacing(monkeypatch, _workers):
    """The test starts as a process that has never deleted what expired (previews, results),
    so the sweep's once-a-minute deletion is due; and it is the only one sweeping — the
    session's worker, had it deleted in between, would leave the test's sweep nothing."""
    stop_shared_worker(_workers)
    monkeypatch.setattr(sweep, "_expired_deleted_at", None)
