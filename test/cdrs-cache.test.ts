import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Decimal } from '../src/money/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * Call authorization answers from the in-memory customer cache. A CDR batch's charge (on
 * PostgreSQL posted on the COPY connections of copy-ingest.ts, not the main pool) must reach it
 * as soon as the batch's answer is out: the next authorization sees the lower balance.
 */
let t: TestApp;
let customerId = '';

const data = (method: string, url: string, body?: unknown) => t.data(method, url, body);

before(async () => {
  t = await startTestApp();
  const card = await data('POST', '/api/v1/ratecards', {
    name: 'Cache',
    currency: 'EUR',
    direction: 'sell',
    rounding_decimals: 4,
  });
  await data('POST', `/api/v1/ratecards/${card.id}/rates`, {
    prefix: '33',
    rate: '0.6',
    initial_increment: 60,
    increment: 60,
    effective_from: '2026-01-01',
  });
  customerId = (
    await data('POST', '/api/v1/customers', { name: 'Cached', currency: 'EUR', ratecard_id: card.id })
  ).id;
  await data('POST', `/api/v1/customers/${customerId}/adjustments`, { amount: '-10', description: 'credit' });
});
after(async () => t.close());

const authorize = () =>
  data('POST', '/api/v1/calls/authorize', { customer_id: customerId, caller: '331', callee: '33123456' });

test('a CDR batch charge reaches call authorization at once', async () => {
  const before = await authorize();
  assert.equal(before.available, '10');
  // Twice: the second answer comes from the cache (nothing changed in between).
  assert.equal((await authorize()).max_duration_seconds, before.max_duration_seconds);
  const batch = await data('POST', '/api/v1/cdrs', [
    {
      call_id: 'cache-1',
      customer_id: customerId,
      caller: '331',
      callee: '33123456',
      start_time: '2026-11-02T10:00:00Z',
      answer_time: '2026-11-02T10:00:00Z',
      end_time: '2026-11-02T10:05:00Z',
      disposition: 'answered',
    },
  ]);
  assert.equal(batch.charged[0].amount, '3');
  const afterCharge = await authorize();
  assert.equal(afterCharge.available, new Decimal(10).minus(3).toFixed());
  assert.ok(afterCharge.max_duration_seconds < before.max_duration_seconds);
});
