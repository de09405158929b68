import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { Decimal } from '../src/money/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * Properties of CDR charging over random batches: what the CDRs say they were charged is what
 * the ledger holds as call charges, re-rating with unchanged rates posts nothing, and the
 * ledger's invariants hold throughout.
 */
let t: TestApp;
const customers: { id: string; account_number: string }[] = [];
let sequence = 0;

const data = (method: string, url: string, body?: unknown) => t.data(method, url, body);

before(async () => {
  t = await startTestApp();
  const card = await data('POST', '/api/v1/ratecards', {
    name: 'Props',
    currency: 'EUR',
    direction: 'sell',
    rounding_decimals: 5,
  });
  const rates = [
    { prefix: '33', rate: '0.0137', initial_increment: 60, increment: 6 },
    { prefix: '336', rate: '0.091', initial_increment: 30, increment: 6 },
    { prefix: '49', rate: '0.0049', initial_increment: 1, increment: 1, connection_fee: '0.01' },
  ];
  for (const rate of rates)
    await data('POST', `/api/v1/ratecards/${card.id}/rates`, { ...rate, effective_from: '2026-01-01' });
  for (const name of ['P1', 'P2', 'P3']) {
    customers.push(await data('POST', '/api/v1/customers', { name, currency: 'EUR', ratecard_id: card.id }));
  }
});

after(async () => {
  const report = await verifyLedger(t.handle.db);
  await t.close();
  assert.deepEqual(report.problems, []);
});

const arbitraryCdr = fc.record({
  customer: fc.integer({ min: 0, max: 2 }),
  callee: fc.constantFrom('33123456', '33612345', '4915112345', '999000', '3361'),
  startOffsetSeconds: fc.integer({ min: 0, max: 3 * 86_400 }),
  billsec: fc.integer({ min: 0, max: 7_200 }),
  ringSeconds: fc.integer({ min: 0, max: 30 }),
  disposition: fc.constantFrom('answered', 'answered', 'busy', 'no_answer', 'failed'),
});

function toCdr(spec: {
  customer: number;
  callee: string;
  startOffsetSeconds: number;
  billsec: number;
  ringSeconds: number;
  disposition: string;
}) {
  const start = new Date(Date.UTC(2026, 10, 1) + spec.startOffsetSeconds * 1000);
  const answered = spec.disposition === 'answered';
  const answer = new Date(start.getTime() + spec.ringSeconds * 1000);
  const end = new Date(answer.getTime() + (answered ? spec.billsec * 1000 : 0));
  return {
    call_id: `prop-${sequence++}`,
    customer_id: customers[spec.customer]!.id,
    caller: '33100000000',
    callee: spec.callee,
    start_time: start.toISOString(),
    answer_time: answered ? answer.toISOString() : null,
    end_time: end.toISOString(),
    disposition: spec.disposition,
  };
}

async function chargedByCdrs(customerId: string): Promise<Decimal> {
  const rows = await t.handle.db
    .selectFrom('cdrs')
    .select('charged_amount')
    .where('customer_id', '=', customerId)
    .execute();
  return rows.reduce((sum, row) => sum.plus(row.charged_amount), new Decimal(0));
}

test('CDR charges equal ledger call charges; re-rating unchanged rates posts nothing', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbitraryCdr, { minLength: 1, maxLength: 40 }), async (specs) => {
      const result = await data('POST', '/api/v1/cdrs', specs.map(toCdr));
      assert.equal(result.accepted + result.rejected.length, specs.length);
      for (const customer of customers) {
        const statement = await data(
          'GET',
          `/api/v1/customer/balance?account_number=${customer.account_number}&from=2000-01-01&to=2100-01-01`,
        );
        assert.equal(
          new Decimal(statement.call_charges).toFixed(),
          (await chargedByCdrs(customer.id)).toFixed(),
        );
        const rerate = await data('POST', '/api/v1/cdrs/rerate', {
          customer_id: customer.id,
          from: '2026-10-01',
          to: '2026-12-31',
        });
        assert.equal(rerate.difference, '0');
        assert.equal(rerate.transaction_id, null);
      }
    }),
    { numRuns: 12 },
  );
});
