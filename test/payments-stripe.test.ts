import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Stripe from 'stripe';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { reconcileTransactions } from '../src/modules/payments/reconcile.js';
import { Decimal } from '../src/money/index.js';
import { StripeFake } from './fakes/stripe-fake.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { balanceOf, CARD, contextAhead, created, movedSince, transactionRow } from './payments-fixtures.js';

/**
 * The stripe adapter through the real app over HTTP against test/fakes/stripe-fake.ts (never
 * Stripe itself): stored cards by SetupIntent, authorize → partial capture → partial refunds,
 * void, declines, a lost answer left `unknown` and settled by reconciliation, and Stripe webhooks.
 */
let t: TestApp;
const fake = new StripeFake();
const WEBHOOK_SECRET = 'whsec_fake_secret';
const ids = {} as Record<'gateway' | 'customer' | 'profile', string>;

before(async () => {
  await fake.start();
  t = await startTestApp();
  ids.gateway = (
    await created(t, '/api/v1/gateways', {
      type: 'stripe',
      currency: 'USD',
      credentials: { secret_key: fake.secretKey, webhook_secret: WEBHOOK_SECRET },
      settings: { base_url: fake.url, timeout_seconds: '1' },
      is_default: true,
    })
  ).id;
  const registered = await created(t, '/api/v1/customer/register', {
    name: 'Ada',
    currency: 'USD',
    card_number: '4242424242424242',
    ...CARD,
    gateway_id: ids.gateway,
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

const charge = (body: Record<string, unknown>, path = '/api/v1/profiles/charge') =>
  t.request('POST', path, { body: { customer_id: ids.customer, currency: 'USD', ...body } });

test('stripe: a stored card is a Stripe customer and PaymentMethod, never the number', async () => {
  const profile = await t.handle.db
    .selectFrom('payment_profiles')
    .selectAll()
    .where('id', '=', ids.profile)
    .executeTakeFirstOrThrow();
  assert.match(profile.token, /^cus_[0-9a-f]+\/pm_[0-9a-f]+$/);
  assert.equal(profile.last4, '4242');
  assert.equal(profile.brand, 'visa');
  const setup = fake.requests.find((r) => r.path === '/v1/setup_intents');
  assert.ok(setup, 'a SetupIntent stored the card');
  assert.match(
    setup.body,
    /payment_method=pm_card_visa/,
    'test mode sends the test PaymentMethod, not the number',
  );
  assert.ok(!fake.requests.some((r) => r.body.includes('4242424242424242')));
  const refused = await t.request('POST', '/api/v1/customer/payments/register', {
    body: { customer_id: ids.customer, card_number: '4000000000000002', ...CARD, gateway_id: ids.gateway },
  });
  assert.equal(refused.status, 402, refused.text);
});

test('stripe: amounts go in Stripe’s own smallest unit: ISK and HUF are two-decimal there, JPY is not', async () => {
  const cases = [
    ['ISK', '5000', 500_000, '1000', 100_000],
    ['HUF', '1000', 100_000, '250', 25_000],
    ['JPY', '500', 500, '120', 120],
    ['KWD', '1.25', 1250, '0.5', 500],
  ] as const;
  for (const [currency, amount, minor, refund, refundMinor] of cases) {
    const gateway = await created(t, '/api/v1/gateways', {
      type: 'stripe',
      currency,
      credentials: { secret_key: fake.secretKey, webhook_secret: WEBHOOK_SECRET },
      settings: { base_url: fake.url, timeout_seconds: '1' },
      is_default: true,
    });
    const customer = (await created(t, '/api/v1/customers', { name: `Payer ${currency}`, currency })).id;
    const paid = await created(t, '/api/v1/payments/creditcard/charge', {
      customer_id: customer,
      currency,
      amount,
      card_number: '4242424242424242',
      ...CARD,
    });
    const intent = fake.intents.get(paid.gateway_reference)!;
    assert.equal(intent.amount, minor, `${amount} ${currency}`);
    assert.equal(intent.currency, currency.toLowerCase());
    await created(t, '/api/v1/payments/creditcard/refund', {
      transaction_id: paid.transaction_id,
      amount: refund,
    });
    const sent = fake.requests.filter((r) => r.path === '/v1/refunds').at(-1)!;
    assert.match(sent.body, new RegExp(`(^|&)amount=${refundMinor}(&|$)`), `refund of ${refund} ${currency}`);
    assert.equal(await balanceOf(t, customer), new Decimal(amount).minus(refund).toFixed());
    // Webhooks sent without a gateway id go to the one active stripe gateway: keep it one.
    const disabled = await t.request('PATCH', `/api/v1/gateways/${gateway.id}`, {
      body: { status: 'disabled' },
    });
    assert.equal(disabled.status, 200, disabled.text);
  }
});

test('stripe: authorize, capture part, refund in two parts; Stripe holds one capture per intent', async () => {
  const start = await balanceOf(t, ids.customer);
  const auth = await charge({ profile_id: ids.profile, amount: '50.00' }, '/api/v1/profiles/authorize');
  assert.equal(auth.status, 201, auth.text);
  assert.equal(auth.body.data.status, 'success');
  const intentId = auth.body.data.gateway_reference;
  assert.equal(fake.intents.get(intentId)?.status, 'requires_capture');
  assert.equal(fake.intents.get(intentId)?.capture_method, 'manual');
  assert.equal(await movedSince(t, ids.customer, start), '0', 'an authorization moves nothing');

  const capture = await created(t, '/api/v1/profiles/settle', {
    transaction_id: auth.body.data.transaction_id,
    amount: '30',
  });
  assert.equal(capture.status, 'success');
  assert.equal(fake.intents.get(intentId)?.amount_received, 3000);
  assert.equal(await movedSince(t, ids.customer, start), '30');

  // Our state machine allows another capture up to 50; Stripe released the rest: `error`, nothing moves.
  const second = await t.request('POST', '/api/v1/profiles/settle', {
    body: { transaction_id: auth.body.data.transaction_id, amount: '10' },
  });
  assert.equal(second.status, 402, second.text);
  assert.equal(second.body.data.status, 'error');
  assert.equal(second.body.data.error_code, 'payment_intent_unexpected_state');

  const refund = await created(t, '/api/v1/profiles/refund', {
    transaction_id: auth.body.data.transaction_id,
    amount: '12.5',
  });
  assert.equal(refund.status, 'success');
  assert.match(refund.gateway_reference, /^re_/);
  await created(t, '/api/v1/profiles/refund', {
    transaction_id: auth.body.data.transaction_id,
    amount: '17.5',
  });
  assert.equal(await movedSince(t, ids.customer, start), '0');
  const over = await t.request('POST', '/api/v1/profiles/refund', {
    body: { transaction_id: auth.body.data.transaction_id, amount: '0.01' },
  });
  assert.equal(over.status, 400, 'nothing left to refund: refused before Stripe is asked');
});

test('stripe: void cancels the intent; a card number in test mode becomes a test PaymentMethod', async () => {
  const auth = await charge(
    { amount: '20', card_number: '4242424242424242', ...CARD },
    '/api/v1/payments/creditcard/authorize',
  );
  assert.equal(auth.status, 201, auth.text);
  const voided = await created(t, '/api/v1/payments/creditcard/transaction/void', {
    transaction_id: auth.body.data.transaction_id,
  });
  assert.equal(voided.status, 'success');
  assert.equal(fake.intents.get(auth.body.data.gateway_reference)?.status, 'canceled');
});

test('stripe: declines are `failed` with Stripe’s decline code, and move nothing', async () => {
  const start = await balanceOf(t, ids.customer);
  const cases: [string, string][] = [
    ['4000000000000002', 'generic_decline'],
    ['4000000000009995', 'insufficient_funds'],
    ['4000000000000127', 'incorrect_cvc'],
  ];
  for (const [number, code] of cases) {
    const res = await charge(
      { amount: '10', card_number: number, ...CARD },
      '/api/v1/payments/creditcard/charge',
    );
    assert.equal(res.status, 402, res.text);
    assert.equal(res.body.data.status, 'failed');
    assert.equal(res.body.data.error_code, code);
    assert.match(res.body.data.gateway_reference, /^pi_/, 'the declined PaymentIntent is named');
  }
  const bank = await t.request('POST', '/api/v1/payments/b2b/transaction/debit', {
    body: {
      customer_id: ids.customer,
      amount: '5',
      currency: 'USD',
      bank_account_number: '000123456789',
      routing_number: '110000000',
      account_holder: 'Ada',
    },
  });
  assert.equal(bank.status, 402, bank.text);
  assert.equal(bank.body.data.error_code, 'not_supported');
  assert.equal(await movedSince(t, ids.customer, start), '0');
});

test('stripe: a lost answer is `unknown`; reconciliation finds the intent by its key and posts it once', async () => {
  const start = await balanceOf(t, ids.customer);
  fake.dropAnswers = 1;
  const res = await charge({ profile_id: ids.profile, amount: '15' }, '/api/v1/profiles/charge');
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.data.status, 'unknown');
  assert.equal(res.body.data.gateway_reference, null);
  assert.equal(await movedSince(t, ids.customer, start), '0', 'nothing posted while unknown');
  const summary = await reconcileTransactions(contextAhead(t, 120));
  assert.ok(summary.settled >= 1, JSON.stringify(summary));
  const row = await transactionRow(t, res.body.data.transaction_id);
  assert.equal(row.status, 'success');
  assert.match(row.gateway_reference ?? '', /^pi_/);
  assert.equal(await movedSince(t, ids.customer, start), '15');
  await reconcileTransactions(contextAhead(t, 120));
  assert.equal(await movedSince(t, ids.customer, start), '15', 'a second run posts nothing more');
});

/** `gatewayId` null: the URL without an id, which serves the one active stripe gateway. */
async function deliver(payload: string, header: string | null, gatewayId: string | null = ids.gateway) {
  return t.request('POST', gatewayId ? `/api/v1/webhooks/stripe/${gatewayId}` : '/api/v1/webhooks/stripe', {
    key: null,
    body: payload,
    headers: { 'content-type': 'application/json', ...(header ? { 'stripe-signature': header } : {}) },
  });
}

/** A charge whose answer gets lost: `unknown`, with the intent Stripe did create. */
async function unansweredCharge(amount: string) {
  fake.dropAnswers = 1;
  const res = await charge({ profile_id: ids.profile, amount });
  assert.equal(res.body.data.status, 'unknown', res.text);
  const intent = [...fake.intents.values()].at(-1)!;
  return { transactionId: res.body.data.transaction_id as string, intent };
}

test('stripe webhook: a signed payment_intent.succeeded settles the unknown charge once; a replay changes nothing', async () => {
  const start = await balanceOf(t, ids.customer);
  const { transactionId, intent } = await unansweredCharge('8');
  const event = fake.signedEvent('payment_intent.succeeded', intent, WEBHOOK_SECRET);
  const res = await deliver(event.payload, event.header);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(
    { duplicate: res.body.data.duplicate, settled: res.body.data.settled },
    { duplicate: false, settled: 1 },
  );
  assert.equal((await transactionRow(t, transactionId)).status, 'success');
  assert.equal(await movedSince(t, ids.customer, start), '8');
  const replay = await deliver(event.payload, event.header);
  assert.equal(replay.status, 200, replay.text);
  assert.equal(replay.body.data.duplicate, true);
  assert.equal(await movedSince(t, ids.customer, start), '8', 'a replayed event posts nothing');
});

test('stripe webhook at /api/v1/webhooks/stripe (no gateway id) goes to the one active stripe gateway', async () => {
  const start = await balanceOf(t, ids.customer);
  const { transactionId, intent } = await unansweredCharge('4');
  const forged = fake.signedEvent('payment_intent.succeeded', intent, 'whsec_not_the_secret');
  assert.equal((await deliver(forged.payload, forged.header, null)).status, 400);
  const event = fake.signedEvent('payment_intent.succeeded', intent, WEBHOOK_SECRET);
  const res = await deliver(event.payload, event.header, null);
  assert.equal(res.status, 200, res.text);
  assert.equal((await transactionRow(t, transactionId)).status, 'success');
  assert.equal(await movedSince(t, ids.customer, start), '4');
});

test('stripe webhook: forged, altered or unsigned payloads are 400 and change nothing', async () => {
  const start = await balanceOf(t, ids.customer);
  const { transactionId, intent } = await unansweredCharge('9');
  const forged = fake.signedEvent('payment_intent.succeeded', intent, 'whsec_not_the_secret');
  const altered = fake.signedEvent('payment_intent.succeeded', { ...intent, amount: 1 }, WEBHOOK_SECRET);
  const cases: [string, string | null][] = [
    [forged.payload, forged.header],
    [altered.payload.replace('"amount":1', '"amount":100000'), altered.header],
    [altered.payload, null],
    ['not json', 't=1,v1=abc'],
  ];
  for (const [payload, header] of cases) {
    const res = await deliver(payload, header);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error.param, 'Stripe-Signature');
  }
  const stale = Stripe.webhooks.generateTestHeaderString({
    payload: altered.payload,
    secret: WEBHOOK_SECRET,
    timestamp: Math.floor(Date.now() / 1000) - 301,
  });
  assert.equal((await deliver(altered.payload, stale)).status, 400, 'older than the 300 s tolerance');
  assert.equal((await deliver(forged.payload, forged.header, 'gw_01unknown0000000000000000')).status, 404);
  assert.equal((await transactionRow(t, transactionId)).status, 'unknown');
  assert.equal(await movedSince(t, ids.customer, start), '0');
  await reconcileTransactions(contextAhead(t, 120)); // leave nothing in flight for later suites
});

test('stripe webhook: a signed body that is no event is a 400, not a 500, and is not journaled', async () => {
  const sign = (payload: string) =>
    Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
  const { payload: noRefunds } = fake.signedEvent(
    'charge.refunded',
    { id: 'ch_x', refunds: { data: 5 } },
    WEBHOOK_SECRET,
  );
  for (const payload of [
    '{}',
    '[]',
    'null',
    JSON.stringify({ id: 'evt_null_data', type: 'payment_intent.succeeded', data: null }),
    JSON.stringify({ id: 'evt_no_object', type: 'refund.updated', data: {} }),
    JSON.stringify({ id: 7, type: 'payment_intent.succeeded', data: { object: {} } }),
  ]) {
    const res = await deliver(payload, sign(payload));
    assert.equal(res.status, 400, `${payload}: ${res.text}`);
    assert.equal(res.body.error.param, 'body');
  }
  const odd = await deliver(noRefunds, sign(noRefunds));
  assert.equal(odd.status, 200, odd.text);
  assert.equal(odd.body.data.settled, 0);
  const journaled = await t.handle.db
    .selectFrom('payment_notifications')
    .select('external_id')
    .where('external_id', 'in', ['evt_null_data', 'evt_no_object'])
    .execute();
  assert.deepEqual(journaled, []);
});

test('stripe webhook: refund.updated settles a refund whose answer was lost', async () => {
  const paid = await created(t, '/api/v1/profiles/charge', {
    customer_id: ids.customer,
    profile_id: ids.profile,
    amount: '40',
    currency: 'USD',
  });
  const start = await balanceOf(t, ids.customer);
  fake.dropAnswers = 1;
  const res = await t.request('POST', '/api/v1/profiles/refund', {
    body: { transaction_id: paid.transaction_id, amount: '4' },
  });
  assert.equal(res.body.data.status, 'unknown', res.text);
  const refund = [...fake.refunds.values()].at(-1)!;
  const event = fake.signedEvent('refund.updated', refund, WEBHOOK_SECRET);
  const delivered = await deliver(event.payload, event.header);
  assert.equal(delivered.body.data.settled, 1, delivered.text);
  assert.equal((await transactionRow(t, res.body.data.transaction_id)).status, 'success');
  assert.equal(await movedSince(t, ids.customer, start), '-4');
});

test('stripe webhook: payment_intent.payment_failed fails an unknown charge; events with nothing to settle are journaled', async () => {
  const start = await balanceOf(t, ids.customer);
  const { transactionId, intent } = await unansweredCharge('6');
  const failedIntent = {
    ...intent,
    status: 'requires_payment_method',
    last_payment_error: {
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'do_not_honor',
      message: 'Declined',
    },
  };
  const event = fake.signedEvent('payment_intent.payment_failed', failedIntent, WEBHOOK_SECRET);
  assert.equal((await deliver(event.payload, event.header)).body.data.settled, 1);
  const row = await transactionRow(t, transactionId);
  assert.deepEqual([row.status, row.error_code], ['failed', 'do_not_honor']);
  const odd = fake.signedEvent('payment_intent.succeeded', { object: 'payment_intent' }, WEBHOOK_SECRET);
  const res = await deliver(odd.payload, odd.header);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.data.settled, 0);
  const other = fake.signedEvent('customer.created', { id: 'cus_x', object: 'customer' }, WEBHOOK_SECRET);
  assert.equal((await deliver(other.payload, other.header)).body.data.settled, 0);
  assert.equal(await movedSince(t, ids.customer, start), '0');
});

test('stripe: the client’s Idempotency-Key is forwarded to Stripe; a retry is one charge on both sides', async () => {
  const start = await balanceOf(t, ids.customer);
  const creates = () => fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');
  const before = creates().length;
  const send = () =>
    t.request('POST', '/api/v1/profiles/charge', {
      body: { customer_id: ids.customer, profile_id: ids.profile, amount: '11', currency: 'USD' },
      headers: { 'idempotency-key': 'order-4711' },
    });
  const first = await send();
  assert.equal(first.status, 201, first.text);
  assert.equal(creates().at(-1)?.headers['idempotency-key'], 'purchase:order-4711');
  const retry = await send();
  assert.equal(retry.headers['idempotency-hit'], 'true');
  assert.equal(retry.body.data.transaction_id, first.body.data.transaction_id);
  assert.equal(creates().length, before + 1);
  assert.equal(await movedSince(t, ids.customer, start), '11');
});
