import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
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

const csvImport = (cardId: string, csv: string, query = '') =>
  t.request('POST', `/api/v1/ratecards/${cardId}/import${query}`, {
    body: csv,
    headers: { 'content-type': 'text/csv' },
  });

test('a customer with a sell card gets rates by longest prefix, in every format', async () => {
  const sell = await card({ name: 'Retail', direction: 'sell', initial_increment: 60, increment: 6 });
  for (const [prefix, rate, destination] of [
    ['44', '0.02', 'UK'],
    ['447', '0.1', 'UK mobile'],
  ]) {
    const created = await t.request('POST', `/api/v1/ratecards/${sell}/rates`, {
      body: { prefix, rate, destination, effective_from: '2024-01-01 00:00:00' },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.data.initial_increment, 60, 'card default');
  }
  const customer = await t.request('POST', '/api/v1/customers', {
    body: { name: 'Caller', currency: 'USD', ratecard_id: sell },
  });
  assert.equal(customer.status, 201, customer.text);
  assert.equal(customer.body.data.ratecard_id, sell);
  const id = customer.body.data.id;

  const lookup = await t.request('GET', `/api/v1/rates/lookup?number=%2B447911123456&customer_id=${id}`);
  assert.equal(lookup.status, 200, lookup.text);
  assert.equal(lookup.body.data.prefix, '447');
  assert.equal(lookup.body.data.rate, '0.1');
  assert.equal(lookup.body.data.destination, 'UK mobile');
  assert.equal(lookup.body.data.ratecard_id, sell);
  // Written forms of the same number: spaces, dashes, brackets, and the UK's "(0)" trunk prefix,
  // which is not dialled from abroad (it matched 44, the landline rate, before).
  for (const written of ['+44 7911 123456', '+44 (0)7911 123-456', '+44(0)7911123456', '+44-7911-123.456']) {
    const res = await t.request(
      'GET',
      `/api/v1/rates/lookup?number=${encodeURIComponent(written)}&customer_id=${id}`,
    );
    assert.equal(res.status, 200, `${written}: ${res.text}`);
    assert.equal(res.body.data.number, '447911123456', written);
    assert.equal(res.body.data.prefix, '447', written);
  }

  const xml = await t.request('GET', `/api/v1/rates/lookup.xml?number=442071234567&ratecard_id=${sell}`);
  assert.equal(xml.status, 200);
  assert.match(xml.text, /<prefix>44<\/prefix>/);

  const before2024 = await t.request(
    'GET',
    `/api/v1/rates/lookup?number=447911123456&ratecard_id=${sell}&at=2023-12-31T23:59:59Z`,
  );
  assert.equal(before2024.status, 404);
  assert.equal(before2024.body.error.type, 'not_found');
  assert.match(before2024.body.error.reason, /no_rate/);
});

test("a lookup by customer follows the customer's card as it changes, and sees only visible customers", async () => {
  const first = await card({ name: 'First', direction: 'sell' });
  const second = await card({ name: 'Second', direction: 'sell' });
  for (const [cardId, rate] of [
    [first, '0.5'],
    [second, '0.7'],
  ] as const) {
    const created = await t.request('POST', `/api/v1/ratecards/${cardId}/rates`, {
      body: { prefix: '49', rate, destination: 'Germany', effective_from: '2024-01-01 00:00:00' },
    });
    assert.equal(created.status, 201, created.text);
  }
  const customer = await t.request('POST', '/api/v1/customers', {
    body: { name: 'Switching', currency: 'USD', ratecard_id: first },
  });
  assert.equal(customer.status, 201, customer.text);
  const id = customer.body.data.id as string;
  const lookup = (key?: string) =>
    t.request('GET', `/api/v1/rates/lookup?number=4930123456&customer_id=${id}`, key ? { key } : {});
  // Twice: the second answer comes from the cached customer and the loaded card.
  assert.equal((await lookup()).body.data.rate, '0.5');
  assert.equal((await lookup()).body.data.ratecard_id, first);
  const moved = await t.request('PATCH', `/api/v1/customers/${id}`, { body: { ratecard_id: second } });
  assert.equal(moved.status, 200, moved.text);
  const after = await lookup();
  assert.equal(after.status, 200, after.text);
  assert.equal(after.body.data.rate, '0.7');
  assert.equal(after.body.data.ratecard_id, second);
  const lcr = await t.request('GET', `/api/v1/routes/lcr?number=4930123456&customer_id=${id}`);
  assert.equal(lcr.status, 200, lcr.text);
  assert.equal(lcr.body.data.sell.rate, '0.7');

  const cleared = await t.request('PATCH', `/api/v1/customers/${id}`, { body: { ratecard_id: null } });
  assert.equal(cleared.status, 200, cleared.text);
  const noCard = await lookup();
  assert.equal(noCard.status, 400, noCard.text);
  assert.equal(noCard.body.error.param, 'customer_id');
  // JSON null for the optional ids means none, on create as on update (it was once a 500).
  const bare = await t.request('POST', '/api/v1/customers', {
    body: { name: 'Bare', currency: 'USD', ratecard_id: null, partner_id: null },
  });
  assert.equal(bare.status, 201, bare.text);
  assert.equal(bare.body.data.ratecard_id, null);
  assert.equal(bare.body.data.partner_id, null);
  const unpartnered = await t.request('PATCH', `/api/v1/customers/${id}`, { body: { partner_id: null } });
  assert.equal(unpartnered.status, 200, unpartnered.text);

  // Another customer's key: 404 (never the card), also once the customer is cached.
  const other = await t.request('POST', '/api/v1/customers', { body: { name: 'Other', currency: 'USD' } });
  const otherKey = await t.request('POST', '/api/v1/api-keys', {
    body: { role: 'customer', customer_id: other.body.data.id },
  });
  assert.equal(otherKey.status, 201, otherKey.text);
  const foreign = await lookup(otherKey.body.data.key);
  assert.equal(foreign.status, 404, foreign.text);
  assert.equal(foreign.body.error.type, 'not_found');
  const unknown = await t.request('GET', '/api/v1/rates/lookup?number=4930123456&customer_id=cus_unknown0');
  assert.equal(unknown.status, 404, unknown.text);
  const unknownCard = await t.request(
    'GET',
    '/api/v1/rates/lookup?number=4930123456&ratecard_id=rc_unknown0',
  );
  assert.equal(unknownCard.status, 404, unknownCard.text);
});

test('lookup errors: missing number, not a number, a card with no rates', async () => {
  const empty = await card({ name: 'Empty', direction: 'sell' });
  const missing = await t.request('GET', `/api/v1/rates/lookup?ratecard_id=${empty}`);
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.reason, "Missing required parameter 'number'");
  const bad = await t.request('GET', `/api/v1/rates/lookup?number=44abc&ratecard_id=${empty}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.param, 'number');
  const none = await t.request('GET', `/api/v1/rates/lookup?number=4420&ratecard_id=${empty}`);
  assert.equal(none.status, 404);
  assert.match(none.body.error.reason, /no_rate: the card has no rates/);
});

test('a customer cannot be given a buy card or a card in another currency', async () => {
  const buy = await card({ name: 'Carrier A', direction: 'buy' });
  const eur = await card({ name: 'Euro retail', direction: 'sell', currency: 'EUR' });
  const withBuy = await t.request('POST', '/api/v1/customers', {
    body: { name: 'X', currency: 'USD', ratecard_id: buy },
  });
  assert.equal(withBuy.status, 400);
  const withEur = await t.request('POST', '/api/v1/customers', {
    body: { name: 'Y', currency: 'USD', ratecard_id: eur },
  });
  assert.equal(withEur.status, 409);
});

test('rates CRUD: list with filters, update, conflicting version, delete, changes take effect at once', async () => {
  const sell = await card({ name: 'CRUD', direction: 'sell' });
  const first = await t.request('POST', `/api/v1/ratecards/${sell}/rates`, {
    body: { prefix: '33', rate: '0.05', effective_from: '2024-01-01' },
  });
  assert.equal(first.status, 201);
  const clash = await t.request('POST', `/api/v1/ratecards/${sell}/rates`, {
    body: { prefix: '33', rate: '0.06', effective_from: '2024-01-01' },
  });
  assert.equal(clash.status, 409);
  const negative = await t.request('POST', `/api/v1/ratecards/${sell}/rates`, {
    body: { prefix: '34', rate: '-0.06' },
  });
  assert.equal(negative.status, 400);
  const badPrefix = await t.request('POST', `/api/v1/ratecards/${sell}/rates`, {
    body: { prefix: '3a', rate: '0.06' },
  });
  assert.equal(badPrefix.status, 400);

  // Looked up (and its version's fields memoised) before the change, so the answer after it
  // must come from the rebuilt card, not the memo.
  const beforePatch = await t.request('GET', `/api/v1/rates/lookup?number=33123&ratecard_id=${sell}`);
  assert.equal(beforePatch.status, 200, beforePatch.text);
  assert.equal(beforePatch.body.data.rate, first.body.data.rate);
  assert.notEqual(first.body.data.rate, '0.07');
  const patched = await t.request('PATCH', `/api/v1/rates/${first.body.data.id}`, { body: { rate: '0.07' } });
  assert.equal(patched.status, 200);
  const lookup = await t.request('GET', `/api/v1/rates/lookup?number=33123&ratecard_id=${sell}`);
  assert.equal(lookup.body.data.rate, '0.07', 'the index was rebuilt after the change');

  const list = await t.request('GET', `/api/v1/ratecards/${sell}/rates?prefix=33&at=2024-06-01`);
  assert.equal(list.body.data.length, 1);
  const deleted = await t.request('DELETE', `/api/v1/rates/${first.body.data.id}`);
  assert.equal(deleted.status, 200);
  const gone = await t.request('GET', `/api/v1/rates/lookup?number=33123&ratecard_id=${sell}`);
  assert.equal(gone.status, 404);
});

test('LCR ranks active carriers by buy cost, then priority; blocked, inactive and unprofitable drop out', async () => {
  const sell = await card({ name: 'LCR sell', direction: 'sell' });
  assert.equal((await csvImport(sell, 'prefix,rate\n44,0.05\n')).status, 200);
  const carriers: Record<string, string> = {};
  const decks: [string, string, number][] = [
    ['cheap', 'prefix,rate\n44,0.01\n', 5],
    ['tie-first', 'prefix,rate\n447,0.02\n', 1],
    ['tie-second', 'prefix,rate\n4479,0.02\n', 2],
    ['dear', 'prefix,rate\n44,0.09\n', 1],
    ['blocked', 'prefix,rate,blocked\n44,0.001,true\n', 1],
    ['inactive', 'prefix,rate\n44,0.001\n', 1],
  ];
  for (const [name, deck, priority] of decks) {
    const buy = await card({ name, direction: 'buy' });
    assert.equal((await csvImport(buy, deck)).status, 200);
    const carrier = await t.request('POST', '/api/v1/carriers', {
      body: { name, ratecard_id: buy, priority, ...(name === 'inactive' ? { status: 'inactive' } : {}) },
    });
    assert.equal(carrier.status, 201, carrier.text);
    carriers[name] = carrier.body.data.id;
  }
  const lcr = await t.request('GET', `/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}`);
  assert.equal(lcr.status, 200, lcr.text);
  assert.deepEqual(
    lcr.body.data.routes.map((r: { carrier_name: string }) => r.carrier_name),
    ['cheap', 'tie-first', 'tie-second', 'dear'],
  );
  assert.equal(lcr.body.data.routes[0].margin, '0.04');
  const profitable = await t.request(
    'GET',
    `/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}&profitable_only=true`,
  );
  assert.equal(profitable.body.data.routes.length, 3);
  const byPriority = await t.request(
    'GET',
    `/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}&strategy=priority`,
  );
  assert.deepEqual(
    byPriority.body.data.routes.map((r: { priority: number }) => r.priority),
    [1, 1, 2, 5],
  );
  const sellCardAsCarrier = await t.request('POST', '/api/v1/carriers', {
    body: { name: 'wrong', ratecard_id: sell },
  });
  assert.equal(sellCardAsCarrier.status, 400);
});

test('rating routes are the operator’s: a customer key may only look up its own rate', async () => {
  const sell = await card({ name: 'Own', direction: 'sell' });
  await csvImport(sell, 'prefix,rate\n1,0.01\n');
  const customer = await t.request('POST', '/api/v1/customers', {
    body: { name: 'Self', currency: 'USD', ratecard_id: sell },
  });
  const key = await t.request('POST', '/api/v1/api-keys', {
    body: { role: 'customer', customer_id: customer.body.data.id },
  });
  const secret = key.body.data.key;
  const own = await t.request('GET', '/api/v1/rates/lookup?number=12125550100', { key: secret });
  assert.equal(own.status, 200, own.text);
  const direct = await t.request('GET', `/api/v1/rates/lookup?number=12125550100&ratecard_id=${sell}`, {
    key: secret,
  });
  assert.equal(direct.status, 403);
  const cards = await t.request('GET', '/api/v1/ratecards', { key: secret });
  assert.equal(cards.status, 403);
});

test('a card’s rates list pages in deck order (prefix, effective_from) with the last rate as cursor', async () => {
  const sell = await card({ name: 'Paged', direction: 'sell' });
  const csv = [
    'prefix,rate,effective_from',
    '49,0.03,2024-01-01',
    '1,0.01,2024-01-01',
    '49,0.04,2025-01-01',
    '33,0.02,2024-01-01',
    '4,0.05,2024-01-01',
  ].join('\n');
  assert.equal((await csvImport(sell, csv)).status, 200);
  const seen: string[] = [];
  let cursor = '';
  for (let page = 0; page < 5; page++) {
    const response = await t.request(
      'GET',
      `/api/v1/ratecards/${sell}/rates?limit=2${cursor ? `&starting_after=${cursor}` : ''}`,
    );
    assert.equal(response.status, 200, response.text);
    for (const rate of response.body.data) seen.push(`${rate.prefix}@${rate.effective_from.slice(0, 4)}`);
    if (!response.body.meta.has_more) break;
    cursor = response.body.data.at(-1).id;
  }
  assert.deepEqual(seen, ['1@2024', '33@2024', '4@2024', '49@2024', '49@2025']);
  const foreign = await card({ name: 'Other', direction: 'sell' });
  await csvImport(foreign, 'prefix,rate\n7,0.01\n');
  const otherRate = (await t.request('GET', `/api/v1/ratecards/${foreign}/rates`)).body.data[0].id;
  const wrongCursor = await t.request('GET', `/api/v1/ratecards/${sell}/rates?starting_after=${otherRate}`);
  assert.equal(wrongCursor.status, 400);
  assert.equal(wrongCursor.body.error.param, 'starting_after');
});

test('a card’s rates are found by the prefixes under one, or by part of the destination', async () => {
  const sell = await card({ name: 'Searched', direction: 'sell' });
  const csv = [
    'prefix,destination,rate',
    '4,Europe rest,0.05',
    '44,United Kingdom,0.02',
    '441,UK Geographic,0.02',
    '447,UK Mobile,0.1',
    '4479,UK Mobile 50%_off,0.09',
    '4499999999999999,UK longest,0.5',
    '45,Denmark,0.03',
    '49,Germany,0.03',
    '5,South America,0.04',
  ].join('\n');
  assert.equal((await csvImport(sell, csv)).status, 200);
  const list = async (query: string) => {
    const response = await t.request('GET', `/api/v1/ratecards/${sell}/rates?limit=100&${query}`);
    assert.equal(response.status, 200, `${query}: ${response.text}`);
    return response.body.data.map((rate: { prefix: string }) => rate.prefix);
  };
  assert.deepEqual(await list('prefix_starts_with=44'), ['44', '441', '447', '4479', '4499999999999999']);
  assert.deepEqual(await list('prefix_starts_with=447'), ['447', '4479']);
  assert.deepEqual(await list('prefix_starts_with=4'), [
    '4',
    '44',
    '441',
    '447',
    '4479',
    '4499999999999999',
    '45',
    '49',
  ]);
  assert.deepEqual(await list('prefix_starts_with=46'), []);
  assert.deepEqual(await list('prefix=44'), ['44']);
  assert.deepEqual(await list('destination_contains=uk%20mob'), ['447', '4479']);
  // LIKE's wildcards are taken as the characters they are.
  assert.deepEqual(await list('destination_contains=%25_'), ['4479']);
  assert.deepEqual(await list('destination_contains=_'), ['4479']);
  assert.deepEqual(await list('prefix_starts_with=44&destination_contains=geo'), ['441']);
  const bad = await t.request('GET', `/api/v1/ratecards/${sell}/rates?prefix_starts_with=4x`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.param, 'prefix_starts_with');
  assert.match(bad.body.message, /^prefix_starts_with must be digits only/);
});

test('rates belong to an existing card: one partition per card, never moved, deleted with the card', async () => {
  const db = t.handle.db;
  const sell = await card({ name: 'Keyed', direction: 'sell' });
  await csvImport(sell, 'prefix,rate\n44,0.01\n45,0.02\n');
  const insert = (cardId: string, id: string) =>
    sql`insert into rates (id, ratecard_id, prefix, rate, initial_increment, increment, effective_from)
      values (${id}, ${cardId}, '46', 0.01, 1, 1, now())`.execute(db);
  await assert.rejects(
    insert('rc_does_not_exist', 'rt_orphan'),
    /no partition of relation "rates" found for row/,
  );
  await insert(sell, 'rt_kept');
  const other = await card({ name: 'Elsewhere', direction: 'sell' });
  await assert.rejects(
    sql`update rates set ratecard_id = ${other} where id = 'rt_kept'`.execute(db),
    /cannot move to another rate card/,
  );
  await assert.rejects(
    sql`update ratecards set id = 'rc_renamed' where id = ${sell}`.execute(db),
    /cannot change/,
  );
  await sql`delete from ratecards where id = ${sell}`.execute(db);
  const left = await sql<{
    n: number;
  }>`select count(*)::int as n from rates where ratecard_id = ${sell}`.execute(db);
  assert.equal(left.rows[0]!.n, 0);
  // The card's partition went with it; the other card keeps its own.
  const partitions = await sql<{ gone: string | null; kept: string | null }>`select
    to_regclass(${`rates_${sell}`})::text as gone, to_regclass(${`rates_${other}`})::text as kept`.execute(
    db,
  );
  assert.deepEqual(partitions.rows[0], { gone: null, kept: `rates_${other}` });
});
