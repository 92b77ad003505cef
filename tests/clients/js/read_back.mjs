// The client reads back what it sent to a live server: 120 customers upserted, listed page
// after page, walked on the change feed; one changed and one deleted are then all the feeds
// list from the cursors kept. Prints one JSON line of what it saw.
import { BigLedger } from '../../../clients/js/bigledger.mjs';

const client = new BigLedger({
  apiKey: process.env.BIGLEDGER_API_KEY,
  baseUrl: process.env.BIGLEDGER_BASE_URL,
});
const upsert = (n, name = `Customer ${n}`) => ({
  operation: 'upsert',
  referenceId: `crm-${n}`,
  data: { externalId: `crm-${n}`, name },
});
const ids = (rows) => rows.map((row) => row.externalId);

const sent = Array.from({ length: 120 }, (_, n) => upsert(n));
await client.batch.customers.process({ operations: sent });
const listed = [];
for await (const row of client.customers.list({}, { pageSize: 50 })) listed.push(row);
const feed = client.customers.changes({ updatedSince: '2000-01-01T00:00:00Z', pageSize: 50 });
const changed = await feed.all();
const removals = client.customers.deleted({ since: '2000-01-01T00:00:00Z' });
const deletedBefore = await removals.all();

await client.batch.customers.process({
  operations: [
    upsert(7, 'Customer Seven'),
    upsert(8), // unchanged: not a change
    { operation: 'delete', data: { externalId: 'crm-9' } },
  ],
});
const changedSince = await client.customers.changes({ cursor: feed.resumeCursor }).all();
const deletedSince = await client.customers.deleted({ cursor: removals.resumeCursor }).all();
const seven = await client.customers.get(changedSince[0].id);

console.log(
  JSON.stringify({
    listed: ids(listed),
    changed: ids(changed),
    deletedBefore: ids(deletedBefore),
    changedSince: ids(changedSince),
    deletedSince: ids(deletedSince),
    seven: seven.name,
  }),
);
