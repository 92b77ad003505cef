/**
 * BigLedger Batch from JavaScript: one ES module, no dependencies, global fetch (Node 18+ and
 * browsers).
 *
 * `client.batch.customers.process({operations, options})` takes any number of operations: it
 * sends them in chunks of the entity's sync maximum, each with an Idempotency-Key made of the
 * run's id and the chunk's position (so a retried chunk is replayed, never applied twice, and a
 * run restarted with the same `runId` replays what already went in), waits when the server's
 * RateLimit headers say the window is spent (or a 429's Retry-After says so) instead of
 * sleeping a fixed time, backs off on network errors and 5xx, and answers one batch result:
 * every record in input order, the counts and the summary summed — with `summary.successful`
 * and `summary.failed` too, the names integrations written for the API page read.
 */

/** Operations one sync request of each entity takes (docs/api.md, "Batches"). */
export const ENTITY_MAXIMA = Object.freeze({
  customers: 500,
  suppliers: 500,
  items: 1000,
  accounts: 200,
  invoices: 100,
  bills: 100,
  payments: 200,
  'journal-entries': 100,
  'stock-adjustments': 500,
});

/** Operations one sync `POST /v1/batch` (a whole migration) takes. */
export const COMPOSITE_MAXIMUM = 1000;

/** Operations one async request takes. */
export const ASYNC_MAXIMUM = 100000;

const FINISHED_JOB_STATUSES = new Set(['completed', 'rolled_back', 'failed', 'cancelled']);
const COUNTS = [
  'totalRecords',
  'processedRecords',
  'successfulRecords',
  'failedRecords',
  'skippedRecords',
];
const WINDOW_MARGIN_MS = 100;
const SKIPPED_MESSAGE =
  'Not processed: an earlier record failed and continueOnError is false.';

/** A request the server refused, or one that kept failing after every retry. */
export class BigLedgerError extends Error {
  constructor(message, { status = null, code = null, details = [], cause, partial } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BigLedgerError';
    this.status = status;
    this.code = code;
    this.details = details;
    // What went in before the failure, merged as process() answers it.
    this.partial = partial;
  }
}

/** The operations cut into runs of at most `size`, each with its offset in the whole. */
export function chunkOperations(operations, size) {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`A chunk holds at least one operation, not ${size}.`);
  }
  const chunks = [];
  for (let offset = 0; offset < operations.length; offset += size) {
    chunks.push({ offset, operations: operations.slice(offset, offset + size) });
  }
  return chunks;
}

/**
 * One batch answer from the answers of its chunks (`[{offset, data}]`, in order): results
 * renumbered to their place in the whole input, counts and summary summed.
 */
export function mergeAnswers(answers) {
  if (answers.length === 0) {
    const counts = Object.fromEntries(COUNTS.map((key) => [key, 0]));
    return withPageNames({ ...counts, results: [], summary: {} });
  }
  const first = answers[0].data;
  const last = answers[answers.length - 1].data;
  const merged = {
    ...first,
    batchIds: answers.map(({ data }) => data.batchId),
    results: [],
    summary: {},
    executionTime: 0,
    completedAt: last.completedAt,
  };
  for (const key of COUNTS) merged[key] = 0;
  for (const { offset, data } of answers) {
    for (const key of COUNTS) merged[key] += data[key] ?? 0;
    for (const [key, value] of Object.entries(data.summary ?? {})) {
      if (typeof value === 'number') merged.summary[key] = (merged.summary[key] ?? 0) + value;
    }
    merged.executionTime += data.executionTime ?? 0;
    if (data.status === 'rolled_back') merged.status = 'rolled_back';
    for (const result of data.results ?? []) merged.results.push(shifted(result, offset));
  }
  return withPageNames(merged);
}

function shifted(result, offset) {
  if (offset === 0) return result;
  const moved = { ...result, index: result.index + offset };
  const context = result.error?.context;
  // A batch's rowNumber is the operation's position counted from 1: keep it so in the whole.
  if (context && context.rowNumber === result.index + 1) {
    moved.error = { ...result.error, context: { ...context, rowNumber: moved.index + 1 } };
  }
  return moved;
}

function withPageNames(merged) {
  merged.summary.successful = merged.successfulRecords;
  merged.summary.failed = merged.failedRecords;
  return merged;
}

/** Results for operations never sent because an earlier chunk failed (continueOnError false). */
export function skippedResults(operations, offset) {
  return operations.map((operation, position) => ({
    index: offset + position,
    referenceId: operation.referenceId ?? null,
    operation: operation.operation,
    success: false,
    status: 'skipped',
    error: {
      code: 'SKIPPED',
      message: SKIPPED_MESSAGE,
      context: { rowNumber: offset + position + 1, originalData: operation.data },
    },
  }));
}

/**
 * Where a company stands against the rate limit, from an answer's headers, `now` being when
 * it arrived (ms): `{limit, remaining, resetAt, retryAt}`, times in ms, null when absent.
 */
export function parseRateLimit(headers, now = Date.now()) {
  const number = (name) => {
    const text = headers.get(name);
    if (text === null || text.trim() === '') return null;
    const value = Number(text);
    return Number.isFinite(value) ? value : null;
  };
  const reset = number('RateLimit-Reset');
  return {
    limit: number('RateLimit-Limit'),
    remaining: number('RateLimit-Remaining'),
    resetAt: reset === null ? null : now + reset * 1000,
    retryAt: retryAt(headers.get('Retry-After'), now),
  };
}

function retryAt(text, now) {
  if (text === null || text.trim() === '') return null;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return now + Math.max(0, seconds) * 1000;
  const date = Date.parse(text); // Retry-After may also be an HTTP date
  return Number.isNaN(date) ? null : date;
}

/** Exponential backoff with full jitter: a random delay up to base · 2^attempt, capped. */
export function backoffDelay(attempt, { baseMs = 500, capMs = 30000, random = Math.random } = {}) {
  return random() * Math.min(capMs, baseMs * 2 ** attempt);
}

function newRunId() {
  const crypto = globalThis.crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Camel-case property names for the entities with a hyphen: journalEntries, stockAdjustments. */
function camel(entity) {
  return entity.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}

/** One entity's batch endpoint. */
export class EntityBatch {
  constructor(client, entity) {
    this.client = client;
    this.entity = entity;
    this.maximum = ENTITY_MAXIMA[entity];
  }

  /**
   * Send every operation, in chunks of the entity's maximum (of 100,000 with
   * `options.async`). `runId` names the run in the chunks' Idempotency-Keys: give the same one
   * to a restarted run with the same input, and chunks that already went in are replayed.
   */
  process({ operations, options, runId, chunkSize, onChunk } = {}) {
    return sendInChunks(this.client, {
      path: `/v1/batch/${this.entity}`,
      name: this.entity,
      maximum: this.maximum,
      operations,
      options,
      runId,
      chunkSize,
      onChunk,
    });
  }
}

/** `client.batch`: each entity by name (and camel case), and the whole-migration endpoint. */
export class Batch {
  constructor(client) {
    this.client = client;
    for (const entity of Object.keys(ENTITY_MAXIMA)) {
      const endpoint = new EntityBatch(client, entity);
      this[entity] = endpoint;
      this[camel(entity)] = endpoint;
    }
  }

  /**
   * `POST /v1/batch`: operations of several entities naming each other by `$ref`. Its `$ref`s
   * may cross any boundary, so it is not cut: past 1,000 operations send it with
   * `options.async` and the server orders its chunks.
   */
  process({ operations, options, runId } = {}) {
    return sendInChunks(this.client, {
      path: '/v1/batch',
      name: 'batch',
      maximum: COMPOSITE_MAXIMUM,
      operations,
      options,
      runId,
      whole: true,
    });
  }
}

async function sendInChunks(client, request) {
  const { path, name, maximum, operations, options, whole, onChunk } = request;
  if (!Array.isArray(operations) || operations.length === 0) {
    throw new BigLedgerError('operations must be a non-empty array.', { code: 'INVALID_REQUEST' });
  }
  const isAsync = options?.async === true;
  const size = isAsync ? ASYNC_MAXIMUM : Math.min(request.chunkSize ?? maximum, maximum);
  if (operations.length > size && (whole || options?.rollbackOnError === true) && !isAsync) {
    throw new BigLedgerError(
      `${operations.length} operations cannot go in one ${name} request (at most ${size}) and ` +
        'must not be split (rollbackOnError, or $refs across the whole): send them with ' +
        'options.async=true, which the server runs as one job.',
      { code: 'BATCH_TOO_LARGE' },
    );
  }
  const runId = request.runId ?? newRunId();
  const chunks = chunkOperations(operations, size);
  const answers = [];
  for (const [number, chunk] of chunks.entries()) {
    if (stoppedByFailure(answers, options)) {
      answers.push({ offset: chunk.offset, data: skippedChunk(chunk) });
      continue;
    }
    const body = { operations: chunk.operations };
    if (options !== undefined) body.options = options;
    let data;
    try {
      ({ data } = await client.request('POST', path, {
        body,
        idempotencyKey: `${runId}:${name}:${number}`,
        counted: true,
      }));
    } catch (error) {
      if (error instanceof BigLedgerError && !isAsync) error.partial = mergeAnswers(answers);
      throw error;
    }
    answers.push({ offset: chunk.offset, data });
    onChunk?.({
      chunk: number + 1,
      chunks: chunks.length,
      sent: chunk.offset + chunk.operations.length,
      total: operations.length,
      data,
    });
  }
  if (isAsync) return { ...answers[0].data, jobs: answers.map(({ data }) => data) };
  return mergeAnswers(answers);
}

function stoppedByFailure(answers, options) {
  if (options?.continueOnError !== false) return false;
  return answers.some(({ data }) => (data.failedRecords ?? 0) + (data.skippedRecords ?? 0) > 0);
}

function skippedChunk(chunk) {
  const count = chunk.operations.length;
  return {
    status: 'completed',
    totalRecords: count,
    processedRecords: 0,
    successfulRecords: 0,
    failedRecords: 0,
    skippedRecords: count,
    results: skippedResults(chunk.operations, 0),
    summary: {},
  };
}

/** `client.jobs`: async jobs (and kept sync batches) by id. */
export class Jobs {
  constructor(client) {
    this.client = client;
  }

  async get(jobId) {
    return (await this.client.request('GET', jobPath(jobId))).data;
  }

  /** Poll until the job has finished; `onProgress(status)` after each poll. */
  async wait(jobId, { intervalMs = 500, maxIntervalMs = 5000, timeoutMs = null, onProgress } = {}) {
    const deadline = timeoutMs === null ? null : this.client.now() + timeoutMs;
    let interval = intervalMs;
    for (;;) {
      const job = await this.get(jobId);
      onProgress?.(job);
      if (FINISHED_JOB_STATUSES.has(job.status)) return job;
      if (deadline !== null && this.client.now() + interval > deadline) {
        const message = `${jobId} has not finished after ${timeoutMs} ms (${job.status}).`;
        throw new BigLedgerError(message, { code: 'TIMEOUT' });
      }
      await this.client.sleep(interval);
      interval = Math.min(maxIntervalMs, interval * 1.5);
    }
  }

  /** Every result of the job, in operation order; `status` keeps one record status only. */
  async results(jobId, { status, pageSize = 1000 } = {}) {
    const results = [];
    for (let page = 1; ; page += 1) {
      const query = { page, pageSize, ...(status === undefined ? {} : { status }) };
      const answer = await this.client.request('GET', `${jobPath(jobId)}/results`, { query });
      results.push(...answer.data.results);
      if (page >= (answer.pagination?.totalPages ?? 1)) return results;
    }
  }

  async cancel(jobId) {
    const path = `${jobPath(jobId)}/cancel`;
    return (await this.client.request('POST', path, { body: {}, safeToRepeat: true })).data;
  }

  /** Send again what the job left unwritten, as a new async job; `corrections` by referenceId. */
  async retry(jobId, { corrections, options, idempotencyKey } = {}) {
    const body = {};
    if (corrections !== undefined) body.corrections = corrections;
    if (options !== undefined) body.options = options;
    const key = idempotencyKey ?? `${newRunId()}:retry:${jobId}`;
    const path = `${jobPath(jobId)}/retry`;
    return (await this.client.request('POST', path, { body, idempotencyKey: key, counted: true }))
      .data;
  }
}

function jobPath(jobId) {
  return `/v1/batch/jobs/${encodeURIComponent(jobId)}`;
}

/** The resources that can be read back (docs/api.md, "Reading data back"). */
export const RESOURCES = Object.freeze([
  'customers',
  'suppliers',
  'accounts',
  'tax-codes',
  'journal-entries',
  'invoices',
  'bills',
  'payments',
  'items',
  'locations',
  'stock-adjustments',
]);

/**
 * `client.customers` (and every resource of RESOURCES, by name and in camel case): its rows
 * page after page, one record, and the change feed and deletions followed by cursor.
 */
export class Resource {
  constructor(client, name) {
    if (!RESOURCES.includes(name)) {
      throw new BigLedgerError(`No resource '${name}'; one of ${RESOURCES.join(', ')}.`);
    }
    this.client = client;
    this.name = name;
  }

  /** Every row matching `filters` (`{email}`, `{externalId}` …), page after page. */
  async *list(filters = {}, { pageSize = 500 } = {}) {
    for (let page = 1; ; page += 1) {
      const query = { ...filters, page, pageSize };
      const answer = await this.client.request('GET', `/v1/${this.name}`, { query });
      yield* answer.data;
      if (page >= (answer.pagination?.totalPages ?? 1)) return;
    }
  }

  async get(id) {
    const path = `/v1/${this.name}/${encodeURIComponent(id)}`;
    return (await this.client.request('GET', path)).data;
  }

  /**
   * The rows changed at or after `updatedSince` (ISO 8601 with its offset), or after `cursor`
   * (a `resumeCursor` kept from an earlier walk), oldest change first; other filters apply too.
   */
  changes({ updatedSince, cursor, pageSize = 500, ...filters } = {}) {
    if (!cursor && !updatedSince) {
      throw new BigLedgerError('The change feed starts from updatedSince or a cursor.');
    }
    const start = cursor ? { cursor } : { updatedSince };
    return new Feed(this.client, `/v1/${this.name}`, { ...filters, ...start, pageSize });
  }

  /** The resource's deletions (`{id, externalId, deletedAt}`) at or after `since`. */
  deleted({ since, cursor, pageSize = 500 } = {}) {
    const start = cursor ? { cursor } : since ? { since } : {};
    return new Feed(this.client, `/v1/${this.name}/deleted`, { ...start, pageSize });
  }
}

/**
 * A walk of a change feed: `for await` its rows; afterwards `resumeCursor` is where the next
 * walk starts (kept, it lists tomorrow what changed since, and nothing twice).
 */
export class Feed {
  constructor(client, path, query) {
    this.client = client;
    this.path = path;
    this.query = query;
    this.resumeCursor = query.cursor ?? null;
  }

  async *[Symbol.asyncIterator]() {
    let query = this.query;
    for (;;) {
      const answer = await this.client.request('GET', this.path, { query });
      yield* answer.data;
      const { nextCursor, resumeCursor } = answer.pagination ?? {};
      this.resumeCursor = resumeCursor ?? this.resumeCursor;
      if (!nextCursor) return;
      query = { cursor: nextCursor, pageSize: this.query.pageSize };
    }
  }

  /** Every row of the walk, in order. */
  async all() {
    const rows = [];
    for await (const row of this) rows.push(row);
    return rows;
  }
}

/** The client: `new BigLedger({apiKey, baseUrl})`. */
export class BigLedger {
  /**
   * `fetch`, `sleep` and `now` can be replaced (a test's fake server, a proxy); `onWait`
   * hears of every wait: `{reason: 'rate-limit' | 'retry-after' | 'backoff', ms, status}`.
   */
  constructor({
    apiKey,
    baseUrl = 'http://127.0.0.1:8000',
    maxRetries = 8,
    fetch = globalThis.fetch,
    sleep: sleepFor = sleep,
    now = Date.now,
    random = Math.random,
    onWait,
  } = {}) {
    if (!apiKey) throw new BigLedgerError('An API key is needed: new BigLedger({apiKey}).');
    if (typeof fetch !== 'function') {
      throw new BigLedgerError('No fetch: Node 18 or later, or a browser, has one.');
    }
    this.apiKey = apiKey;
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.maxRetries = maxRetries;
    this.fetch = fetch;
    this.sleep = sleepFor;
    this.now = now;
    this.random = random;
    this.onWait = onWait;
    this.rateLimit = null; // where the last counted answer left the company's window
    this.batch = new Batch(this);
    this.jobs = new Jobs(this);
    for (const name of RESOURCES) {
      const resource = new Resource(this, name);
      this[name] = resource;
      this[camel(name)] = resource;
    }
  }

  /** A resource by its name in the API (`'journal-entries'`). */
  resource(name) {
    return new Resource(this, name);
  }

  /**
   * One API call, answered as the parsed JSON body. `counted` calls wait out a spent rate
   * limit first. Network errors, 5xx, 429 and IDEMPOTENCY_IN_PROGRESS are retried (a POST only
   * when an Idempotency-Key or `safeToRepeat` makes that harmless); other errors throw.
   */
  async request(method, path, options = {}) {
    const { body, query, idempotencyKey, counted = false, safeToRepeat = false } = options;
    const url = this.url(path, query);
    const headers = { Authorization: `Bearer ${this.apiKey}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['Idempotency-Key'] = idempotencyKey;
    const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
    const repeatable = method === 'GET' || idempotencyKey !== undefined || safeToRepeat;
    for (let attempt = 0; ; attempt += 1) {
      if (counted) await this.waitForWindow();
      let response;
      try {
        response = await this.fetch(url, init);
      } catch (error) {
        if (!repeatable || attempt >= this.maxRetries) {
          const message = `${method} ${path} failed: ${error.message}`;
          throw new BigLedgerError(message, { cause: error, code: 'NETWORK_ERROR' });
        }
        await this.pause('backoff', backoffDelay(attempt, { random: this.random }), null);
        continue;
      }
      const arrived = this.now();
      const limits = parseRateLimit(response.headers, arrived);
      // A replay carries the first answer's headers, which say nothing of the window now.
      if (limits.remaining !== null && response.headers.get('Idempotent-Replayed') !== 'true') {
        this.rateLimit = limits;
      }
      const payload = await readJson(response);
      if (response.ok) return payload;
      const error = payload?.error ?? {};
      const retryable =
        response.status === 429 ||
        (repeatable && (response.status >= 500 || error.code === 'IDEMPOTENCY_IN_PROGRESS'));
      if (!retryable || attempt >= this.maxRetries) {
        const message = error.message ?? `${method} ${path} answered ${response.status}.`;
        throw new BigLedgerError(message, {
          status: response.status,
          code: error.code ?? null,
          details: error.details ?? [],
        });
      }
      if (response.status === 429) {
        const until = limits.retryAt ?? limits.resetAt;
        if (until !== null) {
          await this.pause('retry-after', until - arrived, 429);
          continue;
        }
      }
      await this.pause('backoff', backoffDelay(attempt, { random: this.random }), response.status);
    }
  }

  /** Before a counted call: when the last answer left nothing in the window, wait for its end. */
  async waitForWindow() {
    const limits = this.rateLimit;
    if (limits === null || limits.remaining > 0 || limits.resetAt === null) return;
    this.rateLimit = null;
    // RateLimit-Reset is rounded up to whole seconds; a little more covers timer slack.
    const ms = limits.resetAt - this.now() + WINDOW_MARGIN_MS;
    if (ms > 0) await this.pause('rate-limit', ms, null);
  }

  async pause(reason, ms, status) {
    const wait = Math.max(0, Math.ceil(ms));
    this.onWait?.({ reason, ms: wait, status });
    await this.sleep(wait);
  }

  url(path, query) {
    const url = `${this.baseUrl}${path}`;
    if (!query) return url;
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) search.append(key, String(value));
    }
    const text = search.toString();
    return text ? `${url}?${text}` : url;
  }
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null; // a proxy's HTML error page, say
  }
}

export default BigLedger;
