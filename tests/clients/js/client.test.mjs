// The JavaScript client against a scripted server: chunking, merging, rate-limit waits,
// retries and idempotency keys, with no network and no real time passing.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  BigLedger,
  BigLedgerError,
  chunkOperations,
  mergeAnswers,
  parseRateLimit,
} from '../../../clients/js/bigledger.mjs';

const customers = (count) =>
  Array.from({ length: count }, (_, n) => ({
    operation: 'create',
    referenceId: `legacy-${n}`,
    data: { name: `Customer ${n}` },
  }));

/** A batch answer for the operations of one request, every record created. */
function answer(operations, { failAt = -1 } = {}) {
  const results = operations.map((operation, index) =>
    index === failAt
      ? {
          index,
          referenceId: operation.referenceId,
          operation: operation.operation,
          success: false,
          status: 'failed',
          error: { code: 'VALIDATION_ERROR', message: 'Bad.', context: { rowNumber: index + 1 } },
        }
      : {
          index,
          referenceId: operation.referenceId,
          operation: operation.operation,
          success: true,
          status: 'created',
          data: { id: `cust_${operation.referenceId}` },
        },
  );
  const failed = failAt >= 0 ? 1 : 0;
  return {
    success: true,
    data: {
      batchId: `batch_${operations[0].referenceId}`,
      status: 'completed',
      totalRecords: operations.length,
      processedRecords: operations.length,
      successfulRecords: operations.length - failed,
      failedRecords: failed,
      skippedRecords: 0,
      results,
      summary: { created: operations.length - failed, updated: 0, errors: failed, warnings: 0 },
      executionTime: 0.5,
    },
  };
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** A client whose fetch is `respond(request, n)` and whose sleeps are only recorded. */
function scripted(respond) {
  const requests = [];
  const sleeps = [];
  let clock = 1_000_000;
  const client = new BigLedger({
    apiKey: 'blk_test',
    baseUrl: 'http://ledger.test/',
    fetch: async (url, init) => {
      const request = {
        url,
        method: init.method,
        headers: init.headers,
        body: init.body ? JSON.parse(init.body) : undefined,
      };
      requests.push(request);
      return respond(request, requests.length - 1);
    },
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
    random: () => 1,
  });
  return { client, requests, sleeps };
}

const allowed = { 'RateLimit-Limit': '10', 'RateLimit-Remaining': '5', 'RateLimit-Reset': '30' };

test('chunks hold at most the size, with their offsets', () => {
  const chunks = chunkOperations(customers(1001), 500);
  assert.deepEqual(
    chunks.map(({ offset, operations }) => [offset, operations.length]),
    [[0, 500], [500, 500], [1000, 1]],
  );
  assert.throws(() => chunkOperations([], 0), RangeError);
});

test('merged answers number every record in the whole input and sum the counts', () => {
  const operations = customers(4);
  const merged = mergeAnswers([
    { offset: 0, data: answer(operations.slice(0, 2)).data },
    { offset: 2, data: answer(operations.slice(2), { failAt: 1 }).data },
  ]);
  assert.deepEqual(
    merged.results.map((r) => [r.index, r.referenceId, r.status]),
    [[0, 'legacy-0', 'created'], [1, 'legacy-1', 'created'], [2, 'legacy-2', 'created'],
     [3, 'legacy-3', 'failed']],
  );
  assert.equal(merged.results[3].error.context.rowNumber, 4);
  assert.equal(merged.totalRecords, 4);
  assert.equal(merged.summary.created, 3);
  assert.equal(merged.summary.errors, 1);
  assert.equal(merged.summary.successful, 3);
  assert.equal(merged.summary.failed, 1);
  assert.deepEqual(merged.batchIds, ['batch_legacy-0', 'batch_legacy-2']);
  assert.equal(merged.executionTime, 1);
});

test('rate-limit headers read as times; Retry-After as seconds or an HTTP date', () => {
  const headers = new Headers({ ...allowed, 'Retry-After': '7' });
  assert.deepEqual(parseRateLimit(headers, 1000), {
    limit: 10,
    remaining: 5,
    resetAt: 31_000,
    retryAt: 8_000,
  });
  const dated = parseRateLimit(new Headers({ 'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT' }), 0);
  assert.equal(dated.retryAt, Date.UTC(2015, 9, 21, 7, 28));
  assert.equal(dated.remaining, null);
});

test('1,200 customers go in three requests of the maximum, each with its own key', async () => {
  const { client, requests, sleeps } = scripted((request) =>
    json(200, answer(request.body.operations), allowed),
  );
  const result = await client.batch.customers.process({
    operations: customers(1200),
    options: { continueOnError: true },
    runId: 'run-1',
  });
  assert.deepEqual(
    requests.map((r) => [r.url, r.body.operations.length, r.headers['Idempotency-Key']]),
    [
      ['http://ledger.test/v1/batch/customers', 500, 'run-1:customers:0'],
      ['http://ledger.test/v1/batch/customers', 500, 'run-1:customers:1'],
      ['http://ledger.test/v1/batch/customers', 200, 'run-1:customers:2'],
    ],
  );
  assert.deepEqual(requests[0].body.options, { continueOnError: true });
  assert.equal(requests[0].headers.Authorization, 'Bearer blk_test');
  assert.deepEqual(result.results.map((r) => r.index), [...Array(1200).keys()]);
  assert.equal(result.results[1199].referenceId, 'legacy-1199');
  assert.equal(result.summary.successful, 1200);
  assert.deepEqual(sleeps, []); // nothing spent, nothing waited for
});

test('a spent window is waited out from RateLimit-Reset before the next chunk', async () => {
  const waits = [];
  const { client, requests, sleeps } = scripted((request, n) =>
    json(200, answer(request.body.operations), {
      'RateLimit-Limit': '5',
      'RateLimit-Remaining': n === 0 ? '0' : '4',
      'RateLimit-Reset': '42',
    }),
  );
  client.onWait = (wait) => waits.push(wait);
  await client.batch.customers.process({ operations: customers(1000) });
  assert.equal(requests.length, 2);
  assert.deepEqual(sleeps, [42_100]);
  assert.deepEqual(waits, [{ reason: 'rate-limit', ms: 42_100, status: null }]);
});

test("a replay's old headers do not make the client wait", async () => {
  const { client, sleeps } = scripted((request) =>
    json(200, answer(request.body.operations), {
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '50',
      'Idempotent-Replayed': 'true',
    }),
  );
  await client.batch.customers.process({ operations: customers(1000) });
  assert.deepEqual(sleeps, []);
});

test('a 429 waits its Retry-After and sends the same chunk with the same key', async () => {
  const { client, requests, sleeps } = scripted((request, n) =>
    n === 1
      ? json(
          429,
          { success: false, error: { code: 'RATE_LIMITED', message: 'Slow down.' } },
          { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '9', 'Retry-After': '9' },
        )
      : json(200, answer(request.body.operations), allowed),
  );
  const result = await client.batch.customers.process({ operations: customers(501), runId: 'r' });
  assert.deepEqual(
    requests.map((r) => r.headers['Idempotency-Key']),
    ['r:customers:0', 'r:customers:1', 'r:customers:1'],
  );
  assert.equal(sleeps[0], 9_000);
  assert.equal(result.totalRecords, 501);
});

test('network errors and 5xx are retried with backoff, keeping the key', async () => {
  const { client, requests, sleeps } = scripted((request, n) => {
    if (n === 0) throw new TypeError('fetch failed');
    if (n === 1) return new Response('<h1>Bad gateway</h1>', { status: 502 });
    if (n === 2) {
      return json(409, { success: false, error: { code: 'IDEMPOTENCY_IN_PROGRESS', message: '…' } });
    }
    return json(200, answer(request.body.operations), allowed);
  });
  const result = await client.batch.journalEntries.process({
    operations: customers(3),
    runId: 'r',
  });
  assert.equal(requests.length, 4);
  assert.ok(requests.every((r) => r.url === 'http://ledger.test/v1/batch/journal-entries'));
  assert.ok(requests.every((r) => r.headers['Idempotency-Key'] === 'r:journal-entries:0'));
  assert.deepEqual(sleeps, [500, 1000, 2000]); // doubling (random() is 1 here)
  assert.equal(result.summary.successful, 3);
});

test('a refused chunk throws with what went in before it', async () => {
  const { client } = scripted((request, n) =>
    n === 0
      ? json(200, answer(request.body.operations), allowed)
      : json(400, {
          success: false,
          error: { code: 'DUPLICATE_REFERENCE_ID', message: 'Twice.', details: [{ field: 'x' }] },
        }),
  );
  const error = await client.batch.customers
    .process({ operations: customers(600) })
    .catch((caught) => caught);
  assert.ok(error instanceof BigLedgerError);
  assert.equal(error.status, 400);
  assert.equal(error.code, 'DUPLICATE_REFERENCE_ID');
  assert.equal(error.partial.successfulRecords, 500);
});

test('continueOnError false: chunks after a failure are not sent, their records skipped', async () => {
  const { client, requests } = scripted((request) =>
    json(200, answer(request.body.operations, { failAt: 499 }), allowed),
  );
  const result = await client.batch.customers.process({
    operations: customers(700),
    options: { continueOnError: false },
  });
  assert.equal(requests.length, 1);
  assert.equal(result.failedRecords, 1);
  assert.equal(result.skippedRecords, 200);
  assert.equal(result.results[600].status, 'skipped');
  assert.equal(result.results[600].index, 600);
  assert.equal(result.results[600].error.code, 'SKIPPED');
});

test('what must not be split is refused before anything is sent', async () => {
  const { client, requests } = scripted(() => assert.fail('nothing should be sent'));
  for (const send of [
    () => client.batch.process({ operations: customers(1001) }),
    () =>
      client.batch.invoices.process({
        operations: customers(101),
        options: { rollbackOnError: true },
      }),
  ]) {
    await assert.rejects(send, (error) => error.code === 'BATCH_TOO_LARGE');
  }
  assert.equal(requests.length, 0);
});

test('async sends up to 100,000 operations a request and answers the job', async () => {
  const { client, requests } = scripted((request) =>
    json(202, { success: true, data: { jobId: 'job_1', status: 'queued' } }, allowed),
  );
  const job = await client.batch['stock-adjustments'].process({
    operations: customers(1500),
    options: { async: true },
  });
  assert.equal(requests.length, 1);
  assert.equal(requests[0].body.operations.length, 1500);
  assert.equal(job.jobId, 'job_1');
  assert.deepEqual(job.jobs, [{ jobId: 'job_1', status: 'queued' }]);
});

test('jobs: wait polls until finished; results gather every page', async () => {
  const statuses = ['queued', 'processing', 'completed'];
  const { client, requests, sleeps } = scripted((request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith('/results')) {
      const page = Number(url.searchParams.get('page'));
      return json(200, {
        success: true,
        data: { results: [{ index: page - 1 }] },
        pagination: { page, totalPages: 3 },
      });
    }
    return json(200, { success: true, data: { jobId: 'job_1', status: statuses.shift() } });
  });
  const seen = [];
  const job = await client.jobs.wait('job_1', { onProgress: (j) => seen.push(j.status) });
  assert.equal(job.status, 'completed');
  assert.deepEqual(seen, ['queued', 'processing', 'completed']);
  assert.deepEqual(sleeps, [500, 750]);
  const results = await client.jobs.results('job_1', { status: 'failed' });
  assert.deepEqual(results.map((r) => r.index), [0, 1, 2]);
  assert.ok(requests.at(-1).url.endsWith('/v1/batch/jobs/job_1/results?page=3&pageSize=1000&status=failed'));
});

test('a resource lists every page with its filters; get reads one record', async () => {
  const { client, requests } = scripted((request) => {
    const url = new URL(request.url);
    if (url.pathname === '/v1/journal-entries/je%2F1') {
      return json(200, { success: true, data: { id: 'je/1' } });
    }
    const page = Number(url.searchParams.get('page'));
    return json(200, {
      success: true,
      data: [{ id: `c${page}a` }, { id: `c${page}b` }],
      pagination: { page, totalPages: 2 },
    });
  });
  const rows = [];
  for await (const row of client.customers.list({ email: 'a@example.com' }, { pageSize: 2 })) {
    rows.push(row.id);
  }
  assert.deepEqual(rows, ['c1a', 'c1b', 'c2a', 'c2b']);
  assert.equal(
    requests[1].url,
    'http://ledger.test/v1/customers?email=a%40example.com&page=2&pageSize=2',
  );
  assert.deepEqual(await client.journalEntries.get('je/1'), { id: 'je/1' });
  assert.strictEqual(client.resource('journal-entries').name, 'journal-entries');
  assert.throws(() => client.resource('widgets'), BigLedgerError);
});

test('the change feed follows nextCursor and keeps the last resumeCursor', async () => {
  const pages = [
    { data: [{ id: 'a' }], pagination: { nextCursor: 'n1', resumeCursor: 'r1' } },
    { data: [{ id: 'b' }], pagination: { nextCursor: null, resumeCursor: 'r2' } },
  ];
  const { client, requests } = scripted(() => json(200, { success: true, ...pages.shift() }));
  const feed = client.invoices.changes({ updatedSince: '2026-11-30T00:00:00Z', status: 'paid' });
  assert.equal(feed.resumeCursor, null);
  assert.deepEqual((await feed.all()).map((row) => row.id), ['a', 'b']);
  assert.equal(feed.resumeCursor, 'r2');
  assert.equal(
    requests[0].url,
    'http://ledger.test/v1/invoices?status=paid&updatedSince=2026-11-30T00%3A00%3A00Z&pageSize=500',
  );
  assert.equal(requests[1].url, 'http://ledger.test/v1/invoices?cursor=n1&pageSize=500');
  assert.throws(() => client.invoices.changes({}), /updatedSince or a cursor/);
});

test('an empty walk from a cursor keeps that cursor; deletions walk the same way', async () => {
  const { client, requests } = scripted(() =>
    json(200, { success: true, data: [], pagination: { nextCursor: null, resumeCursor: null } }),
  );
  const feed = client.customers.deleted({ cursor: 'kept', pageSize: 50 });
  assert.deepEqual(await feed.all(), []);
  assert.equal(feed.resumeCursor, 'kept');
  assert.equal(requests[0].url, 'http://ledger.test/v1/customers/deleted?cursor=kept&pageSize=50');
});
