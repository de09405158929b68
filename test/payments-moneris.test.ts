import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { reconcileTransactions } from '../src/modules/payments/reconcile.js';
import { MonerisFake } from './fakes/moneris-fake.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { balanceOf, CARD, contextAhead, created, movedSince, transactionRow } from './payments-fixtures.js';

/**
 * The moneris adapter through the real app over HTTP against test/fakes/moneris-fake.ts (never
 * Moneris): vault, preauth → partial completion → partial refunds, void (completion 0.00),
 * approve/decline/not-processed receipts, a lost answer settled by status check.
 */
let t: TestApp;
const fake = new MonerisFake();
const ids = {} as Record<'gateway' | 'customer' | 'profile', string>;

before(async () => {
  await fake.start();
  t = await startTestApp();
  ids.gateway = (
    await created(t, '/api/v1/gateways', {
      type: 'moneris',
      currency: 'CAD',
      credentials: { store_id: fake.storeId, api_token: fake.apiToken },
      settings: { base_url: fake.url, timeout_seconds: '1' },
      is_default: true,
    })
  ).id;
  const registered = await created(t, '/api/v1/customer/register', {
    name: 'Jean',
    currency: 'CAD',
    card_number: '4242424242424242',
    ...CARD,
  });
  ids.customer = registered.customer_id;
  ids.profile = registered.profile.id;
});
after(async () => {
  const report = await verifyLedger(t.handle.db);
  assert.deepEqual(report.problems, [], 'ledger invariants hold after the suite');
  await t.close();
  await fake.stop();
});

const post = (path: string, body: Record<string, unknown>) => t.request('POST', path, { body });
const cardCharge = (number: string, amount: string, path = '/api/v1/payments/creditcard/charge') =>
  post(path, { customer_id: ids.customer, currency: 'CAD', amount, card_number: number, ...CARD });

test('moneris: the card is vaulted (res_add_cc) and the profile keeps only the DataKey', async () => {
  const profile = await t.handle.db
    .selectFrom('payment_profiles')
    .selectAll()
    .where('id', '=', ids.profile)
    .executeTakeFirstOrThrow();
  assert.match(profile.token, /^ot-\d+$/);
  assert.equal(
    fake.vault.get(profile.token),
    '4242424242424242',
    'the number lives in the (fake) Moneris vault',
  );
  const sent = fake.requests.find((r) => r.body.includes('<res_add_cc>'));
  assert.ok(sent && !sent.body.includes('<cvd_value>'), 'no CVV is sent to the vault');
});

test('moneris: preauth, partial completion, refunds on the completion; approvals move the balance', async () => {
  const start = await balanceOf(t, ids.customer);
  const auth = await created(t, '/api/v1/profiles/authorize', {
    customer_id: ids.customer,
    profile_id: ids.profile,
    amount: '80',
    currency: 'CAD',
  });
  assert.equal(auth.status, 'success');
  assert.match(auth.gateway_reference, /;\d+-0_11$/, 'order id and txn_number');
  assert.match(
    fake.requests.at(-1)!.body,
    /<res_preauth_cc><order_id>[^<]+<\/order_id><amount>80\.00<\/amount><data_key>ot-/,
  );
  const completion = await created(t, '/api/v1/profiles/settle', {
    transaction_id: auth.transaction_id,
    amount: '50.25',
  });
  assert.equal(completion.status, 'success');
  assert.equal(await movedSince(t, ids.customer, start), '50.25');
  const refund = await created(t, '/api/v1/profiles/refund', {
    transaction_id: auth.transaction_id,
    amount: '10.25',
  });
  assert.equal(refund.status, 'success');
  assert.match(
    fake.requests.at(-1)!.body,
    /<refund><order_id>[^<]+<\/order_id><amount>10\.25<\/amount><txn_number>/,
  );
  assert.equal(await movedSince(t, ids.customer, start), '40');
});

test('moneris: void releases a preauth with a 0.00 completion; nothing moves', async () => {
  const start = await balanceOf(t, ids.customer);
  const auth = await cardCharge('4242424242424242', '30', '/api/v1/payments/creditcard/authorize');
  assert.equal(auth.status, 201, auth.text);
  const voided = await created(t, '/api/v1/payments/creditcard/transaction/void', {
    transaction_id: auth.body.data.transaction_id,
  });
  assert.equal(voided.status, 'success');
  assert.match(
    fake.requests.at(-1)!.body,
    /<completion><order_id>[^<]+<\/order_id><comp_amount>0\.00<\/comp_amount>/,
  );
  assert.equal(await movedSince(t, ids.customer, start), '0');
});

test('moneris: ResponseCode ≥ 50 is failed, null is error; neither moves money', async () => {
  const start = await balanceOf(t, ids.customer);
  const declined = await cardCharge('4000000000000002', '10');
  assert.equal(declined.status, 402, declined.text);
  assert.equal(declined.body.data.status, 'failed');
  assert.equal(declined.body.data.error_code, 'moneris_481');
  assert.equal(declined.body.data.message, 'DECLINED');
  const broken = await cardCharge('4000000000000119', '10');
  assert.equal(broken.status, 402, broken.text);
  assert.equal(broken.body.data.status, 'error');
  assert.equal(broken.body.data.error_code, 'moneris_not_processed');
  const approved = await cardCharge('4242424242424242', '10');
  assert.equal(approved.body.data.status, 'success', approved.text);
  assert.match(fake.requests.at(-1)!.body, /<expdate>3512<\/expdate>/, 'expiry as YYMM');
  assert.equal(await movedSince(t, ids.customer, start), '10');
});

test('moneris: a lost answer is `unknown`; reconciliation’s status check settles it once', async () => {
  const start = await balanceOf(t, ids.customer);
  fake.dropAnswers = 1;
  const lost = await post('/api/v1/profiles/charge', {
    customer_id: ids.customer,
    profile_id: ids.profile,
    amount: '12',
    currency: 'CAD',
  });
  assert.equal(lost.status, 201, lost.text);
  assert.equal(lost.body.data.status, 'unknown');
  assert.equal(await movedSince(t, ids.customer, start), '0');
  await reconcileTransactions(contextAhead(t, 120));
  const row = await transactionRow(t, lost.body.data.transaction_id);
  assert.equal(row.status, 'success');
  assert.match(fake.requests.at(-1)!.body, /<status_check>true<\/status_check>/);
  assert.equal(await movedSince(t, ids.customer, start), '12');
  await reconcileTransactions(contextAhead(t, 120));
  assert.equal(await movedSince(t, ids.customer, start), '12');
});

test('moneris: wrong credentials are `error`, never 500', async () => {
  const patched = await t.request('PATCH', `/api/v1/gateways/${ids.gateway}`, {
    body: { credentials: { store_id: 'store5', api_token: 'wrong' } },
  });
  assert.equal(patched.status, 200, patched.text);
  const res = await cardCharge('4242424242424242', '10');
  assert.equal(res.status, 402, res.text);
  assert.equal(res.body.data.status, 'error');
  await t.request('PATCH', `/api/v1/gateways/${ids.gateway}`, {
    body: { credentials: { store_id: fake.storeId, api_token: fake.apiToken } },
  });
});
