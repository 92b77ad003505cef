// Types of bigledger.mjs: the batch API's shapes as docs/api.md gives them.

export type Entity =
  | 'customers'
  | 'suppliers'
  | 'items'
  | 'accounts'
  | 'invoices'
  | 'bills'
  | 'payments'
  | 'journal-entries'
  | 'stock-adjustments';

export declare const ENTITY_MAXIMA: Readonly<Record<Entity, number>>;
export declare const COMPOSITE_MAXIMUM: number;
export declare const ASYNC_MAXIMUM: number;

export interface Operation {
  operation: 'create' | 'update' | 'upsert' | 'delete';
  referenceId?: string | number;
  data: Record<string, unknown>;
}

export interface CompositeOperation extends Operation {
  entity: Entity;
  group?: string | number;
}

export interface BatchOptions {
  continueOnError?: boolean;
  validateOnly?: boolean;
  async?: boolean;
  rollbackOnError?: boolean;
  matchOn?: string[];
}

export interface RecordError {
  code: string;
  message: string;
  field?: string;
  details?: { field: string; message: string; code: string }[];
  context?: { rowNumber: number; originalData: unknown };
}

export interface RecordResult {
  index: number;
  referenceId: string | null;
  operation: string;
  entity?: Entity;
  success: boolean;
  status:
    | 'created'
    | 'updated'
    | 'deleted'
    | 'unchanged'
    | 'validated'
    | 'failed'
    | 'skipped'
    | 'rolled_back';
  data?: Record<string, unknown>;
  error?: RecordError;
  warnings?: { code: string; message: string; field?: string }[];
}

export interface Summary {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  validated: number;
  rolledBack: number;
  errors: number;
  warnings: number;
  /** successfulRecords, under the name the API page's examples read. */
  successful: number;
  /** failedRecords, under the name the API page's examples read. */
  failed: number;
}

/** A sync batch's `data`; for a chunked run, every chunk's merged in input order. */
export interface BatchResult {
  batchId: string;
  /** Every chunk's batchId, in order. */
  batchIds: string[];
  status: 'completed' | 'rolled_back';
  totalRecords: number;
  processedRecords: number;
  successfulRecords: number;
  failedRecords: number;
  skippedRecords: number;
  results: RecordResult[];
  summary: Summary;
  options: BatchOptions;
  executionTime: number;
  startedAt: string;
  completedAt: string;
}

/** The 202 answer of an async submit; `jobs` holds one per 100,000 operations. */
export interface JobSubmitted {
  jobId: string;
  status: string;
  totalRecords: number;
  estimatedCompletion: string | null;
  progressUrl: string;
  downloadUrl: string | null;
  jobs: Omit<JobSubmitted, 'jobs'>[];
}

export interface JobStatus {
  jobId: string;
  entity: string;
  status: 'queued' | 'processing' | 'completed' | 'rolled_back' | 'failed' | 'cancelled';
  outcome: string | null;
  progress: {
    totalRecords: number;
    processedRecords: number;
    successfulRecords: number;
    failedRecords: number;
    skippedRecords: number;
    percentComplete: number;
  };
  summary: Partial<Summary>;
  [field: string]: unknown;
}

export interface ChunkSent {
  chunk: number;
  chunks: number;
  sent: number;
  total: number;
  data: Record<string, unknown>;
}

export interface ProcessRequest<O = Operation> {
  operations: O[];
  options?: BatchOptions;
  /** Names the run in each chunk's Idempotency-Key; reuse it to resume a run. */
  runId?: string;
}

export interface EntityProcessRequest extends ProcessRequest {
  /** At most the entity's maximum (the default). */
  chunkSize?: number;
  onChunk?: (sent: ChunkSent) => void;
}

export declare class EntityBatch {
  readonly entity: Entity;
  readonly maximum: number;
  process(request: EntityProcessRequest & { options: BatchOptions & { async: true } }): Promise<JobSubmitted>;
  process(request: EntityProcessRequest): Promise<BatchResult>;
}

export declare class Batch {
  readonly customers: EntityBatch;
  readonly suppliers: EntityBatch;
  readonly items: EntityBatch;
  readonly accounts: EntityBatch;
  readonly invoices: EntityBatch;
  readonly bills: EntityBatch;
  readonly payments: EntityBatch;
  readonly 'journal-entries': EntityBatch;
  readonly journalEntries: EntityBatch;
  readonly 'stock-adjustments': EntityBatch;
  readonly stockAdjustments: EntityBatch;
  process(
    request: ProcessRequest<CompositeOperation> & { options: BatchOptions & { async: true } },
  ): Promise<JobSubmitted>;
  process(request: ProcessRequest<CompositeOperation>): Promise<BatchResult>;
}

export declare class Jobs {
  get(jobId: string): Promise<JobStatus>;
  wait(
    jobId: string,
    options?: {
      intervalMs?: number;
      maxIntervalMs?: number;
      timeoutMs?: number | null;
      onProgress?: (job: JobStatus) => void;
    },
  ): Promise<JobStatus>;
  results(jobId: string, options?: { status?: string; pageSize?: number }): Promise<RecordResult[]>;
  cancel(jobId: string): Promise<JobStatus>;
  retry(
    jobId: string,
    options?: {
      corrections?: Record<string, Record<string, unknown>>;
      options?: BatchOptions;
      idempotencyKey?: string;
    },
  ): Promise<JobSubmitted>;
}

export type ResourceName =
  | 'customers'
  | 'suppliers'
  | 'accounts'
  | 'tax-codes'
  | 'journal-entries'
  | 'invoices'
  | 'bills'
  | 'payments'
  | 'items'
  | 'locations'
  | 'stock-adjustments';

export declare const RESOURCES: readonly ResourceName[];

/** A row as the read API answers it (docs/api.md, "Reading data back"). */
export type Row = Record<string, unknown> & { id: string };

/** A walk of a change feed: `for await` its rows; then `resumeCursor` is where to go on. */
export declare class Feed<R = Row> implements AsyncIterable<R> {
  readonly resumeCursor: string | null;
  [Symbol.asyncIterator](): AsyncIterator<R>;
  all(): Promise<R[]>;
}

export declare class Resource {
  readonly name: ResourceName;
  list(
    filters?: Record<string, string | number>,
    options?: { pageSize?: number },
  ): AsyncGenerator<Row, void, undefined>;
  get(id: string): Promise<Row>;
  changes(
    options: {
      updatedSince?: string;
      cursor?: string;
      pageSize?: number;
    } & Record<string, string | number | undefined>,
  ): Feed;
  deleted(options?: {
    since?: string;
    cursor?: string;
    pageSize?: number;
  }): Feed<{ id: string; externalId: string; deletedAt: string }>;
}

export interface Wait {
  reason: 'rate-limit' | 'retry-after' | 'backoff';
  ms: number;
  status: number | null;
}

export interface ClientOptions {
  apiKey: string;
  baseUrl?: string;
  maxRetries?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
  onWait?: (wait: Wait) => void;
}

export declare class BigLedgerError extends Error {
  readonly status: number | null;
  readonly code: string | null;
  readonly details: unknown[];
  /** What went in before the failure, merged as process() answers it. */
  partial?: BatchResult;
}

export declare class BigLedger {
  constructor(options: ClientOptions);
  readonly batch: Batch;
  readonly jobs: Jobs;
  readonly customers: Resource;
  readonly suppliers: Resource;
  readonly accounts: Resource;
  readonly taxCodes: Resource;
  readonly journalEntries: Resource;
  readonly invoices: Resource;
  readonly bills: Resource;
  readonly payments: Resource;
  readonly items: Resource;
  readonly locations: Resource;
  readonly stockAdjustments: Resource;
  readonly 'tax-codes': Resource;
  readonly 'journal-entries': Resource;
  readonly 'stock-adjustments': Resource;
  resource(name: ResourceName): Resource;
  request<T = unknown>(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      query?: Record<string, string | number | undefined | null>;
      idempotencyKey?: string;
      counted?: boolean;
      safeToRepeat?: boolean;
    },
  ): Promise<T>;
}

export interface RateLimitState {
  limit: number | null;
  remaining: number | null;
  resetAt: number | null;
  retryAt: number | null;
}

export declare function chunkOperations<O>(
  operations: O[],
  size: number,
): { offset: number; operations: O[] }[];
export declare function mergeAnswers(
  answers: { offset: number; data: Record<string, unknown> }[],
): BatchResult;
export declare function skippedResults(operations: Operation[], offset: number): RecordResult[];
export declare function parseRateLimit(headers: Headers, now?: number): RateLimitState;
export declare function backoffDelay(
  attempt: number,
  options?: { baseMs?: number; capMs?: number; random?: () => number },
): number;

export default BigLedger;
