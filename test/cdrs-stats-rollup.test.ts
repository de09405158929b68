import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { callStats, type StatsGroup, type StatsInterval } from '../src/modules/cdrs/stats.js';
import { OPERATOR, type Principal } from '../src/tenancy.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * The hourly statistics rollup (cdr_stats_hourly) against the CDRs themselves, over random data:
 * after every ingestion and re-rating it equals a GROUP BY over `cdrs`, and /stats/calls answers
 * exactly the same from it (whole hours, edges from CDRs) as from the CDRs alone, for any period,
 * grouping, interval and tenancy.
 */
let t: TestApp;
const customers: { id: string; account_number: string; partner_id: string | null }[] = [];
let partnerId = '';
let rateId = '';
let sequence = 0;
const DAY = Date.UTC(2026, 10, 1);

const data = (method: string, url: string, body?: unknown) => t.data(method, url, body);

before(async () => {
  t = await startTestApp();
  const sell = await data('POST', '/api/v1/ratecards', {
    name: 'Rollup sell',
    currency: 'EUR',
    direction: 'sell',
    rounding_decimals: 5,
  });
  rateId = (
    await data('POST', `/api/v1/ratecards/${sell.id}/rates`, {
      prefix: '33',
      rate: '0.0137',
      initial_increment: 60,
      increment: 6,
      effective_from: '2026-01-01',
    })
  ).id;
  await data('POST', `/api/v1/ratecards/${sell.id}/rates`, {
    prefix: '49',
    rate: '0.0049',
    connection_fee: '0.01',
    initial_increment: 1,
    increment: 1,
    effective_from: '2026-01-01',
  });
  const buy = await data('POST', '/api/v1/ratecards', {
    name: 'Rollup buy',
    currency: 'EUR',
    direction: 'buy',
    rounding_decimals: 6,
  });
  await data('POST', `/api/v1/ratecards/${buy.id}/rates`, {
    prefix: '3',
    rate: '0.004',
    initial_increment: 1,
    increment: 1,
    effective_from: '2026-01-01',
  });
  const carrier = await data('POST', '/api/v1/carriers', { name: 'Rollup carrier', ratecard_id: buy.id });
  carriers.push(carrier.id);
  partnerId = (await data('POST', '/api/v1/partners', { name: 'Rollup reseller', currency: 'EUR' })).id;
  customers.push(
    await data('POST', '/api/v1/customers', { name: 'R1', currency: 'EUR', ratecard_id: sell.id }),
  );
  customers.push(
    await data('POST', '/api/v1/customers', {
      name: 'R2',
      currency: 'EUR',
      ratecard_id: sell.id,
      partner_id: partnerId,
    }),
  );
  // No card: its CDRs are stored unrated.
  customers.push(await data('POST', '/api/v1/customers', { name: 'R3', currency: 'EUR' }));
  // Another currency: its money must never be added to the euros, nor a EUR carrier's cost to it.
  const dollars = await data('POST', '/api/v1/ratecards', {
    name: 'Rollup USD',
    currency: 'USD',
    direction: 'sell',
  });
  await data('POST', `/api/v1/ratecards/${dollars.id}/rates`, {
    prefix: '3',
    rate: '0.02',
    initial_increment: 1,
    increment: 1,
    effective_from: '2026-01-01',
  });
  customers.push(
    await data('POST', '/api/v1/customers', { name: 'R4', currency: 'USD', ratecard_id: dollars.id }),
  );
});

after(async () => t.close());

const carriers: (string | null)[] = [null];

const arbitraryCdr = fc.record({
  // 4: a customer nobody knows (stored unrated, customer null).
  customer: fc.integer({ min: 0, max: 4 }),
  carrier: fc.integer({ min: 0, max: 1 }),
  callee: fc.constantFrom('33123456', '4915112345', '999000'),
  startOffsetSeconds: fc.integer({ min: 0, max: 2 * 86_400 }),
  billsec: fc.integer({ min: 0, max: 3_600 }),
  pdd: fc.option(fc.integer({ min: 0, max: 5_000 })),
  disposition: fc.constantFrom('answered', 'answered', 'busy', 'no_answer', 'failed', 'cancelled'),
});

type CdrSpec = typeof arbitraryCdr extends fc.Arbitrary<infer T> ? T : never;

function toCdr(spec: CdrSpec) {
  const start = new Date(DAY + spec.startOffsetSeconds * 1000);
  const answered = spec.disposition === 'answered';
  const end = new Date(start.getTime() + (answered ? spec.billsec * 1000 : 0));
  return {
    call_id: `rollup-${sequence++}`,
    ...(spec.customer < customers.length
      ? { customer_id: customers[spec.customer]!.id }
      : { account_number: 'C999999' }),
    ...(carriers[spec.carrier] ? { carrier_id: carriers[spec.carrier] } : {}),
    caller: '33100000000',
    callee: spec.callee,
    start_time: start.toISOString(),
    answer_time: answered ? start.toISOString() : null,
    end_time: end.toISOString(),
    disposition: spec.disposition,
    ...(spec.pdd === null ? {} : { pdd_ms: spec.pdd }),
  };
}

/** The rollup as stored (without groups summing to nothing) and as recomputed from the CDRs. */
async function rollupMatchesCdrs() {
  const db = t.handle.db;
  const stored = await sql<Record<string, unknown>>`
    select hour, customer_id, partner_id, carrier_id, attempts, answered, reached, answered_seconds::int,
      pdd_sum::int, pdd_count, trim_scale(revenue)::text as revenue, trim_scale(cost)::text as cost,
      trim_scale(margin)::text as margin, currency
    from cdr_stats_hourly where attempts <> 0
    order by 1, 2 nulls first, 3 nulls first, 4 nulls first, currency nulls first`.execute(db);
  const fresh = await sql<Record<string, unknown>>`
    select date_trunc('hour', start_time, 'UTC') as hour, customer_id, partner_id, carrier_id,
      count(*)::int as attempts, count(*) filter (where disposition = 'answered')::int as answered,
      count(*) filter (where disposition in ('answered', 'busy', 'no_answer'))::int as reached,
      coalesce(sum(billsec) filter (where disposition = 'answered'), 0)::int as answered_seconds,
      coalesce(sum(pdd_ms), 0)::int as pdd_sum, count(pdd_ms)::int as pdd_count,
      trim_scale(coalesce(sum(sell_cost), 0))::text as revenue,
      trim_scale(coalesce(sum(buy_cost) filter (where buy_currency = currency), 0))::text as cost,
      trim_scale(coalesce(sum(margin), 0))::text as margin, currency
    from cdrs group by 1, 2, 3, 4, currency
    order by 1, 2 nulls first, 3 nulls first, 4 nulls first, currency nulls first`.execute(db);
  assert.deepEqual(stored.rows, fresh.rows);
}

const arbitraryQuery = fc.record({
  // Periods with edges on and off whole hours, within and beyond the data.
  fromMinutes: fc.oneof(
    fc.integer({ min: -120, max: 3_000 }),
    fc.integer({ min: -2, max: 50 }).map((h) => h * 60),
  ),
  lengthMinutes: fc.oneof(
    fc.integer({ min: 1, max: 3_000 }),
    fc.integer({ min: 1, max: 50 }).map((h) => h * 60),
  ),
  groupBy: fc.constantFrom<StatsGroup>('customer', 'carrier', 'destination', 'prefix'),
  interval: fc.constantFrom<StatsInterval | undefined>(undefined, 'hour', 'day'),
  principal: fc.integer({ min: 0, max: 2 }),
});

function principalOf(which: number): Principal {
  if (which === 1) return { keyId: 'test', role: 'partner', partnerId, customerId: null };
  if (which === 2) return { keyId: 'test', role: 'customer', partnerId: null, customerId: customers[0]!.id };
  return OPERATOR;
}

type QuerySpec = typeof arbitraryQuery extends fc.Arbitrary<infer T> ? T : never;

async function statsAgree(query: QuerySpec) {
  const from = new Date(DAY + query.fromMinutes * 60_000);
  const to = new Date(from.getTime() + query.lengthMinutes * 60_000);
  const base = { from, to, groupBy: query.groupBy, interval: query.interval };
  // Calls by carrier are the operator's alone (other keys get a 403, tested in cdrs.test.ts).
  const principal = query.groupBy === 'carrier' ? OPERATOR : principalOf(query.principal);
  const viaRollup = await callStats(t.handle.db, principal, { ...base, source: 'auto' });
  const viaCdrs = await callStats(t.handle.db, principal, { ...base, source: 'raw' });
  assert.deepEqual(viaRollup, viaCdrs);
}

test('the rollup equals the CDRs and stats answer the same from either, through ingestion and re-rating', async () => {
  let round = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbitraryCdr, { minLength: 1, maxLength: 40 }),
      fc.array(arbitraryQuery, { minLength: 3, maxLength: 6 }),
      async (specs, queries) => {
        const cdrs = specs.map(toCdr);
        await data('POST', '/api/v1/cdrs', cdrs);
        // A resubmission is all duplicates: the rollup must not count them again.
        await data('POST', '/api/v1/cdrs', cdrs.slice(0, 5));
        if (round++ % 3 === 2) {
          // A rate correction, then re-rating one customer: the rollup follows the changed costs.
          await data('PATCH', `/api/v1/rates/${rateId}`, { rate: `0.0${137 + round}` });
          await data('POST', '/api/v1/cdrs/rerate', {
            customer_id: customers[round % 2]!.id,
            from: '2026-10-31',
            to: '2026-11-04',
          });
        }
        await rollupMatchesCdrs();
        for (const query of queries) await statsAgree(query);
      },
    ),
    { numRuns: 15 },
  );
  // The comparison saw real data in every form it can take.
  const seen = await sql<{ n: number }>`
    select count(distinct (customer_id is null, carrier_id is null, rating_state, currency))::int as n from cdrs`.execute(
    t.handle.db,
  );
  assert.ok(seen.rows[0]!.n >= 5, `only ${seen.rows[0]!.n} kinds of CDR`);
});

test('a stats period of whole hours reads the rollup', async () => {
  // Written straight into the rollup (not into cdrs): only a rollup read can see it.
  await sql`
    insert into cdr_stats_hourly values ('2030-01-01T05:00:00Z', null, null, 'car_rollup_only', 7, 5, 6, 300,
      0, 0, 1.5, 0.5, 1.0)`.execute(t.handle.db);
  const query = { from: new Date('2030-01-01T00:00:00Z'), to: new Date('2030-01-02T00:00:00Z') };
  const rows = await callStats(t.handle.db, OPERATOR, { ...query, groupBy: 'carrier' });
  assert.deepEqual(
    rows.map((row) => [row.group, row.attempts, row.answered, row.revenue, row.minutes]),
    [['car_rollup_only', 7, 5, '1.5', '5.0000']],
  );
  const raw = await callStats(t.handle.db, OPERATOR, { ...query, groupBy: 'carrier', source: 'raw' });
  assert.deepEqual(raw, []);
  await sql`delete from cdr_stats_hourly where carrier_id = 'car_rollup_only'`.execute(t.handle.db);
});

test('concurrent batches and re-ratings of the same customers all succeed and keep the rollup exact', async () => {
  const specs = (offset: number): CdrSpec[] =>
    Array.from({ length: 30 }, (_, i) => ({
      customer: i % 2,
      carrier: i % 2,
      callee: '33123456',
      startOffsetSeconds: 3_600 * (i % 5) + offset,
      billsec: 30 + i,
      pdd: i,
      disposition: 'answered',
    }));
  for (let round = 0; round < 4; round++) {
    // A new rate each round: the re-ratings below post differences (ledger locks) while the
    // batches charge the same customers.
    await data('PATCH', `/api/v1/rates/${rateId}`, { rate: `0.0${200 + round}` });
    const results = await Promise.all([
      t.request('POST', '/api/v1/cdrs', { body: specs(round * 7).map(toCdr) }),
      t.request('POST', '/api/v1/cdrs', { body: specs(round * 7 + 3).map(toCdr) }),
      t.request('POST', '/api/v1/cdrs/rerate', {
        body: { customer_id: customers[0]!.id, from: '2026-10-31', to: '2026-11-04' },
      }),
      t.request('POST', '/api/v1/cdrs/rerate', {
        body: { customer_id: customers[1]!.id, from: '2026-10-31', to: '2026-11-04' },
      }),
    ]);
    for (const res of results) assert.equal(res.status, 200, res.text);
  }
  await rollupMatchesCdrs();
});
