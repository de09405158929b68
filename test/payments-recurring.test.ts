import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { reconcileTransactions } from '../src/modules/payments/reconcile.js';
import { runDueRecurringPayments } from '../src/modules/payments/recurring.js';
import type { PaymentContext } from '../src/modules/payments/transactions.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * Recurring payments on a fake clock, the runner and its retry/suspend schedule, reconciliation
 * of pending and unanswered transactions, and gateway configurations with sealed credentials.
 */
let t: TestApp;
let clock = new Date('2026-05-15T09:00:00Z');
let ctx: PaymentContext;
const CARD = { exp_month: 12, exp_year: 2035, cvv: '123', cardholder_name: 'Grace Hopper' };
const ids = {} as Record<'customer' | 'profile' | 'declining', string>;

async function created(url: string, body: Record<string, unknown>) {
  const res = await t.request('POST', url, { body });
  assert.equal(res.status, 201, `${url}: ${res.text}`);
  return res.body.data;
}

before(async () => {
  t = await startTestApp();
  ctx = { db: t.handle.db, secrets: { key: t.config.secretsKey, isDefault: true }, now: () => clock };
  const good = await created('/api/v1/customer/register', {
    name: 'Grace',
    currency: 'USD',
    card_number: '4242424242424242',
    ...CARD,
  });
  Object.assign(ids, { customer: good.customer_id, profile: good.profile.id });
  const bad = await created('/api/v1/customer/payments/register', {
    customer_id: good.customer_id,
    card_number: '4000000000000002',
    ...CARD,
  });
  ids.declining = bad.profile.id;
});
after(async () => t.close());

const register = (body: Record<string, unknown>) =>
  t.request('POST', '/api/v1/recurringpayments/register', {
    body: { customer_id: ids.customer, amount: '9.99', ...body },
  });

test('recurring: bad interval, past start date, unknown profile are refused', async () => {
  // The HTTP route runs on the real clock; the dates here are relative to it.
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const cases: [Record<string, unknown>, number, string][] = [
    [{ profile_id: ids.profile, interval: 'fortnightly' }, 400, 'interval'],
    [{ profile_id: ids.profile, interval: 'daily', start_date: yesterday }, 400, 'start_date'],
    [{ profile_id: ids.profile, interval: 'daily', start_date: '2026-02-30' }, 400, 'start_date'],
    [{ profile_id: 'pp_01aaaaaaaaaaaaaaaaaaaaaaaa', interval: 'daily' }, 404, ''],
  ];
  for (const [body, status, param] of cases) {
    const res = await register(body);
    assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
    if (param) assert.equal(res.body.error.param, param);
  }
});

test('recurring: starting today is first processed tomorrow; suspend, resume, remove; a used profile cannot be removed', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const res = await register({ profile_id: ids.profile, interval: 'daily', start_date: today });
  assert.equal(res.status, 201, res.text);
  const id = res.body.data.recurring_payment_id;
  assert.notEqual(res.body.data.next_processing_date, today);
  const removeProfile = await t.request('POST', '/api/v1/customer/payments/remove', {
    body: { profile_id: ids.profile },
  });
  assert.equal(removeProfile.status, 409, removeProfile.text);
  const resumeActive = await t.request('POST', '/api/v1/recurringpayments/resume', {
    body: { recurring_payment_id: id },
  });
  assert.equal(resumeActive.status, 409);
  for (const [action, status] of [
    ['suspend', 'suspended'],
    ['resume', 'active'],
    ['remove', 'removed'],
  ]) {
    const change = await t.request('POST', `/api/v1/recurringpayments/${action}`, {
      body: { recurring_payment_id: id },
    });
    assert.equal(change.status, 200, change.text);
    assert.equal(change.body.data.status, status);
  }
  const list = await t.request('GET', `/api/v1/recurringpayments/list?customer_id=${ids.customer}`);
  assert.ok(!list.text.includes(id), 'a removed schedule is no longer listed');
});

test('runner on a fake clock: charges what is due once, retries failures, suspends after the last retry', async () => {
  const { registerRecurring } = await import('../src/modules/payments/recurring.js');
  const { OPERATOR } = await import('../src/tenancy.js');
  clock = new Date('2030-01-31T08:00:00Z');
  const monthly = await registerRecurring(ctx, OPERATOR, {
    customer_id: ids.customer,
    profile_id: ids.profile,
    amount: '20',
    interval: 'monthly',
    start_date: '2030-01-31',
  });
  assert.equal(monthly.next_date, '2030-02-28');
  const failing = await registerRecurring(ctx, OPERATOR, {
    customer_id: ids.customer,
    profile_id: ids.declining,
    amount: '5',
    interval: 'daily',
    start_date: '2030-01-31',
  });
  assert.equal(failing.next_date, '2030-02-01');

  clock = new Date('2030-02-28T10:00:00Z');
  const run = await runDueRecurringPayments(ctx);
  assert.deepEqual(run, { charged: 1, failed: 1, suspended: 0 });
  assert.deepEqual(
    await runDueRecurringPayments(ctx),
    { charged: 0, failed: 0, suspended: 0 },
    'a second run charges nothing twice',
  );
  const after = await t.handle.db
    .selectFrom('recurring_payments')
    .selectAll()
    .where('id', 'in', [monthly.id, failing.id])
    .orderBy('id')
    .execute();
  assert.equal(
    after.find((r) => r.id === monthly.id)!.next_date,
    '2030-03-31',
    'monthly keeps its anchor day',
  );
  assert.equal(after.find((r) => r.id === failing.id)!.next_date, '2030-03-01', 'first retry one day later');

  for (const day of ['2030-03-01', '2030-03-04', '2030-03-11']) {
    clock = new Date(`${day}T10:00:00Z`);
    await runDueRecurringPayments(ctx);
  }
  const suspended = await t.handle.db
    .selectFrom('recurring_payments')
    .selectAll()
    .where('id', '=', failing.id)
    .executeTakeFirstOrThrow();
  assert.equal(suspended.status, 'suspended');
  assert.equal(suspended.failure_count, 4);
  const charges = await t.handle.db
    .selectFrom('payment_transactions')
    .select(['status'])
    .where('description', '=', `recurring payment ${monthly.id}`)
    .execute();
  assert.deepEqual(
    charges.map((c) => c.status),
    ['success'],
  );
});

test('runner: after a failed occurrence is retried successfully, the original calendar goes on', async () => {
  const { registerRecurring } = await import('../src/modules/payments/recurring.js');
  const { OPERATOR } = await import('../src/tenancy.js');
  // Earlier tests' schedules would be due too on this clock: only these two may run.
  await t.handle.db.updateTable('recurring_payments').set({ status: 'removed' }).execute();
  clock = new Date('2031-01-20T08:00:00Z');
  const schedule = (interval: string, start: string) =>
    registerRecurring(ctx, OPERATOR, {
      customer_id: ids.customer,
      profile_id: ids.declining,
      amount: '1',
      interval,
      start_date: start,
    });
  // 2031-01-27 is a Monday.
  const monthly = await schedule('monthly', '2031-01-31');
  const weekly = await schedule('weekly', '2031-01-27');
  const nextDates = async () => {
    const rows = await t.handle.db
      .selectFrom('recurring_payments')
      .select(['id', 'next_date'])
      .where('id', 'in', [monthly.id, weekly.id])
      .execute();
    return Object.fromEntries(rows.map((r) => [r.id === monthly.id ? 'monthly' : 'weekly', r.next_date]));
  };
  const runOn = async (day: string) => {
    clock = new Date(`${day}T10:00:00Z`);
    return runDueRecurringPayments(ctx);
  };
  const fixCard = (id: string) =>
    t.handle.db
      .updateTable('recurring_payments')
      .set({ profile_id: ids.profile })
      .where('id', '=', id)
      .execute();
  assert.deepEqual(await runOn('2031-01-27'), { charged: 0, failed: 1, suspended: 0 }, 'weekly fails');
  await fixCard(weekly.id);
  assert.deepEqual(await runOn('2031-01-28'), { charged: 1, failed: 0, suspended: 0 }, 'retried on Tuesday');
  assert.equal((await nextDates()).weekly, '2031-02-03', 'not Tuesday 4 Feb: still Mondays');
  assert.deepEqual(await runOn('2031-01-31'), { charged: 0, failed: 1, suspended: 0 }, 'monthly fails');
  await fixCard(monthly.id);
  assert.deepEqual(await runOn('2031-02-01'), { charged: 1, failed: 0, suspended: 0 }, 'retried on 1 Feb');
  assert.deepEqual(await nextDates(), { monthly: '2031-02-28', weekly: '2031-02-03' }, '28 Feb, not 1 Mar');
  assert.deepEqual(await runOn('2031-02-03'), { charged: 1, failed: 0, suspended: 0 });
  assert.deepEqual(await runOn('2031-02-10'), { charged: 1, failed: 0, suspended: 0 });
  assert.deepEqual(await nextDates(), { monthly: '2031-02-28', weekly: '2031-02-17' });
});

test('reconciliation settles pending and unanswered transactions and posts them once', async () => {
  clock = new Date();
  for (const number of ['4000000000003220', '4000000000000259']) {
    const res = await t.request('POST', '/api/v1/payments/creditcard/charge', {
      body: { customer_id: ids.customer, amount: '4', currency: 'USD', card_number: number, ...CARD },
    });
    assert.equal(res.status, 201, res.text);
  }
  assert.deepEqual(await reconcileTransactions(ctx), { checked: 0, settled: 0 }, 'too young to ask again');
  clock = new Date(Date.now() + 120_000);
  assert.deepEqual(await reconcileTransactions(ctx), { checked: 2, settled: 2 });
  assert.deepEqual(await reconcileTransactions(ctx), { checked: 0, settled: 0 });
  const rows = await t.handle.db
    .selectFrom('payment_transactions')
    .selectAll()
    .where('amount', '=', '4')
    .execute();
  assert.ok(rows.every((row) => row.status === 'success' && row.ledger_transaction_id));
});

test('gateway configurations: credentials sealed at rest and never shown; live mode needs a real key', async () => {
  const gateway = await created('/api/v1/gateways', {
    type: 'stripe',
    currency: 'EUR',
    credentials: { secret_key: 'sk_test_abcdef123456', webhook_secret: 'whsec_987' },
    settings: { base_url: 'http://127.0.0.1:12111' },
  });
  assert.equal(gateway.credentials, 'sealed');
  const listed = await t.request('GET', '/api/v1/gateways');
  assert.ok(!listed.text.includes('sk_test_abcdef123456'));
  const row = await t.handle.db
    .selectFrom('payment_gateways')
    .selectAll()
    .where('id', '=', gateway.id)
    .executeTakeFirstOrThrow();
  assert.ok(!row.credentials_sealed.includes('sk_test'));
  const missing = await t.request('POST', '/api/v1/gateways', {
    body: { type: 'stripe', currency: 'EUR', credentials: { secret_key: 'x' } },
  });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.param, 'credentials.webhook_secret');
  const live = await t.request('PATCH', `/api/v1/gateways/${gateway.id}`, { body: { mode: 'live' } });
  assert.equal(live.status, 409, 'the development secrets key cannot protect live credentials');
  const customerKey = (await created('/api/v1/api-keys', { role: 'customer', customer_id: ids.customer }))
    .key;
  const forbidden = await t.request('GET', '/api/v1/gateways', { key: customerKey });
  assert.equal(forbidden.status, 403);
});
