import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import type { PrefixIndex } from '../src/modules/rating/prefix-index.js';
import { getRatecard } from '../src/modules/rating/ratecards.js';
import { loadCardIndex, RatingIndex } from '../src/modules/rating/rating-index.js';
import { startTestApp, type TestApp } from './helpers/app.js';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(async () => t.close());

async function sellCard(currency = 'USD') {
  const response = await t.request('POST', '/api/v1/ratecards', {
    body: { name: 'Deck', currency, direction: 'sell', initial_increment: 60, increment: 6 },
  });
  return response.body.data.id as string;
}

const upload = (cardId: string, csv: string | Buffer, query = '') =>
  t.request('POST', `/api/v1/ratecards/${cardId}/import${query}`, {
    body: csv,
    headers: { 'content-type': 'text/csv' },
  });

const HEADER = 'prefix,destination,rate,connection_fee,initial_increment,increment,effective_from';

async function rateOf(cardId: string, number: string, at?: string) {
  const when = at ? `&at=${at}` : '';
  const response = await t.request(
    'GET',
    `/api/v1/rates/lookup?number=${number}&ratecard_id=${cardId}${when}`,
  );
  return response.status === 200 ? response.body.data : null;
}

test('merge then replace: counts of added, changed, unchanged and closed', async () => {
  const id = await sellCard();
  const first = await upload(
    id,
    `${HEADER}\n44,UK,0.02,,,,2024-01-01\n447,UK mobile,0.1,0.01,,60/6,2024-01-01\n33,France,0.03,,,,2024-01-01\n`,
  );
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(
    { ...first.body.data, duration_ms: 0 },
    {
      object: 'deck_import',
      ratecard_id: id,
      mode: 'merge',
      rows: 3,
      added: 3,
      changed: 0,
      unchanged: 0,
      closed: 0,
      duration_ms: 0,
    },
  );
  const mobile = await rateOf(id, '447911');
  assert.equal(mobile.initial_increment, 60, "'60/6' in the increment column sets both");
  assert.equal(mobile.increment, 6);
  assert.equal(mobile.connection_fee, '0.01');

  const merged = await upload(
    id,
    `${HEADER}\n44,UK,0.025,,,,2024-01-01\n447,UK mobile,0.1,0.01,,60/6,2024-01-01\n`,
  );
  assert.equal(merged.body.data.changed, 1);
  assert.equal(merged.body.data.unchanged, 1);
  assert.equal((await rateOf(id, '4420')).rate, '0.025');

  const replaced = await upload(id, `${HEADER}\n44,UK,0.03,,,,2024-06-01\n`, '?mode=replace');
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.body.data.added, 1);
  assert.equal(replaced.body.data.closed, 2, '447 and 33 end where the new deck starts');
  assert.equal(await rateOf(id, '33123'), null);
  assert.equal((await rateOf(id, '33123', '2024-05-31')).rate, '0.03');
  assert.equal((await rateOf(id, '447911')).prefix, '44', 'the closed 447 falls back to 44');
});

test('a deck with bad rows changes nothing and reports every bad row', async () => {
  const id = await sellCard();
  await upload(id, 'prefix,rate\n1,0.01\n');
  const deck = [
    'prefix,rate,increment',
    '12a,0.01,6', // non-digit prefix
    '12345678901234567,0.01,6', // 17 digits
    '2,-0.5,6', // negative rate
    '3,0.01,0/6', // zero initial increment
    '4,0.01,60/0', // zero increment
    '5,0.01,abc', // not an increment
    '6,0.01,6',
    '6,0.02,6', // duplicate of the line above
    '1,0.99,6', // good, but must not be applied
  ].join('\n');
  const response = await upload(id, deck);
  assert.equal(response.status, 400, response.text);
  assert.equal(response.body.error.type, 'invalid_request');
  const problems = response.body.errors.map((e: { line: number; column: string }) => `${e.line}:${e.column}`);
  assert.deepEqual(problems, [
    '2:prefix',
    '3:prefix',
    '4:rate',
    '5:initial_increment',
    '6:increment',
    '7:increment',
    '9:prefix',
  ]);
  assert.match(response.body.errors[6].reason, /already appears on line 8/);
  assert.equal((await rateOf(id, '1555')).rate, '0.01', 'the good row was not applied either');
});

test('file shape problems: unknown column, wrong delimiter, empty file, ragged row, huge line, wrong currency', async () => {
  const id = await sellCard();
  const unknown = await upload(id, 'prefix,rate,colour\n1,0.1,red\n');
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.errors[0].reason, /unknown column 'colour'/);

  const semicolons = await upload(id, 'prefix;rate\n1;0.1\n');
  assert.equal(semicolons.status, 400);
  assert.match(semicolons.body.errors[0].reason, /delimiter/);
  const withDelimiter = await upload(id, 'prefix;rate\n1;0.1\n', '?delimiter=;');
  assert.equal(withDelimiter.status, 200, withDelimiter.text);

  for (const empty of ['', 'prefix,rate\n']) {
    const response = await upload(id, empty);
    assert.equal(response.status, 400, `empty: ${JSON.stringify(empty)}`);
    assert.match(response.body.error.reason, /no rate rows/);
  }
  const ragged = await upload(id, 'prefix,rate\n1,0.1,extra\n');
  assert.equal(ragged.status, 400);
  assert.match(ragged.body.errors[0].reason, /expected 2 columns, found 3/);

  const huge = await upload(id, `prefix,destination,rate\n1,"${'x'.repeat(5 * 1024 * 1024)}",0.1\n`);
  assert.equal(huge.status, 400);
  assert.match(huge.body.errors[0].reason, /longer than/);

  const euros = await upload(id, 'prefix,rate,currency\n1,0.1,EUR\n');
  assert.equal(euros.status, 400);
  assert.match(euros.body.errors[0].reason, /does not match the card's USD/);
  const euroParam = await upload(id, 'prefix,rate\n1,0.1\n', '?currency=EUR');
  assert.equal(euroParam.status, 400);
});

test('a destination with a NUL character or longer than the API allows is a bad row', async () => {
  const id = await sellCard();
  const bad = await upload(
    id,
    `prefix,destination,rate\n1,fine,0.1\n2,bad\u0000name,0.1\n3,${'x'.repeat(201)},0.1\n4,${'y'.repeat(200)},0.1\n`,
  );
  assert.equal(bad.status, 400, bad.text);
  assert.deepEqual(
    bad.body.errors.map((error: { line: number; column: string }) => [error.line, error.column]),
    [
      [3, 'destination'],
      [4, 'destination'],
    ],
  );
  assert.equal(await rateOf(id, '1'), null, 'a refused import writes nothing');
});

test('BOM, CRLF, quoted commas, column mapping without a header', async () => {
  const id = await sellCard();
  const windows = await upload(
    id,
    Buffer.from(`\ufeffprefix,destination,rate\r\n49,"Germany, fixed",0.01\r\n`),
  );
  assert.equal(windows.status, 200, windows.text);
  assert.equal((await rateOf(id, '4930')).destination, 'Germany, fixed');
  const mapped = await upload(id, '0.2,-,39\n', '?columns=rate,-,prefix&header=false');
  assert.equal(mapped.status, 200, mapped.text);
  assert.equal((await rateOf(id, '3906')).rate, '0.2');
  // Without a header and without columns, nothing says which column is which.
  const unnamed = await upload(id, '40,0.3\n', '?header=false');
  assert.equal(unnamed.status, 400, unnamed.text);
  assert.match(unnamed.body.errors[0].reason, /header=false needs the columns parameter/);
  assert.equal(await rateOf(id, '40'), null);
});

test('multipart upload streams the file part; export.csv gives the card back', async () => {
  const id = await sellCard();
  const boundary = 'tollgateboundary';
  const body = [
    `--${boundary}`,
    'Content-Disposition: form-data; name="file"; filename="deck.csv"',
    'Content-Type: text/csv',
    '',
    'prefix,destination,rate,effective_from',
    '61,Australia,0.04,2024-01-01',
    '612,Sydney,0.03,2024-01-01',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  const response = await t.request('POST', `/api/v1/ratecards/${id}/import`, {
    body,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  });
  assert.equal(response.status, 200, response.text);
  assert.equal(response.body.data.added, 2);

  const exported = await t.request('GET', `/api/v1/ratecards/${id}/export.csv?at=2024-02-01`);
  assert.equal(exported.status, 200);
  assert.match(String(exported.headers['content-type']), /text\/csv/);
  const lines = exported.text.trim().split('\n');
  assert.equal(
    lines[0],
    'prefix,destination,rate,connection_fee,initial_increment,increment,effective_from,effective_to,blocked',
  );
  assert.equal(lines[1], '61,Australia,0.04,0,60,6,2024-01-01T00:00:00.000Z,,false');
  assert.equal(lines.length, 3);
  const reimport = await upload(id, exported.text);
  assert.equal(reimport.body.data.unchanged, 2, 'an export imports back as no change');
});

test('a card loads into the same index through COPY (PostgreSQL) as through paged queries', async () => {
  const id = await sellCard();
  const csv = [
    'prefix,destination,rate,connection_fee,increment,effective_from,effective_to,blocked',
    '44,"Tab\there, back\\slash",0.12345678,0.5,60/6,2024-01-01,,false',
    '44,"Line\nbreak, ünïcode",9999999.99999999,0,1/1,2025-01-01 12:30:00.250,2026-01-01,true',
    '4,Short,0,1.1,30/6,2023-06-01T00:00:00+02:00,,',
    '447,"Mobile ""quoted""",0.00000001,0,60/60,2024-01-01,,yes',
  ].join('\n');
  const imported = await upload(id, csv);
  assert.equal(imported.status, 200, imported.text);
  const card = await getRatecard(t.handle.db, id);
  const paged = (await loadCardIndex(t.handle.db, card)).index;
  const all = (index: PrefixIndex) =>
    Array.from({ length: index.versionCount }, (_, v) => ({
      ...index.version(v),
      prefix: index.prefixOf(v),
    }));
  assert.equal(paged.versionCount, 4);
  assert.deepEqual(
    all(paged).map((v) => [v.prefix, v.destination, v.rate, v.connectionFee, v.blocked]),
    [
      ['4', 'Short', '0', '1.1', false],
      ['44', 'Tab\there, back\\slash', '0.12345678', '0.5', false],
      ['44', 'Line\nbreak, ünïcode', '9999999.99999999', '0', true],
      ['447', 'Mobile "quoted"', '0.00000001', '0', true],
    ],
  );
  if (!t.config.databaseUrl) return; // PGlite: no COPY TO STDOUT through a client
  const copied = (await loadCardIndex(t.handle.db, card, { databaseUrl: t.config.databaseUrl })).index;
  assert.deepEqual(all(copied), all(paged));
  assert.equal(copied.match('4479', Date.parse('2024-06-01')), paged.match('4479', Date.parse('2024-06-01')));
});

test('loading every card at start does not rebuild a card a request already loaded', async () => {
  const id = await sellCard();
  assert.equal((await upload(id, `${HEADER}\n44,UK,0.02,,,,2024-01-01\n`)).status, 200);
  const index = new RatingIndex(t.handle.db, { databaseUrl: t.config.databaseUrl });
  const first = await index.get(id);
  await index.loadAll();
  assert.equal(await index.get(id), first, 'the same index object: not built twice');
  await index.reload(id);
  assert.notEqual(await index.get(id), first, 'an explicit reload still rebuilds');
});

/** Tables in the schema whose name starts with rates_load_ (bare tables of unfinished loads). */
async function loadTablesLeft(): Promise<string[]> {
  const found = await sql<{ name: string }>`select tablename as name from pg_tables
    where tablename like 'rates_load_%'`.execute(t.handle.db);
  return found.rows.map((row) => row.name);
}

test('a deck into a card without rates becomes the card partition; a rejected one leaves nothing', async () => {
  const id = await sellCard();
  const rejected = await upload(
    id,
    `${HEADER}\n44,UK,0.01,0,60,6,2024-01-01\n45,UK,oops,0,60,6,2024-01-01\n`,
  );
  assert.equal(rejected.status, 400, rejected.text);
  assert.equal(await rateOf(id, '4412'), null);
  assert.deepEqual(await loadTablesLeft(), []);

  const imported = await upload(
    id,
    `${HEADER}\n44,UK,0.01,0,60,6,2024-01-01\n4420,London,0.02,0,60,6,2024-01-01\n`,
  );
  assert.equal(imported.status, 200, imported.text);
  assert.equal(imported.body.data.added, 2);
  assert.equal((await rateOf(id, '442012')).rate, '0.02');
  assert.deepEqual(await loadTablesLeft(), []);
  // The loaded table is the card's partition, with the keys every partition has.
  const keys = await sql<{ name: string }>`select indexrelid::regclass::text as name from pg_index
    where indrelid = ${`rates_${id}`}::regclass order by 1`.execute(t.handle.db);
  assert.deepEqual(
    keys.rows.map((row) => row.name),
    [`rates_${id}_key`, `rates_${id}_pkey`],
  );
  // The unique key holds on the loaded partition: the same version again is refused.
  await assert.rejects(
    sql`insert into rates (id, ratecard_id, prefix, rate, initial_increment, increment, effective_from)
      values ('rt_twin', ${id}, '44', 0.5, 1, 1, '2024-01-01')`.execute(t.handle.db),
    /duplicate key value/,
  );
  // A second deck merges into it as into any card.
  const merged = await upload(id, `${HEADER}\n44,UK,0.03,0,60,6,2024-01-01\n45,NL,0.04,0,60,6,2024-01-01\n`);
  assert.equal(merged.status, 200, merged.text);
  assert.deepEqual([merged.body.data.added, merged.body.data.changed], [1, 1]);
});

test('decks imported at once into cards without rates all land (loads take turns, no deadlock)', async () => {
  const ids = await Promise.all([sellCard(), sellCard(), sellCard()]);
  const deck = (n: number) =>
    [HEADER, ...Array.from({ length: 2_000 }, (_, i) => `${n}${1000 + i},D,0.0${n},0,60,6,2024-01-01`)].join(
      '\n',
    );
  const answers = await Promise.all(ids.map((id, n) => upload(id, deck(n + 1))));
  for (const answer of answers) assert.equal(answer.status, 200, answer.text);
  for (const [n, id] of ids.entries()) assert.equal((await rateOf(id, `${n + 1}1500`)).rate, `0.0${n + 1}`);
});

test('decks imported at once into one card with rates take turns: every one lands, the card is one whole deck', async () => {
  const id = await sellCard();
  const deck = (rate: string, count: number) =>
    [HEADER, ...Array.from({ length: count }, (_, i) => `49${1000 + i},DE,${rate},0,60,6,2024-01-01`)].join(
      '\n',
    );
  assert.equal((await upload(id, deck('0.01', 3_000))).status, 200);
  // Merges and replaces of overlapping rows, all at once: on PostgreSQL two of them used to
  // deadlock (500) as each updated rows the other had already locked.
  const decks = [deck('0.02', 2_500), deck('0.03', 3_000)];
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, n) =>
      upload(id, decks[n % 2]!, n % 3 === 0 ? '?mode=merge' : '?mode=replace'),
    ),
  );
  for (const answer of answers) assert.equal(answer.status, 200, answer.text);
  const replaced = await Promise.all(
    Array.from({ length: 4 }, (_, n) => upload(id, decks[n % 2]!, '?mode=replace')),
  );
  for (const answer of replaced) assert.equal(answer.status, 200, answer.text);
  const exported = await t.request('GET', `/api/v1/ratecards/${id}/export.csv`);
  const rows = exported.text.trim().split('\n').slice(1);
  const rates = new Set(rows.map((row) => row.split(',')[2]));
  // Whichever replace came last, the card is that deck alone: never rows of two decks.
  assert.equal(rates.size, 1, [...rates].join(' '));
  assert.equal(rows.length, rates.has('0.02') ? 2_500 : 3_000);
});

/** A deck big enough that a request sent with its upload arrives while it is still loading. */
const SLOW_DECK = [
  HEADER,
  ...Array.from({ length: 20_000 }, (_, i) => `9${10000 + i},D,0.01,0,60,6,2024-01-01`),
].join('\n');

test('a rate added while a deck loads into its card is kept: it waits for the load, then goes in', async () => {
  const id = await sellCard();
  const importing = upload(id, SLOW_DECK);
  const single = t.request('POST', `/api/v1/ratecards/${id}/rates`, {
    body: { prefix: '8', rate: '0.5', effective_from: '2024-01-01T00:00:00Z' },
  });
  const [imported, added] = await Promise.all([importing, single]);
  assert.equal(imported.status, 200, imported.text);
  assert.equal(added.status, 201, added.text);
  assert.equal((await rateOf(id, '81')).rate, '0.5');
  assert.equal((await rateOf(id, '910500')).rate, '0.01');
});

test('a deck or a rate for a card that does not exist is 404 in the envelope, and makes no partition', async () => {
  const imported = await upload('rc_01nosuchcard0000000000000', `${HEADER}\n44,UK,0.01,0,60,6,2024-01-01\n`);
  assert.equal(imported.status, 404, imported.text);
  assert.equal(imported.body.error.type, 'not_found');
  const added = await t.request('POST', '/api/v1/ratecards/rc_01nosuchcard0000000000000/rates', {
    body: { prefix: '44', rate: '0.01', effective_from: '2024-01-01T00:00:00Z' },
  });
  assert.equal(added.status, 404, added.text);
  assert.equal(added.body.error.type, 'not_found');
  const partition = await sql<{
    found: string | null;
  }>`select to_regclass('rates_rc_01nosuchcard0000000000000')::text as found`.execute(t.handle.db);
  assert.equal(partition.rows[0]!.found, null);
});

test('a derived card set up while a deck loads into its source waits for the load, then compiles from it', async () => {
  const buy = (
    await t.request('POST', '/api/v1/ratecards', {
      body: { name: 'Carrier', currency: 'USD', direction: 'buy', initial_increment: 60, increment: 6 },
    })
  ).body.data.id as string;
  const sell = await sellCard();
  const importing = upload(buy, SLOW_DECK);
  const deriving = t.request('PUT', `/api/v1/ratecards/${sell}/derivation`, {
    body: { source_ids: [buy], percentage: '10' },
  });
  const [imported, derived] = await Promise.all([importing, deriving]);
  assert.equal(imported.status, 200, imported.text);
  assert.equal(derived.status, 200, derived.text);
  // In either order the derived card ends up priced from the loaded deck: compiled after the
  // load, or recompiled by the import when the derivation committed first.
  assert.ok([0, 20_000].includes(derived.body.data.compiled_rates), derived.text);
  assert.equal((await rateOf(sell, '910500')).rate, '0.011');
});
