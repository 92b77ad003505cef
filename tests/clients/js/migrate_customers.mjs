// The API page's migrateCustomers example, copied as the page gives it, run with this
// client against a live server: BIGLEDGER_BASE_URL, BIGLEDGER_API_KEY, CUSTOMERS (how many).
import { BigLedger } from '../../../clients/js/bigledger.mjs';

const client = new BigLedger({
  apiKey: process.env.BIGLEDGER_API_KEY,
  baseUrl: process.env.BIGLEDGER_BASE_URL,
});

async function migrateCustomers(customers) {
  const batchSize = 500;
  const batches = [];
  for (let i = 0; i < customers.length; i += batchSize) {
    batches.push(customers.slice(i, i + batchSize));
  }
  for (const [index, batch] of batches.entries()) {
    console.log(`Processing batch ${index + 1}/${batches.length}`);
    const operations = batch.map(customer => ({
      operation: 'create',
      data: customer,
      referenceId: customer.legacyId
    }));
    const result = await client.batch.customers.process({
      operations,
      options: { continueOnError: true, async: false }
    });
    console.log(`Batch ${index + 1} completed: ${result.summary.successful} successful, ${result.summary.failed} failed`);
    // Wait between batches to avoid rate limiting
    if (index < batches.length - 1) {
      await new Promise(resolve => setTimeout(resolve, 6000));
    }
  }
}

// The legacy system's customers; the last one's email is not an email. The example sends
// each customer whole as `data` and reads `customer.legacyId` for its referenceId, but the
// API refuses a field it does not know (UNKNOWN_FIELD): legacyId is there to be read, not
// enumerable, so JSON leaves it out of the data sent.
const count = Number(process.env.CUSTOMERS);
const customers = Array.from({ length: count }, (_, n) =>
  Object.defineProperty(
    {
      externalId: `legacy-${n}`,
      name: `Legacy Customer ${n}`,
      email: n === count - 1 ? 'not-an-email' : `customer${n}@legacy.example`,
    },
    'legacyId',
    { value: `legacy-${n}`, enumerable: false },
  ),
);
await migrateCustomers(customers);
