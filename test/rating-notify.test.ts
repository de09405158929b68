import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildApp } from '../src/app.js';
import { type DbHandle, openDatabase } from '../src/db/index.js';
import { ADMIN_KEY, startTestApp, TEST_DB, type TestApp } from './helpers/app.js';

/**
 * Two Tollgate processes on one PostgreSQL database (two apps, each with its own pool, index and
 * listener): a change made through one is seen by the other's in-memory index.
 */
const postgresOnly = TEST_DB === 'postgres' ? {} : { skip: 'LISTEN/NOTIFY runs on PostgreSQL only' };

let first: TestApp;
let secondHandle: DbHandle;
let second: Awaited<ReturnType<typeof buildApp>>['app'];
before(async () => {
  if (TEST_DB !== 'postgres') return;
  first = await startTestApp();
  secondHandle = await openDatabase({ databaseUrl: first.config.databaseUrl, dataDir: 'memory://' });
  second = (await buildApp(first.config, secondHandle.db)).app;
  await second.ready();
});
after(async () => {
  if (TEST_DB !== 'postgres') return;
  await second.close();
  await secondHandle.close();
  await first.close();
});

async function lookupOnSecond(cardId: string, number: string) {
  const response = await second.inject({
    method: 'GET',
    url: `/api/v1/rates/lookup?number=${number}&ratecard_id=${cardId}`,
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  return { status: response.statusCode, body: response.json() };
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a card changed through one process is rebuilt in the other', postgresOnly, async () => {
  const card = await first.request('POST', '/api/v1/ratecards', {
    body: { name: 'Shared', currency: 'USD', direction: 'sell' },
  });
  const cardId = card.body.data.id;
  // The second process loads the (empty) card now, so only a notification can update it.
  assert.equal((await lookupOnSecond(cardId, '4420')).status, 404);

  const created = await first.request('POST', `/api/v1/ratecards/${cardId}/rates`, {
    body: { prefix: '44', rate: '0.02', effective_from: '2024-01-01' },
  });
  assert.equal(created.status, 201, created.text);
  const seen = await eventually(
    () => lookupOnSecond(cardId, '4420'),
    (r) => r.status === 200,
  );
  assert.equal(seen.status, 200, JSON.stringify(seen.body));
  assert.equal(seen.body.data.rate, '0.02');

  const imported = await first.request('POST', `/api/v1/ratecards/${cardId}/import`, {
    body: 'prefix,rate,effective_from\n44,0.03,2024-01-01\n',
    headers: { 'content-type': 'text/csv' },
  });
  assert.equal(imported.status, 200, imported.text);
  const changed = await eventually(
    () => lookupOnSecond(cardId, '4420'),
    (r) => r.body.data?.rate === '0.03',
  );
  assert.equal(changed.body.data.rate, '0.03');
});
