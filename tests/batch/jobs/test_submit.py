"""Submitting an async JSON batch: the body is read into a file as it arrives and its
operations are parsed from there chunk by chunk into the job, under every rule a batch
parsed whole obeys. No worker: these tests look at what was (or was not) stored."""

import tracemalloc

import pytest
import simplejson
from django.db import DatabaseError, connection, transaction

from batch.jobs.codec import loads
from batch.models import BatchChunk, BatchJob
from ledger.models import Customer
from tests.helpers import numbered_customer


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """The middle of a rate-limit window, so no test straddles its end."""
    monkeypatch.setattr("batch.api.ratelimit.clock", lambda: 1_900_000_025.0)


def async_body(operations, *, options='{"async": true}', extra="") -> str:
    """A batch's JSON with its options after its operations, as many clients write it."""
    return f'{{"operations": {simplejson.dumps(operations)}{extra}, "options": {options}}}'


def post(api, body: str | bytes, **headers):
    return api.post("/v1/batch/customers", body, content_type="application/json", **headers)


def refused(api, company, body, code: str) -> dict:
    response = post(api, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert not BatchJob.objects.for_company(company).exists()
    assert not BatchChunk.objects.exists()
    return error


def stored_operations(job_id: str) -> list[dict]:
    chunks = BatchChunk.objects.filter(job__public_id=job_id).order_by("position")
    return [operation for chunk in chunks for operation in loads(chunk.operations)]


def test_an_async_batch_with_its_options_last_is_stored_chunk_by_chunk(api, company):
    operations = [numbered_customer(n) for n in range(1_201)]

    response = post(api, async_body(operations))

    assert response.status_code == 202, response.content
    job_id = response.json()["data"]["jobId"]
    job = BatchJob.objects.get(public_id=job_id)
    assert (job.mode, job.status, job.total_records) == ("async", "queued", 1_201)
    assert job.chunks.count() == 3  # chunks of the entity maximum, 500
    stored = stored_operations(job_id)
    assert [op["index"] for op in stored] == list(range(1_201))
    assert stored[1_200]["referenceId"] == "ref-1200"
    assert stored[1_200]["rowNumber"] == 1_201
    assert stored[1_200]["data"] == operations[1_200]["data"]
    assert not Customer.objects.for_company(company).exists()  # a worker's job, later


def test_amounts_are_stored_as_the_exact_decimals_sent(api, company):
    body = (
        '{"options": {"async": true}, "operations": [{"operation": "create", '
        '"data": {"name": "Acme", "creditLimit": 10000.10, "paymentTerms": 30}}]}'
    )

    response = post(api, body)

    assert response.status_code == 202, response.content
    chunk = BatchChunk.objects.get(job__public_id=response.json()["data"]["jobId"])
    assert '"creditLimit":10000.10' in chunk.operations
    assert loads(chunk.operations)[0]["data"]["paymentTerms"] == 30


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(api, company, constant):
    body = async_body([numbered_customer(0)]).replace('"Customer 0"', constant)

    refused(api, company, body, "INVALID_JSON")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (async_body([numbered_customer(0)], extra=', "callback": "x"'), "Unknown key: callback."),
        (
            async_body([numbered_customer(0)], options='{"async": true, "fast": true}'),
            "Unknown option: fast.",
        ),
        (
            async_body([numbered_customer(0)], extra=', "operations": []'),
            "operations more than once",
        ),
        ('{"options": {"async": true}, "operations": []}', "non-empty list"),
        ('{"options": {"async": true}, "operations": {"operation": "create"}}', "non-empty list"),
        ('[{"options": {"async": true}}]', "must be a JSON object"),
    ],
    ids=["unknown-key", "unknown-option", "repeated-key", "empty", "not-a-list", "not-an-object"],
)
def test_a_malformed_envelope_is_refused_wherever_its_keys_come(api, company, body, says):
    error = refused(api, company, body, "INVALID_REQUEST")

    assert says in error["message"]


def test_a_reference_id_repeated_in_a_later_chunk_refuses_the_whole_request(api, company):
    operations = [numbered_customer(n) for n in range(1_200)]
    operations[1_100]["referenceId"] = "ref-5"

    error = refused(api, company, async_body(operations), "DUPLICATE_REFERENCE_ID")

    assert error["details"] == [{"field": "operations[1100].referenceId", "firstIndex": 5}]


def test_an_operation_that_is_not_an_object_in_a_later_chunk_refuses_the_request(api, company):
    operations = [numbered_customer(n) for n in range(1_200)] + ["create"]

    error = refused(api, company, async_body(operations), "INVALID_REQUEST")

    assert error["details"][0]["field"] == "operations[1200]"


def test_more_operations_than_the_async_maximum_is_batch_too_large(api, company, settings):
    settings.BATCH_ASYNC_MAX_OPERATIONS = 50

    error = refused(
        api, company, async_body([numbered_customer(n) for n in range(51)]), "BATCH_TOO_LARGE"
    )

    assert error["details"] == [{"field": "operations", "max": 50, "received": 51}]


def test_nesting_deeper_than_the_limit_is_refused_without_building_it(api, company):
    deep = "[" * 200_000 + "]" * 200_000
    body = async_body([numbered_customer(0)]).replace('"Customer 0"', deep)

    error = refused(api, company, body, "INVALID_JSON")

    assert "nest deeper than" in error["message"]


def test_lone_surrogates_reach_the_job_as_sent_and_pairs_as_their_character(api, company):
    body = (
        '{"operations": ['
        '{"operation": "create", "data": {"name": "High \\ud800"}},'
        '{"operation": "create", "data": {"name": "Low \\udc00"}},'
        '{"operation": "create", "data": {"name": "Pair \\ud83d\\ude00"}}'
        '], "options": {"async": true}}'
    )

    response = post(api, body)

    assert response.status_code == 202, response.content
    names = [op["data"]["name"] for op in stored_operations(response.json()["data"]["jobId"])]
    assert names == ["High \ud800", "Low \udc00", "Pair \U0001f600"]


def test_a_body_with_a_byte_order_mark_reads_as_without(api, company):
    body = "\ufeff" + async_body([numbered_customer(n) for n in range(3)])

    response = post(api, body.encode("utf-8"))

    assert response.status_code == 202, response.content
    assert response.json()["data"]["totalRecords"] == 3


def test_a_small_body_that_is_not_json_is_described_by_where_it_breaks(api, company):
    error = refused(api, company, '{"operations": [', "INVALID_JSON")

    assert "line 1 column" in error["message"]


def test_a_large_body_that_is_not_json_stores_nothing(api, company, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1_024  # the body goes to disk
    body = async_body([numbered_customer(n) for n in range(600)])[:-1]  # the last brace lost

    error = refused(api, company, body, "INVALID_JSON")

    assert error["message"].startswith("Request body is not valid JSON")


# Idempotency and rate limits read the same file -----------------------------------------------


def test_a_body_read_from_disk_is_fingerprinted_for_idempotency(api, company, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1_024
    operations = [numbered_customer(n) for n in range(600)]
    key = {"HTTP_IDEMPOTENCY_KEY": "import-600"}

    first = post(api, async_body(operations), **key)
    again = post(api, async_body(operations), **key)
    operations[599] = numbered_customer(599, name="Someone else")
    other = post(api, async_body(operations), **key)

    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 422)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert BatchJob.objects.for_company(company).count() == 1


def test_the_large_batch_limit_counts_a_streamed_batchs_operations(api, company, settings):
    settings.BATCH_LARGE_RATE_LIMIT = "1/min"
    body = async_body([numbered_customer(n) for n in range(150)])

    first = post(api, body)
    second = post(api, body)

    assert (first.status_code, second.status_code) == (202, 429)
    assert second.json()["error"]["details"][0]["policy"] == "large-batch"


# Memory ---------------------------------------------------------------------------------------


def test_a_large_async_batch_is_never_held_whole(api, company):
    details = {"phone": "+60123456789", "address": {"city": "Ipoh", "country": "MY"}}
    operations = [numbered_customer(n, creditLimit="10000.00", **details) for n in range(30_000)]
    body = async_body(operations).encode()
    assert post(api, async_body(operations[:10])).status_code == 202  # code loaded, caches warm

    tracemalloc.start()
    try:
        response = post(api, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 202, response.content
    # The test client's copies of the body are most of it; parsed whole it was over 8 times.
    assert peak < 3 * len(body), f"{peak / 1e6:.1f} MB for a {len(body) / 1e6:.1f} MB body"


def test_a_chunks_text_is_stored_compressed_with_lz4_where_the_server_has_it(api):
    """Writing lz4 costs PostgreSQL less than half what pglz does (migration 0012)."""
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL default_toast_compression = 'lz4'")
        except DatabaseError:
            pytest.skip("this PostgreSQL was built without lz4: chunks keep pglz")
    response = post(api, async_body([numbered_customer(i) for i in range(600)]))
    assert response.status_code == 202, response.content
    chunks = BatchChunk.objects.filter(job__public_id=response.json()["data"]["jobId"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT pg_column_compression(operations) FROM batch_batchchunk "
            "WHERE id = ANY(%s)",
            [list(chunks.values_list("pk", flat=True))],
        )
        assert cursor.fetchall() == [("lz4",)]
    assert [len(loads(chunk.operations)) for chunk in chunks.order_by("position")] == [500, 100]
