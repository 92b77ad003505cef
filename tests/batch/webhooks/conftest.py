"""Fixtures of the webhook tests: receivers on this machine, allowed as webhook URLs."""

import pytest

from tests.webhooks import Receiver


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    """The receivers here listen on 127.0.0.1, which production refuses."""
    settings.BATCH_WEBHOOK_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def receiver():
    receivers = []

    def start(fail_first: int = 0, **options) -> Receiver:
        receivers.append(Receiver(fail_first, **options))
        return receivers[-1]

    yield start
    for started in receivers:
        started.close()
