"""Set-based: the queries a customer or supplier batch makes do not grow with its size."""

import pytest

from tests.helpers import count_queries, create, delete, post_batch, update

pytestmark = pytest.mark.django_db

MAX = 500


def party(i: int) -> dict:
    return {
        "name": f"Party {i}",
        "email": f"p{i}@example.com",
        "phone": "+60123456789",
        "address": {"city": "Kuala Lumpur", "country": "MY"},
        "creditLimit": "1000.00",
        "taxNumber": "123456789012",
    }


def queries_for(api, entity, operations) -> int:
    return count_queries(lambda: post_batch(api, entity, operations))


@pytest.mark.parametrize(
    ("entity", "number"), [("customers", "customerNumber"), ("suppliers", "supplierNumber")]
)
def test_create_update_and_delete_cost_the_same_queries_for_1_and_500(api, entity, number):
    post_batch(api, entity, [create(party(-1))])  # warm the key's last-used stamp

    create_one = queries_for(api, entity, [create(party(0))])
    create_max = queries_for(api, entity, [create(party(i)) for i in range(1, MAX + 1)])
    update_one = queries_for(
        api, entity, [update({number: f"{prefix(entity)}-0002", "creditLimit": 5})]
    )
    update_max = queries_for(
        api,
        entity,
        [update({number: f"{prefix(entity)}-{i + 2:04d}", "creditLimit": i}) for i in range(MAX)],
    )
    delete_one = queries_for(api, entity, [delete({number: f"{prefix(entity)}-0002"})])
    delete_max = queries_for(
        api, entity, [delete({number: f"{prefix(entity)}-{i + 3:04d}"}) for i in range(MAX)]
    )

    assert create_one == create_max
    assert update_one == update_max
    assert delete_one == delete_max
    assert create_max <= 16


def prefix(entity: str) -> str:
    return "CUST" if entity == "customers" else "SUPP"
