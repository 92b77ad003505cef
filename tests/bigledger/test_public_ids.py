"""Public ids made a batch at a time are what one call at a time makes."""

import re

from batch.engine.master import PublicIds
from bigledger.models import PublicIdGenerator

ONE_ID = re.compile(r"cust_[a-z2-7]{16}")


def test_a_batch_of_ids_has_the_form_of_one_and_no_two_alike():
    ids = PublicIdGenerator("cust").batch(500)

    assert len(ids) == 500
    assert len(set(ids)) == 500
    assert all(ONE_ID.fullmatch(public_id) for public_id in ids)
    assert ONE_ID.fullmatch(PublicIdGenerator("cust")())


def test_a_batchs_rows_draw_distinct_ids_across_blocks():
    ids = PublicIds(PublicIdGenerator("cust"))

    drawn = [ids() for _ in range(1_000)]  # blocks of 8, 16, ... 512

    assert len(set(drawn)) == 1_000
    assert all(ONE_ID.fullmatch(public_id) for public_id in drawn)


def test_every_letter_of_an_id_is_drawn_as_often_as_any_other():
    """80 random bits an id: each of the 32 letters equally likely at every place."""
    from collections import Counter

    letters = Counter("".join(public_id[5:] for public_id in PublicIdGenerator("cust").batch(4000)))

    assert set(letters) == set("abcdefghijklmnopqrstuvwxyz234567")
    # 64,000 letters, 2,000 expected of each: a letter outside ±15% is about 7 standard
    # deviations out, which a fair draw all but never gives.
    assert all(1700 < count < 2300 for count in letters.values()), letters
