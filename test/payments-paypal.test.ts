import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { migrate } from '../src/db/migrate.js';
import { newId } from '../src/ids.js';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { processIpnInbox } from '../src/modules/payments/ipn-inbox.js';
import { Decimal } from '../src/money/index.js';
import { PaypalFake } from './fakes/paypal-fake.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { balanceOf, contextAhead, created, movedSince } from './payments-fixtures.js';

/**
 * PayPal through the real app over HTTP against test/fakes/paypal-fake.ts (never PayPal): IPN
 * verified by post-back (VERIFIED tops up; INVALID, another receiver or currency, a repeat
 * change nothing; Refunded/Reversed reverse), and Instant Checkout order capture.
 */
let t: TestApp;
const fake = new PaypalFake();
const RECEIVER = 'billing@operator.example';
const ids = {} as Record<'gateway' | 'customer' | 'account' | 'other', string>;

before(async () => {
  await fake.start();
  t = await startTestApp();
  ids.gateway = (
    await created(t, '/api/v1/gateways', {
      type: 'paypal',
      currency: 'USD',
      credentials: { client_id: fake.clientId, client_secret: fake.clientSecret },
      settings: {
        base_url: fake.url,
        ipn_verify_url: fake.ipnVerifyUrl,
        receiver_email: RECEIVER,
        timeout_seconds: '1',
      },
    })
  ).id;
  const customer = await created(t, '/api/v1/customers', { name: 'Grace', currency: 'USD' });
  ids.customer = customer.id;
  ids.account = customer.account_number;
  ids.other = (await created(t, '/api/v1/customers', { name: 'Other', currency: 'USD' })).id;
});
after(async () => {
  const report = await verifyLedger(t.handle.db);
  assert.deepEqual(report.problems, [], 'ledger invariants hold after the suite');
  await t.close();
  await fake.stop();
});

const completed = (fields: Record<string, string> = {}) => ({
  payment_status: 'Completed',
  receiver_email: RECEIVER,
  mc_currency: 'USD',
  mc_gross: '25.00',
  custom: ids.account,
  txn_id: `TXN${Math.random().toString(36).slice(2, 12).toUpperCase()}`,
  ...fields,
});

/** Waits for the background verification of an IPN PayPal got its 200 for; its outcome category. */
async function ipnOutcome(id: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const row = await t.handle.db
      .selectFrom('paypal_ipn_inbox')
      .select(['status', 'outcome', 'attempts'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    if (row.status !== 'pending' || row.attempts > 0) return row.outcome!.split(/[: ]/)[0]!;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`IPN ${id} was never processed`);
}

/**
 * Posts an IPN (`gatewayId` null: the URL without an id, for the one active paypal
 * gateway). PayPal gets 200 at once; `result` is what the background verification then did.
 */
async function postIpn(body: string, gatewayId: string | null = ids.gateway) {
  const res = await t.request(
    'POST',
    gatewayId ? `/api/v1/webhooks/paypal/ipn/${gatewayId}` : '/api/v1/webhooks/paypal/ipn',
    { key: null, body, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  );
  if (res.status !== 200) return res;
  return {
    ...res,
    body: { ...res.body, data: { ...res.body.data, result: await ipnOutcome(res.body.data.ipn_id) } },
  };
}

/** A new USD customer topped up by a verified Completed IPN, and that payment's transaction. */
async function paidByIpn(name: string, txnId: string, gross: string) {
  const customer = await created(t, '/api/v1/customers', { name, currency: 'USD' });
  const paid = completed({ txn_id: txnId, mc_gross: gross, custom: customer.account_number });
  assert.equal((await postIpn(fake.ipn(paid))).body.data.result, 'topped');
  const payment = await t.handle.db
    .selectFrom('payment_transactions')
    .select(['id', 'payment_id', 'gateway_key'])
    .where('gateway_reference', '=', txnId)
    .executeTakeFirstOrThrow();
  return { customer, payment };
}

test('paypal ipn at /api/v1/webhooks/paypal/ipn (no gateway id) goes to the one active paypal gateway', async () => {
  const start = await balanceOf(t, ids.customer);
  const res = await postIpn(fake.ipn(completed({ txn_id: 'IPN-NO-ID', mc_gross: '3.00' })), null);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.data.result, 'topped');
  assert.equal(new Decimal(await balanceOf(t, ids.customer)).minus(start).toFixed(), '3');
});

test('paypal ipn: VERIFIED Completed tops up the customer in custom, once however often it comes', async () => {
  const start = await balanceOf(t, ids.customer);
  const body = fake.ipn(completed({ txn_id: 'IPN-ONE' }));
  const res = await postIpn(body);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.data.result, 'topped');
  const postBack = fake.requests.filter((r) => r.path === '/cgi-bin/webscr').at(-1)!;
  assert.equal(postBack.body, `cmd=_notify-validate&${body}`, 'posted back unchanged');
  assert.equal(await movedSince(t, ids.customer, start), '25');
  const again = await postIpn(body);
  assert.equal(again.status, 200);
  assert.equal(again.body.data.result, 'duplicate');
  assert.equal(await movedSince(t, ids.customer, start), '25', 'a repeated IPN never posts twice');
  const byId = await postIpn(fake.ipn(completed({ custom: ids.customer, mc_gross: '5.50' })));
  assert.equal(byId.body.data.result, 'topped', 'custom may be the customer id too');
  assert.equal(await movedSince(t, ids.customer, start), '30.5');
});

test('paypal ipn: INVALID, another receiver, another currency, an unknown customer, a negative or sub-cent amount change nothing', async () => {
  const start = await balanceOf(t, ids.customer);
  const forged = new URLSearchParams(completed()).toString(); // never sent by PayPal: INVALID
  const cases: [string, string][] = [
    [forged, 'invalid'],
    [fake.ipn(completed({ receiver_email: 'someone@else.example' })), 'ignored'],
    [fake.ipn(completed({ mc_currency: 'EUR' })), 'ignored'],
    [fake.ipn(completed({ custom: 'no-such-account' })), 'ignored'],
    [fake.ipn(completed({ payment_status: 'Pending' })), 'ignored'],
    [fake.ipn(completed({ mc_gross: 'abc' })), 'ignored'],
    [fake.ipn(completed({ mc_gross: '-7.00' })), 'ignored'],
    [fake.ipn(completed({ mc_gross: '1.005' })), 'ignored'],
    [fake.ipn(completed({ mc_gross: '0.00' })), 'ignored'],
  ];
  for (const [body, result] of cases) {
    const res = await postIpn(body);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.result, result, body);
  }
  assert.equal(await movedSince(t, ids.customer, start), '0');
  const journaled = await t.handle.db.selectFrom('payment_notifications').select('payload').execute();
  assert.ok(!journaled.some((row) => row.payload === forged), 'a forged message is never journaled');
  const missing = await postIpn(fake.ipn(completed()), 'gw_01unknown0000000000000000');
  assert.equal(missing.status, 404);
});

test('paypal ipn: Refunded with parent_txn_id reverses the payment, once; a refund of nothing known changes nothing', async () => {
  const start = await balanceOf(t, ids.customer);
  await postIpn(fake.ipn(completed({ txn_id: 'IPN-PARENT', mc_gross: '40.00' })));
  const refund = fake.ipn(
    completed({
      payment_status: 'Refunded',
      txn_id: 'IPN-REFUND',
      parent_txn_id: 'IPN-PARENT',
      mc_gross: '-15.00',
    }),
  );
  assert.equal((await postIpn(refund)).body.data.result, 'reversed');
  assert.equal(await movedSince(t, ids.customer, start), '25');
  assert.equal((await postIpn(refund)).body.data.result, 'duplicate');
  const reversal = fake.ipn(
    completed({
      payment_status: 'Reversed',
      txn_id: 'IPN-REVERSAL',
      parent_txn_id: 'IPN-PARENT',
      mc_gross: '-25.00',
    }),
  );
  assert.equal((await postIpn(reversal)).body.data.result, 'reversed');
  assert.equal(await movedSince(t, ids.customer, start), '0');
  const tooMuch = fake.ipn(
    completed({
      payment_status: 'Refunded',
      txn_id: 'IPN-OVER',
      parent_txn_id: 'IPN-PARENT',
      mc_gross: '-1.00',
    }),
  );
  assert.equal((await postIpn(tooMuch)).body.data.result, 'ignored', 'never more than was paid');
  const orphan = fake.ipn(
    completed({ payment_status: 'Refunded', txn_id: 'IPN-ORPHAN', parent_txn_id: 'NOPE', mc_gross: '-1.00' }),
  );
  assert.equal((await postIpn(orphan)).body.data.result, 'ignored');
  assert.equal(await movedSince(t, ids.customer, start), '0');
});

test('paypal ipn: a card refund asked for a PayPal payment is refused with nothing written; its Reversed IPN still reverses it', async () => {
  const { customer, payment } = await paidByIpn('Refunder', 'IPN-CARD-REFUND', '100.00');
  const key = (await created(t, '/api/v1/api-keys', { role: 'customer', customer_id: customer.id })).key;
  const refused = await t.request('POST', '/api/v1/payments/creditcard/refund', {
    key,
    body: { transaction_id: payment.id },
  });
  assert.equal(refused.status, 409, refused.text);
  const rows = await t.handle.db
    .selectFrom('payment_transactions')
    .select('kind')
    .where('payment_id', '=', payment.payment_id)
    .execute();
  assert.deepEqual(rows, [{ kind: 'purchase' }], 'no in-flight refund left behind');
  const reversal = completed({
    payment_status: 'Reversed',
    txn_id: 'IPN-CARD-REFUND-REV',
    parent_txn_id: 'IPN-CARD-REFUND',
    mc_gross: '-100.00',
    custom: customer.account_number,
  });
  assert.equal((await postIpn(fake.ipn(reversal))).body.data.result, 'reversed');
  assert.equal(await balanceOf(t, customer.id), '0');
});

test('paypal ipn: an unsent follow-up left by the old refusal is marked failed by migration 0033, and the reversal applies', async () => {
  const { customer, payment } = await paidByIpn('Orphaned', 'IPN-ORPHAN', '40.00');
  // What the refused card refund wrote before the fix: an in-flight row no gateway ever saw.
  await t.handle.db
    .insertInto('payment_transactions')
    .values({
      id: newId('paymentTransaction'),
      payment_id: payment.payment_id,
      customer_id: customer.id,
      kind: 'refund',
      amount: '40',
      currency: 'USD',
      status: 'unknown',
      gateway_key: payment.gateway_key,
    })
    .execute();
  const reversal = completed({
    payment_status: 'Reversed',
    txn_id: 'IPN-ORPHAN-REV',
    parent_txn_id: 'IPN-ORPHAN',
    mc_gross: '-40.00',
    custom: customer.account_number,
  });
  assert.notEqual(
    (await postIpn(fake.ipn(reversal))).body.data.result,
    'reversed',
    'the orphan held it back',
  );
  await sql`delete from schema_migrations where version = '0033_payments_unsent_follow_ups'`.execute(
    t.handle.db,
  );
  assert.deepEqual(await migrate(t.handle), ['0033_payments_unsent_follow_ups']);
  const statuses = await t.handle.db
    .selectFrom('payment_transactions')
    .select(['kind', 'status'])
    .where('payment_id', '=', payment.payment_id)
    .orderBy('kind')
    .execute();
  assert.deepEqual(statuses, [
    { kind: 'purchase', status: 'success' },
    { kind: 'refund', status: 'failed' },
  ]);
  const again = completed({ ...reversal, txn_id: 'IPN-ORPHAN-REV2' });
  assert.equal((await postIpn(fake.ipn(again))).body.data.result, 'reversed');
  assert.equal(await balanceOf(t, customer.id), '0');
});

test('paypal ipn: PayPal answered 200 first; when its verification does not answer, the inbox retries it', async () => {
  const start = await balanceOf(t, ids.customer);
  const body = fake.ipn(completed({ mc_gross: '7.00' }));
  fake.dropAnswers = 1;
  const res = await postIpn(body);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.data.result, 'unverified');
  assert.equal(await movedSince(t, ids.customer, start), '0');
  // Not due yet: nothing happens. After the first retry delay (1 min) the jobs apply it, once.
  assert.equal((await processIpnInbox(contextAhead(t, 10))).size, 0);
  const retried = await processIpnInbox(contextAhead(t, 90));
  assert.match(retried.get(res.body.data.ipn_id) ?? '', /^topped/);
  assert.equal(await movedSince(t, ids.customer, start), '7');
  assert.equal((await processIpnInbox(contextAhead(t, 4000))).size, 0, 'done: never applied twice');
});

const capture = (body: Record<string, unknown>) =>
  t.request('POST', '/api/v1/payments/paypal/capture', { body: { gateway_id: ids.gateway, ...body } });

test('paypal checkout: capturing an approved order tops up; its IPN and a repeated capture do not', async () => {
  const start = await balanceOf(t, ids.customer);
  const orderId = fake.approvedOrder('19.99', 'USD', ids.customer);
  const res = await capture({ customer_id: ids.customer, order_id: orderId });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.data.status, 'success');
  assert.equal(res.body.data.reference, orderId);
  assert.equal(await movedSince(t, ids.customer, start), '19.99');
  const captureId = res.body.data.gateway_reference;
  const ipn = await postIpn(fake.ipn(completed({ txn_id: captureId, mc_gross: '19.99', custom: '' })));
  assert.equal(ipn.body.data.result, 'topped');
  assert.equal(await movedSince(t, ids.customer, start), '19.99', 'the capture and its IPN top up once');
  // PayPal-Request-Id makes a repeated capture PayPal's first answer: the same transaction back.
  const again = await capture({ customer_id: ids.customer, order_id: orderId });
  assert.equal(again.status, 201, again.text);
  assert.equal(again.body.data.transaction_id, res.body.data.transaction_id);
  assert.equal(await movedSince(t, ids.customer, start), '19.99');
});

test('paypal checkout: another customer’s order, a declined or unknown order, a bad gateway are refused', async () => {
  const start = await balanceOf(t, ids.other);
  const cases: [Record<string, unknown>, number][] = [
    [{ customer_id: ids.other, order_id: fake.approvedOrder('5.00', 'USD', ids.customer) }, 400],
    [{ customer_id: ids.other, order_id: fake.approvedOrder('5.00', 'EUR') }, 400],
    [
      { customer_id: ids.other, order_id: fake.approvedOrder('5.00', 'USD', ids.other, { decline: true }) },
      402,
    ],
    [{ customer_id: ids.other, order_id: 'NOSUCHORDER' }, 404],
    [{ customer_id: ids.other, order_id: 'X', gateway_id: 'gw_01unknown0000000000000000' }, 400],
    [{ customer_id: ids.other, order_id: '../../v1/oauth2/token' }, 400],
  ];
  for (const [body, status] of cases) {
    const res = await capture(body);
    assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
  }
  assert.equal(await movedSince(t, ids.other, start), '0');
});

test('paypal checkout: a PENDING capture is recorded pending; its Completed IPN tops up', async () => {
  const start = await balanceOf(t, ids.other);
  const orderId = fake.approvedOrder('12.00', 'USD', undefined, { pending: true });
  const res = await capture({ customer_id: ids.other, order_id: orderId });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.data.status, 'pending');
  assert.equal(await movedSince(t, ids.other, start), '0');
  const ipn = await postIpn(
    fake.ipn(completed({ txn_id: res.body.data.gateway_reference, mc_gross: '12.00', custom: '' })),
  );
  assert.equal(ipn.body.data.result, 'topped');
  assert.equal(await movedSince(t, ids.other, start), '12');
});

test('paypal checkout: a capture whose answer is lost is 503; the retry gets PayPal’s first capture back, once', async () => {
  const start = await balanceOf(t, ids.other);
  const orderId = fake.approvedOrder('7.00', 'USD', ids.other);
  fake.dropAnswerTo = (request) => request.path.endsWith('/capture');
  const lost = await capture({ customer_id: ids.other, order_id: orderId });
  assert.equal(lost.status, 503, lost.text);
  assert.equal(lost.body.error.type, 'gateway_unavailable');
  assert.equal(await movedSince(t, ids.other, start), '0');
  const retry = await capture({ customer_id: ids.other, order_id: orderId });
  assert.equal(retry.status, 201, retry.text);
  assert.equal(await movedSince(t, ids.other, start), '7');
});
