"""Posting batches through the HTTP API, as a client would."""

import simplejson
from django.db import connection
from django.test.utils import CaptureQueriesContext


def post_batch(api, entity: str, operations, *, status: int = 200, **options):
    body = {"operations": operations}
    if options:
        body["options"] = options
    response = api.post(
        f"/v1/batch/{entity}", simplejson.dumps(body), content_type="application/json"
    )
    assert response.status_code == status, response.content
    return simplejson.loads(response.content, use_decimal=True)


def create(data, reference_id=None) -> dict:
    operation = {"operation": "create", "data": data}
    if reference_id:
        operation["referenceId"] = reference_id
    return operation


def update(data, reference_id=None) -> dict:
    return {**create(data, reference_id), "operation": "update"}


def delete(data, reference_id=None) -> dict:
    return {**create(data, reference_id), "operation": "delete"}


def count_queries(callable_) -> int:
    with CaptureQueriesContext(connection) as queries:
        callable_()
    return len(queries)
