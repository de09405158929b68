import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { runPaymentJobsOnce, startPaymentJobs } from '../src/modules/payments/jobs.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { balanceOf, CARD, contextAhead, created, movedSince, transactionRow } from './payments-fixtures.js';

/**
 * Bank debits and credits (seed 004's payments/b2b routes) on the built-in test gateway, and the
 * payment jobs (recurring + reconciliation) run once and on a timer.
 */
let t: TestApp;
const ids = {} as Record<'customer' | 'bank' | 'card', string>;
const BANK = {
  bank_account_number: '000123456789',
  routing_number: '110000000',
  account_holder: 'Ada Lovelace',
};

before(async () => {
  t = await startTestApp();
  const registered = await created(t, '/api/v1/customer/register', { name: 'Ada', currency: 'USD', ...BANK });
  ids.customer = registered.customer_id;
  ids.bank = registered.profile.id;
  assert.equal(registered.profile.kind, 'bank');
  assert.equal(registered.profile.last4, '6789');
  ids.card = (
    await created(t, '/api/v1/customer/payments/register', {
      customer_id: ids.customer,
      card_number: '4242424242424242',
      ...CARD,
    })
  ).profile.id;
});
after(async () => {
  const report = await verifyLedger(t.handle.db);
  assert.deepEqual(report.problems, [], 'ledger invariants hold after the suite');
  await t.close();
});

const bank = (action: 'debit' | 'credit', body: Record<string, unknown>) =>
  t.request('POST', `/api/v1/payments/b2b/transaction/${action}`, {
    body: { customer_id: ids.customer, currency: 'USD', ...body },
  });

test('bank: a debit tops the balance up, a credit pays it out; neither stores the account number', async () => {
  const start = await balanceOf(t, ids.customer);
  const debit = await bank('debit', { profile_id: ids.bank, amount: '100' });
  assert.equal(debit.status, 201, debit.text);
  assert.equal(debit.body.data.status, 'success');
  assert.equal(debit.body.data.type, 'purchase');
  assert.equal(await movedSince(t, ids.customer, start), '100');
  const credit = await bank('credit', { profile_id: ids.bank, amount: '30.5' });
  assert.equal(credit.status, 201, credit.text);
  assert.equal(credit.body.data.type, 'credit');
  assert.equal(await movedSince(t, ids.customer, start), '69.5');
  const raw = await bank('debit', { amount: '5', ...BANK });
  assert.equal(raw.status, 201, raw.text);
  assert.equal(await movedSince(t, ids.customer, start), '74.5');
  const stored = JSON.stringify(await t.handle.db.selectFrom('payment_profiles').selectAll().execute());
  assert.ok(!stored.includes('000123456789'));
});

test('bank: bad input is 4xx naming the field, never 500', async () => {
  const balance = await balanceOf(t, ids.customer);
  const cases: [Record<string, unknown>, 'debit' | 'credit', number, string][] = [
    [{ profile_id: ids.bank, amount: `${Number(balance) + 1}` }, 'credit', 402, 'amount'],
    [{ profile_id: ids.card, amount: '5' }, 'debit', 400, 'profile_id'],
    [{ amount: '5' }, 'debit', 400, 'profile_id'],
    [
      { amount: '5', bank_account_number: '000123456789', account_holder: 'Ada' },
      'debit',
      400,
      'routing_number',
    ],
    [{ profile_id: ids.bank, amount: '0' }, 'debit', 400, 'amount'],
    [{ profile_id: ids.bank, amount: '1.001' }, 'debit', 400, 'amount'],
    [{ profile_id: ids.bank, amount: '5', currency: 'EUR' }, 'debit', 400, 'currency'],
    [{ profile_id: 'pp_01aaaaaaaaaaaaaaaaaaaaaaaa', amount: '5' }, 'debit', 404, ''],
    [{ profile_id: ids.bank, amount: '5', iban: 'x' }, 'debit', 400, 'iban'],
  ];
  for (const [body, action, status, param] of cases) {
    const res = await bank(action, body);
    assert.equal(res.status, status, `${action} ${JSON.stringify(body)}: ${res.text}`);
    if (param) assert.equal(res.body.error.param, param, JSON.stringify(body));
  }
  assert.equal(await balanceOf(t, ids.customer), balance, 'nothing moved');
});

test('jobs: one run reconciles what was left pending; the timer does it too and stops cleanly', async () => {
  const start = await balanceOf(t, ids.customer);
  const charge = (amount: string) =>
    t.request('POST', '/api/v1/payments/creditcard/charge', {
      body: { customer_id: ids.customer, currency: 'USD', amount, ...CARD, card_number: '4000000000003220' },
    });
  const first = await charge('3');
  assert.equal(first.body.data.status, 'pending', first.text);
  const summary = await runPaymentJobsOnce(contextAhead(t, 120));
  assert.equal(summary.reconciliation.settled, 1, JSON.stringify(summary));
  assert.equal((await transactionRow(t, first.body.data.transaction_id)).status, 'success');

  const second = await charge('4');
  const logged: unknown[] = [];
  const log = { info: (o: unknown) => logged.push(o), error: (o: unknown) => logged.push(o) } as never;
  const jobs = startPaymentJobs(contextAhead(t, 120), 0.05, log);
  for (
    let i = 0;
    i < 100 && (await transactionRow(t, second.body.data.transaction_id)).status !== 'success';
    i++
  )
    await new Promise((resolve) => setTimeout(resolve, 50));
  await jobs.stop();
  assert.equal((await transactionRow(t, second.body.data.transaction_id)).status, 'success');
  assert.ok(logged.length >= 1, 'a run that did something is logged');
  assert.equal(await movedSince(t, ids.customer, start), '7');
  await startPaymentJobs(contextAhead(t, 0), 0, log).stop(); // 0 disables: nothing scheduled
});
