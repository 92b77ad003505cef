// The client alone sends CUSTOMERS customers (in sync chunks of 500) to a live server, with
// RUN_ID naming the run, and prints one JSON line: every HTTP status the server answered,
// the client's waits, and the merged result's counts. A line "chunk N/M" follows each chunk,
// so a test can kill the run half-way.
import { BigLedger } from '../../../clients/js/bigledger.mjs';

const statuses = [];
const waits = [];
const client = new BigLedger({
  apiKey: process.env.BIGLEDGER_API_KEY,
  baseUrl: process.env.BIGLEDGER_BASE_URL,
  fetch: async (url, init) => {
    const response = await fetch(url, init);
    statuses.push({
      status: response.status,
      replayed: response.headers.get('Idempotent-Replayed') === 'true',
      remaining: response.headers.get('RateLimit-Remaining'),
    });
    return response;
  },
  onWait: (wait) => waits.push(wait),
});

const count = Number(process.env.CUSTOMERS);
const operations = Array.from({ length: count }, (_, n) => ({
  operation: 'create',
  referenceId: `legacy-${n}`,
  data: { externalId: `legacy-${n}`, name: `Legacy Customer ${n}` },
}));
const result = await client.batch.customers.process({
  operations,
  runId: process.env.RUN_ID,
  onChunk: ({ chunk, chunks }) => console.log(`chunk ${chunk}/${chunks}`),
});
console.log(
  JSON.stringify({
    statuses,
    waits,
    totalRecords: result.totalRecords,
    summary: result.summary,
    inOrder: result.results.every((r, i) => r.index === i && r.referenceId === `legacy-${i}`),
  }),
);
