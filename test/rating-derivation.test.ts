import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(async () => t.close());

async function card(body: Record<string, unknown>) {
  const response = await t.request('POST', '/api/v1/ratecards', { body: { currency: 'USD', ...body } });
  assert.equal(response.status, 201, response.text);
  return response.body.data.id as string;
}

async function rate(cardId: string, prefix: string, value: string, extra: Record<string, unknown> = {}) {
  const response = await t.request('POST', `/api/v1/ratecards/${cardId}/rates`, {
    body: { prefix, rate: value, destination: `D${prefix}`, effective_from: '2024-01-01', ...extra },
  });
  assert.equal(response.status, 201, response.text);
  return response.body.data.id as string;
}

async function sellRate(cardId: string, number: string, at = '2025-06-01T00:00:00Z') {
  const response = await t.request(
    'GET',
    `/api/v1/rates/lookup?number=${number}&ratecard_id=${cardId}&at=${at}`,
  );
  assert.equal(response.status, 200, response.text);
  return response.body.data as {
    prefix: string;
    rate: string;
    destination: string;
    initial_increment: number;
  };
}

/**
 * Buy A: 44 @ 0.01 (and 0.001 from 2030), 447 @ 0.05, 49 @ 0.0001.  Buy B: 44 @ 0.012 (60/60), 4479 @ 0.03.
 * Sell S = cheapest cost × 1.10 + 0.001, at least cost + 0.002, 4 decimals rounded up; 4479 at +50 %.
 */
let buyA: string;
let buyB: string;
let sell: string;
let a44: string;
let b4479: string;

test('a derived sell card prices each prefix from the cheapest buy card', async () => {
  buyA = await card({ name: 'Carrier A', direction: 'buy' });
  buyB = await card({ name: 'Carrier B', direction: 'buy', initial_increment: 60, increment: 60 });
  a44 = await rate(buyA, '44', '0.01');
  await rate(buyA, '44', '0.001', { effective_from: '2030-01-01' });
  await rate(buyA, '447', '0.05');
  await rate(buyA, '49', '0.0001');
  await rate(buyB, '44', '0.012');
  b4479 = await rate(buyB, '4479', '0.03');
  sell = await card({ name: 'Derived retail', direction: 'sell' });
  const put = await t.request('PUT', `/api/v1/ratecards/${sell}/derivation`, {
    body: {
      source_ids: [buyA, buyB],
      percentage: '10',
      absolute: '0.001',
      min_margin: '0.002',
      rounding_decimals: 4,
      rounding_mode: 'up',
      overrides: [{ prefix: '4479', percentage: '50' }],
    },
  });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.data.object, 'ratecard_derivation');
  assert.equal(put.body.data.compiled_rates, 5, '44 twice (2024, 2030), 447, 4479, 49');

  // 44: A's 0.01 is cheapest: 0.011 + 0.001.
  const p44 = await sellRate(sell, '441234');
  assert.equal(p44.prefix, '44');
  assert.equal(p44.rate, '0.012');
  // 447: A charges 0.05 at 447 but B's 44 covers it at 0.012: 0.0132 + 0.001.
  const p447 = await sellRate(sell, '4471234');
  assert.equal(p447.prefix, '447');
  assert.equal(p447.rate, '0.0142');
  assert.equal(p447.initial_increment, 60, 'increments of the cost it came from (B)');
  // The per-prefix override: 0.03 × 1.5 + 0.001.
  assert.equal((await sellRate(sell, '44791234')).rate, '0.046');
  // Minimum margin wins over a markup of almost nothing: 0.0001 + 0.002.
  assert.equal((await sellRate(sell, '491234')).rate, '0.0021');
  // A's 2030 version: 0.0011 + 0.001 = 0.0021, floor 0.003.
  assert.equal((await sellRate(sell, '441234', '2031-01-01T00:00:00Z')).rate, '0.003');

  const got = await t.request('GET', `/api/v1/ratecards/${sell}/derivation`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.data.source_ids, [buyA, buyB]);
});

test('an override narrower than its sources’ prefixes gets rates of its own, following them', async () => {
  const buy = await card({ name: 'Wide carrier', direction: 'buy' });
  const wide = await rate(buy, '33', '0.02');
  const retail = await card({ name: 'Mobile markup', direction: 'sell' });
  const put = await t.request('PUT', `/api/v1/ratecards/${retail}/derivation`, {
    body: {
      source_ids: [buy],
      percentage: '10',
      rounding_decimals: 4,
      rounding_mode: 'half_up',
      overrides: [
        { prefix: '336', percentage: '50' },
        { prefix: '99', percentage: '50' },
      ],
    },
  });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.data.compiled_rates, 2, '33 and 336 (99 matches no source)');
  assert.deepEqual(
    [await sellRate(retail, '33123'), await sellRate(retail, '33612345')].map((r) => [r.prefix, r.rate]),
    [
      ['33', '0.022'],
      ['336', '0.03'],
    ],
  );
  assert.equal((await sellRate(retail, '33612345')).destination, 'D33', 'the destination it was priced from');
  // A change to the wider source rate reaches the override's rate too.
  const patched = await t.request('PATCH', `/api/v1/rates/${wide}`, {
    body: { rate: '0.04' },
  });
  assert.equal(patched.status, 200, patched.text);
  assert.equal((await sellRate(retail, '33612345')).rate, '0.06');
});

test('a change to a source card reaches the derived card at once (CRUD and import)', async () => {
  const patched = await t.request('PATCH', `/api/v1/rates/${a44}`, { body: { rate: '0.005' } });
  assert.equal(patched.status, 200, patched.text);
  // 0.0055 + 0.001 = 0.0065, but never under 0.005 + 0.002.
  assert.equal((await sellRate(sell, '441234')).rate, '0.007');

  const imported = await t.request('POST', `/api/v1/ratecards/${buyB}/import`, {
    body: 'prefix,destination,rate,effective_from\n4479,UK mobile B,0.02,2024-01-01\n',
    headers: { 'content-type': 'text/csv' },
  });
  assert.equal(imported.status, 200, imported.text);
  const p4479 = await sellRate(sell, '44791234');
  assert.equal(p4479.rate, '0.031');
  assert.equal(p4479.destination, 'UK mobile B');

  const deleted = await t.request('DELETE', `/api/v1/rates/${b4479}`);
  assert.equal(deleted.status, 200, deleted.text);
  // 4479 has no cost of its own left, but its override still prices it: from B's 44 (0.012, the
  // cheapest match of 4479 among the sources), 0.012 × 1.5 + 0.001.
  const overridden = await sellRate(sell, '44791234');
  assert.deepEqual([overridden.prefix, overridden.rate, overridden.destination], ['4479', '0.019', 'D44']);

  const exported = await t.request('GET', `/api/v1/ratecards/${sell}/export.csv?at=2025-01-01T00:00:00Z`);
  assert.equal(exported.status, 200);
  assert.match(exported.text, /\n447,D44,0\.0142,/);
});

test('a derived card refuses direct rate writes and bad recipes', async () => {
  const direct = await t.request('POST', `/api/v1/ratecards/${sell}/rates`, {
    body: { prefix: '1', rate: '0.1' },
  });
  assert.equal(direct.status, 409, direct.text);
  const imported = await t.request('POST', `/api/v1/ratecards/${sell}/import`, {
    body: 'prefix,rate\n1,0.1\n',
    headers: { 'content-type': 'text/csv' },
  });
  assert.equal(imported.status, 409, imported.text);

  const euro = await card({ name: 'Euro carrier', direction: 'buy', currency: 'EUR' });
  const otherCurrency = await t.request('PUT', `/api/v1/ratecards/${sell}/derivation`, {
    body: { source_ids: [euro] },
  });
  assert.equal(otherCurrency.status, 409);
  assert.equal(otherCurrency.body.error.param, 'source_ids');
  const fromSell = await t.request('PUT', `/api/v1/ratecards/${sell}/derivation`, {
    body: { source_ids: [sell] },
  });
  assert.equal(fromSell.status, 400);
  const onBuy = await t.request('PUT', `/api/v1/ratecards/${buyA}/derivation`, {
    body: { source_ids: [buyB] },
  });
  assert.equal(onBuy.status, 400);
  const badPercent = await t.request('PUT', `/api/v1/ratecards/${sell}/derivation`, {
    body: { source_ids: [buyA], percentage: '-5' },
  });
  assert.equal(badPercent.status, 400);
  const twice = await t.request('PUT', `/api/v1/ratecards/${sell}/derivation`, {
    body: { source_ids: [buyA], overrides: [{ prefix: '44' }, { prefix: '44' }] },
  });
  assert.equal(twice.status, 400);
  assert.equal(twice.body.error.param, 'overrides[1].prefix');
  // The failed attempts changed nothing.
  assert.equal((await sellRate(sell, '441234')).rate, '0.007');
});

test('removing the derivation leaves ordinary, editable rates', async () => {
  const removed = await t.request('DELETE', `/api/v1/ratecards/${sell}/derivation`);
  assert.equal(removed.status, 200, removed.text);
  const direct = await t.request('POST', `/api/v1/ratecards/${sell}/rates`, {
    body: { prefix: '1', rate: '0.1', effective_from: '2024-01-01' },
  });
  assert.equal(direct.status, 201, direct.text);
  assert.equal((await sellRate(sell, '441234')).rate, '0.007');
  await t.request('PATCH', `/api/v1/rates/${a44}`, { body: { rate: '0.5' } });
  assert.equal((await sellRate(sell, '441234')).rate, '0.007', 'no longer follows its former source');
  assert.equal((await t.request('GET', `/api/v1/ratecards/${sell}/derivation`)).status, 404);
});
