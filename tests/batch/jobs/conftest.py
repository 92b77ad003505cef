import pytest

from batch.jobs import sweep


@pytest.fixture
def fresh_pacing(monkeypatch):
    """The test starts as a process that has never deleted what expired (previews, results),
    so the sweep's once-a-minute deletion is due."""
    monkeypatch.setattr(sweep, "_expired_deleted_at", None)
