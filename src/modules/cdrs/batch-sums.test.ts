import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROLLUP_COLUMNS, rollupCopyChunks, storedGroupsOf } from './batch-sums.js';
import type { PricedCdr } from './cdr-pricing.js';
import type { Disposition } from './schema.js';

/** A priced CDR with only what the sums read; costs in 1e-8 units. */
function priced(fields: {
  start: string;
  customer?: string | null;
  partner?: string | null;
  carrier?: string | null;
  disposition?: Disposition;
  billsec?: number;
  pdd?: number | null;
  sell?: bigint;
  buy?: bigint;
  unrated?: boolean;
}): PricedCdr {
  const { sell, buy } = fields;
  return {
    cdr: {
      switchId: 'sw',
      callId: fields.start,
      customerId: fields.customer ?? null,
      accountNumber: null,
      carrierId: fields.carrier ?? null,
      caller: '1',
      callee: '2',
      startTime: new Date(fields.start),
      answerTime: null,
      endTime: new Date(fields.start),
      durationSeconds: fields.billsec ?? 0,
      billsec: fields.billsec ?? 0,
      disposition: fields.disposition ?? 'answered',
      hangupCause: null,
      pddMs: fields.pdd ?? null,
      tags: {},
    },
    customerId: fields.customer === undefined ? 'cus_a' : fields.customer,
    partnerId: fields.partner ?? null,
    unratedReason: fields.unrated ? 'no_rate' : null,
    currency: fields.unrated ? null : 'USD',
    sell:
      sell === undefined
        ? null
        : { ratecardId: 'rc', prefix: '1', destination: 'US', rate: '0.01', billedSeconds: 60, cost: sell },
    buy: buy === undefined ? null : { ratecardId: 'rb', rate: '0.02', currency: 'USD', cost: buy },
    margin: sell === undefined ? null : sell - (buy ?? 0n),
  };
}

const BATCH = [
  // 10:00 hour, customer a, carrier x: answered with pdd, busy without, a loss-making call.
  priced({
    start: '2026-11-02T10:00:00.000Z',
    carrier: 'car_x',
    billsec: 61,
    pdd: 120,
    sell: 150_000_000n,
    buy: 50_000_000n,
  }),
  priced({ start: '2026-11-02T10:59:59.999Z', carrier: 'car_x', disposition: 'busy', pdd: null }),
  priced({ start: '2026-11-02T10:30:00.000Z', carrier: 'car_x', billsec: 5, pdd: 80, sell: 1n, buy: 3n }),
  // The next hour starts a new group; failed is not reached; no carrier is its own group.
  priced({ start: '2026-11-02T11:00:00.000Z', carrier: 'car_x', disposition: 'failed' }),
  priced({ start: '2026-11-02T11:00:00.000Z', disposition: 'no_answer', pdd: 0 }),
  // An unknown customer under a partner: answered, unrated, nothing charged.
  priced({ start: '2026-11-02T11:15:00.000Z', customer: null, partner: 'par_p', unrated: true }),
];

test('rollup sums: one line per hour × customer × partner × carrier, exact and signed', () => {
  const text = [...rollupCopyChunks(BATCH)].join('');
  assert.equal(text.split('\n').at(-1), '', 'every line ends with a newline');
  const lines = text
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t'));
  assert.ok(lines.every((line) => line.length === ROLLUP_COLUMNS.length));
  assert.deepEqual(lines, [
    // attempts 3, answered 2, reached 3, answered seconds 66, pdd 200 over 2; margin 1 - 0.5 + (-2e-8).
    [
      '2026-11-02T10:00:00.000Z',
      'cus_a',
      '\\N',
      'car_x',
      '3',
      '2',
      '3',
      '66',
      '200',
      '2',
      '1.50000001',
      '0.50000003',
      '0.99999998',
    ],
    ['2026-11-02T11:00:00.000Z', 'cus_a', '\\N', 'car_x', '1', '0', '0', '0', '0', '0', '0', '0', '0'],
    ['2026-11-02T11:00:00.000Z', 'cus_a', '\\N', '\\N', '1', '0', '1', '0', '0', '1', '0', '0', '0'],
    ['2026-11-02T11:00:00.000Z', '\\N', 'par_p', '\\N', '1', '1', '1', '0', '0', '0', '0', '0', '0'],
  ]);
});

test('rollup text is streamed in chunks of whole lines', () => {
  const many = Array.from({ length: 1_234 }, (_, i) =>
    priced({ start: '2026-11-02T10:00:00.000Z', customer: `cus_${i}`, sell: 1n }),
  );
  const chunks = [...rollupCopyChunks(many)];
  assert.deepEqual(
    chunks.map((chunk) => chunk.split('\n').length - 1),
    [500, 500, 234],
  );
  assert.ok(chunks.every((chunk) => chunk.endsWith('\n')));
});

test('stored groups: per customer, currency and rating state, charged = sum of sell costs', () => {
  assert.deepEqual(storedGroupsOf(BATCH), [
    { customer_id: 'cus_a', currency: 'USD', rating_state: 'rated', stored: 5, charged: '1.50000001' },
    { customer_id: null, currency: null, rating_state: 'unrated', stored: 1, charged: '0' },
  ]);
  assert.deepEqual(storedGroupsOf([]), []);
});
