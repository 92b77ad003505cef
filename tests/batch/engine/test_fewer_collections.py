"""While a batch runs the garbage collector waits for more new objects; the process's own
thresholds are back once the last batch ends, whatever happened in it."""

import gc
import threading

import pytest
from django.contrib.auth import get_user_model

from batch.engine.envelope import BatchOptions, parse_operations
from batch.engine.executor import BATCH_GC_THRESHOLD, fewer_collections, run_batch
from ledger.handlers.parties import CustomerHandler
from tests.helpers import make_company


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


class ThresholdSeeingHandler(CustomerHandler):
    """Customers, noting the collector's thresholds while the batch validates."""

    seen: list = []

    def load(self, records):
        self.seen.append(gc.get_threshold())
        super().load(records)


@pytest.mark.django_db
def test_a_batch_runs_with_the_raised_threshold_and_puts_it_back(thresholds):
    credentials = make_company()

    outcome = run_batch(
        handler_class=ThresholdSeeingHandler,
        company=credentials.company,
        user=get_user_model().objects.get(username=credentials.username),
        operations=parse_operations([{"operation": "create", "data": {"name": "A"}}]),
        options=BatchOptions(),
    )

    assert [record.status for record in outcome.records] == ["created"]
    assert ThresholdSeeingHandler.seen == [(BATCH_GC_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)


def test_the_threshold_is_back_after_a_failure(thresholds):
    with pytest.raises(RuntimeError), fewer_collections:
        raise RuntimeError("the batch broke")
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_batches_keep_it_raised_until_the_last_ends(thresholds):
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    after_first = []

    def first():
        with fewer_collections:
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with fewer_collections:
            second_in.set()
            first_out.wait(5)
            after_first.append(gc.get_threshold())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert after_first == [(BATCH_GC_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)
