import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postTransaction } from '../src/modules/ledger/posting.js';
import { Decimal } from '../src/money/index.js';
import type { TestApp } from './helpers/app.js';
import { created, makeTenant, withVerifiedLedgerApp } from './ledger-fixtures.js';

/**
 * Concurrency (issue 3): on PostgreSQL the requests below really run at once on the pool's
 * connections; the row locks must let exactly the debits that fit through. (On PGlite, one
 * connection serialises them, and the same assertions must still hold.)
 */
let t: TestApp;
withVerifiedLedgerApp((app) => {
  t = app;
});

test('100 concurrent debits at one account: exactly those that fit the credit limit pass', async () => {
  const { customer, partnerKey } = await makeTenant(t, { customerLimit: '-5' });
  await created(t, `/api/v1/customers/${customer.id}/adjustments`, { amount: '-5', description: 'credit' });
  // Balance 5, limit −5: 10 available; 66 charges of 0.15 fit (9.90), the 67th would not.
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      t.request('POST', `/api/v1/customers/${customer.id}/charges`, {
        key: partnerKey,
        body: { amount: '0.15', description: `debit ${i}` },
      }),
    ),
  );
  const statuses = results.map((res) => res.status);
  assert.equal(statuses.filter((status) => status === 201).length, 66, JSON.stringify(statuses));
  assert.equal(statuses.filter((status) => status === 402).length, 34);
  const balances = results
    .filter((res) => res.status === 201)
    .map((res) => new Decimal(res.body.data.balance));
  assert.ok(balances.every((balance) => balance.greaterThanOrEqualTo(-5)));
  const shown = await t.request('GET', `/api/v1/customers/${customer.id}`);
  assert.equal(shown.body.data.balance, '-4.9');
});

test('opposite transfers between the same accounts at once never deadlock (locks taken in id order)', async () => {
  const a = await makeTenant(t, { partnerFunds: '100' });
  const b = await makeTenant(t, { partnerFunds: '100' });
  const move = (from: string, to: string, i: number) =>
    postTransaction(t.handle.db, {
      category: 'transfer',
      description: `swap ${i}`,
      postings: [
        { owner: { kind: 'partner', id: from }, amount: new Decimal('-1'), currency: 'USD' },
        { owner: { kind: 'partner', id: to }, amount: new Decimal('1'), currency: 'USD' },
      ],
    });
  await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      i % 2 ? move(a.partner.id, b.partner.id, i) : move(b.partner.id, a.partner.id, i),
    ),
  );
  const [pa, pb] = await Promise.all([
    t.request('GET', `/api/v1/partners/${a.partner.id}`),
    t.request('GET', `/api/v1/partners/${b.partner.id}`),
  ]);
  assert.deepEqual([pa.body.data.balance, pb.body.data.balance], ['100', '100']);
});

test('concurrent reposts of one reference key post exactly once', async () => {
  const { customer } = await makeTenant(t, { customerLimit: '-100' });
  const post = () =>
    postTransaction(t.handle.db, {
      category: 'call_charge',
      description: 'cdr batch 7',
      referenceKey: 'cdr-batch-7',
      allowOverdraft: true,
      postings: [
        { owner: { kind: 'customer', id: customer.id }, amount: new Decimal('-2.5'), currency: 'USD' },
        { owner: { kind: 'operator', code: 'revenue:calls' }, amount: new Decimal('2.5'), currency: 'USD' },
      ],
    });
  const results = await Promise.all(Array.from({ length: 20 }, post));
  assert.equal(new Set(results.map((posted) => posted.id)).size, 1);
  assert.equal(results.filter((posted) => !posted.replayed).length, 1);
  const shown = await t.request('GET', `/api/v1/customers/${customer.id}`);
  assert.equal(shown.body.data.balance, '-2.5');
});
