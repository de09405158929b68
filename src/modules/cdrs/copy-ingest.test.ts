import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PricedCdr } from './cdr-pricing.js';
import { cdrRow } from './cdr-pricing.js';
import { COPY_COLUMNS, copyLine, copyValue } from './copy-ingest.js';

/** COPY lines carry exactly what cdrRow stores through unnest (PGlite), column by column. */
const cdr = {
  senderPartnerId: 'par_1' as string | null,
  switchId: 'sw\\1',
  callId: 'call\t1',
  customerId: null,
  accountNumber: 'C100001',
  carrierId: 'car_1',
  caller: '331',
  callee: '33123456',
  startTime: new Date('2026-11-02T10:00:00.123Z'),
  answerTime: null,
  endTime: new Date('2026-11-02T10:01:00Z'),
  durationSeconds: 60,
  billsec: 0,
  disposition: 'busy' as const,
  hangupCause: '486 Busy\nHere',
  pddMs: null,
  tags: { note: 'tab\there \\ back' },
};

const cases: PricedCdr[] = [
  {
    cdr,
    customerId: null,
    partnerId: 'par_1',
    unratedReason: 'unknown_customer',
    currency: null,
    sell: null,
    buy: null,
    margin: null,
  },
  {
    cdr: {
      ...cdr,
      senderPartnerId: null,
      customerId: 'cus_1',
      answerTime: cdr.startTime,
      billsec: 59,
      pddMs: 0,
      tags: {},
    },
    customerId: 'cus_1',
    partnerId: null,
    unratedReason: null,
    currency: 'EUR',
    sell: {
      ratecardId: 'rc_1',
      prefix: '33',
      destination: 'France',
      rate: '0.0137',
      billedSeconds: 60,
      cost: 1_370_000n,
    },
    buy: { ratecardId: 'rc_2', rate: '0.02', currency: 'EUR', cost: 2_000_000n },
    margin: -630_000n,
  },
];

test('copyLine writes the values of cdrRow in COPY_COLUMNS order', () => {
  for (const priced of cases) {
    const row = cdrRow(priced, 'cdr_1', 'cdb_1');
    const expected = COPY_COLUMNS.map((column) => {
      const value = row[column];
      return copyValue(typeof value === 'object' && value !== null ? JSON.stringify(value) : value);
    });
    assert.deepEqual(copyLine(priced, 'cdr_1', 'cdb_1').split('\t'), expected);
  }
  assert.equal(new Set(COPY_COLUMNS).size, Object.keys(cdrRow(cases[0]!, 'x', 'y')).length);
});
