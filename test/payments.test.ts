import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { Decimal } from '../src/money/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * Seed 004's payment routes end to end through HTTP on the built-in test gateway: profiles,
 * charges, authorizations with partial captures, refunds, voids, third-party payments, the
 * balance and statement moving with them, every bad input the issue lists, and tenancy.
 */
let t: TestApp;
// Filled in before(); every test reads what it needs.
const ctx = {} as Record<
  'partnerKey' | 'customer' | 'profile' | 'account' | 'customerKey' | 'other' | 'otherKey' | 'otherProfile',
  string
>;
const CARD = {
  card_number: '4242424242424242',
  exp_month: 12,
  exp_year: 2035,
  cvv: '123',
  cardholder_name: 'Ada Lovelace',
};

async function post(url: string, body: Record<string, unknown>, key?: string) {
  return t.request('POST', url, { body, ...(key ? { key } : {}) });
}
async function created(url: string, body: Record<string, unknown>, key?: string) {
  const res = await post(url, body, key);
  assert.equal(res.status, 201, `${url}: ${res.text}`);
  return res.body.data;
}
async function balance(accountNumber: string) {
  const res = await t.request('GET', `/api/v1/customer/balance?account_number=${accountNumber}`);
  assert.equal(res.status, 200, res.text);
  return res.body.data as { closing_balance: string; payments: string };
}
/** How much a statement figure moved, exactly. */
const moved = (from: string, to: string) => new Decimal(to).minus(from).toFixed();

before(async () => {
  t = await startTestApp();
  const partner = await created('/api/v1/partners', { name: 'Reseller', currency: 'USD' });
  ctx.partnerKey = (await created('/api/v1/api-keys', { role: 'partner', partner_id: partner.id })).key;
  const registered = await created(
    '/api/v1/customer/register',
    {
      name: 'Ada',
      email: 'ada@example.com',
      currency: 'USD',
      ...CARD,
      billing_country: 'GB',
      billing_city: 'London',
    },
    ctx.partnerKey,
  );
  ctx.customer = registered.customer_id;
  ctx.profile = registered.profile.id;
  const customer = (await t.request('GET', `/api/v1/customer?customer_id=${ctx.customer}`)).body.data;
  ctx.account = customer.account_number;
  ctx.customerKey = (await created('/api/v1/api-keys', { role: 'customer', customer_id: ctx.customer })).key;
  const other = await created('/api/v1/customers', { name: 'Other', currency: 'USD' });
  ctx.other = other.id;
  ctx.otherKey = (await created('/api/v1/api-keys', { role: 'customer', customer_id: other.id })).key;
  ctx.otherProfile = (
    await created('/api/v1/customer/payments/register', { customer_id: other.id, ...CARD })
  ).profile.id;
});
after(async () => {
  const report = await verifyLedger(t.handle.db);
  assert.deepEqual(report.problems, [], 'ledger invariants hold after the suite');
  await t.close();
});

test('register keeps only brand, last 4, expiry and holder: never the number or CVV', async () => {
  const res = await t.request('GET', `/api/v1/customer/profiles/full?customer_id=${ctx.customer}`);
  assert.equal(res.status, 200, res.text);
  const [profile] = res.body.data.profiles;
  assert.equal(profile.last4, '4242');
  assert.equal(profile.brand, 'visa');
  assert.equal(profile.is_default, true);
  assert.equal(profile.billing_country, 'GB');
  const rows = await t.handle.db.selectFrom('payment_profiles').selectAll().execute();
  for (const row of rows)
    assert.ok(!JSON.stringify(row).includes('4242424242424242') && !JSON.stringify(row).includes('"123"'));
  const short = await post('/api/v1/customer/profiles', { customer_id: ctx.customer });
  assert.equal(short.status, 200);
  assert.equal(
    short.body.data.profiles[0].billing_country,
    undefined,
    'the short list has no billing details',
  );
  const byDefault = await t.request('GET', '/api/v1/customer/profiles/default', { key: ctx.customerKey });
  assert.equal(byDefault.body.data.profile.id, ctx.profile);
  const profilePage = await t.request('GET', '/api/v1/customer/profile', { key: ctx.customerKey });
  assert.equal(profilePage.body.data.default_profile_id, ctx.profile);
});

test('register without a currency gives the customer its partner’s; with no partner it is a 400', async () => {
  const euro = await created('/api/v1/partners', { name: 'Euro reseller', currency: 'EUR' });
  const euroKey = (await created('/api/v1/api-keys', { role: 'partner', partner_id: euro.id })).key;
  const card = { name: 'Émile', ...CARD };
  const byPartner = await created('/api/v1/customer/register', card, euroKey);
  assert.equal(byPartner.profile.currency, 'EUR');
  const byAdmin = await created('/api/v1/customer/register', { ...card, partner_id: euro.id });
  const customer = await t.request('GET', `/api/v1/customers/${byAdmin.customer_id}`);
  assert.equal(customer.body.data.currency, 'EUR');
  assert.equal(customer.body.data.partner_id, euro.id);
  const count = async () => (await t.handle.db.selectFrom('customers').select('id').execute()).length;
  const before = await count();
  for (const [body, param] of [
    [card, 'currency'],
    [{ ...card, currency: 'ZZZ' }, 'currency'],
    [{ ...card, partner_id: 'par_01m8y14bga0s8md9d9cg42sr10' }, 'partner_id'],
  ] as const) {
    const res = await post('/api/v1/customer/register', body);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error.param, param);
  }
  assert.equal(await count(), before, 'a refused registration creates no customer');
});

test('charge tops up the balance and the statement’s payments; a refund moves them back', async () => {
  const before = await balance(ctx.account);
  const charge = await created('/api/v1/profiles/charge', {
    customer_id: ctx.customer,
    profile_id: ctx.profile,
    amount: '25.50',
    currency: 'USD',
  });
  assert.equal(charge.status, 'success');
  assert.match(charge.transaction_id, /^ptx_/);
  assert.ok(charge.ledger_transaction_id);
  const mid = await balance(ctx.account);
  assert.equal(moved(before.closing_balance, mid.closing_balance), '25.5');
  assert.equal(moved(before.payments, mid.payments), '25.5');
  const refund = await created('/api/v1/payments/creditcard/refund', {
    transaction_id: charge.transaction_id,
    amount: '5.50',
  });
  assert.equal(refund.status, 'success');
  assert.equal(refund.type, 'refund');
  const end = await balance(ctx.account);
  assert.equal(moved(before.closing_balance, end.closing_balance), '20');
  const over = await post('/api/v1/payments/creditcard/refund', {
    transaction_id: charge.transaction_id,
    amount: '20.01',
  });
  assert.equal(over.status, 400, over.text);
  assert.equal(over.body.error.param, 'amount');
});

test('authorize, settle in parts up to the authorized amount, never beyond; void after capture refused', async () => {
  const start = await balance(ctx.account);
  const auth = await created('/api/v1/payments/creditcard/authorize', {
    account_number: ctx.account,
    amount: '100',
    currency: 'USD',
    ...CARD,
  });
  assert.equal(auth.status, 'success');
  assert.equal(
    (await balance(ctx.account)).closing_balance,
    start.closing_balance,
    'an authorization moves nothing',
  );
  const first = await created('/api/v1/payments/creditcard/transaction/settle', {
    transaction_id: auth.transaction_id,
    amount: '60',
  });
  assert.equal(first.type, 'capture');
  const tooMuch = await post('/api/v1/payments/creditcard/transaction/settle', {
    transaction_id: auth.transaction_id,
    amount: '40.01',
  });
  assert.equal(tooMuch.status, 400, tooMuch.text);
  assert.equal(tooMuch.body.error.param, 'amount');
  await created('/api/v1/profiles/settle', { transaction_id: auth.transaction_id, amount: '40' });
  const voided = await post('/api/v1/payments/creditcard/transaction/void', {
    transaction_id: auth.transaction_id,
  });
  assert.equal(voided.status, 409, voided.text);
  assert.equal(moved(start.closing_balance, (await balance(ctx.account)).closing_balance), '100');
});

test('void: nothing after it', async () => {
  const auth = await created('/api/v1/profiles/authorize', {
    customer_id: ctx.customer,
    profile_id: ctx.profile,
    amount: '10',
    currency: 'USD',
  });
  const voided = await created('/api/v1/profiles/void', { transaction_id: auth.transaction_id });
  assert.equal(voided.status, 'success');
  const capture = await post('/api/v1/payments/creditcard/transaction/settle', {
    transaction_id: auth.transaction_id,
  });
  assert.equal(capture.status, 409, capture.text);
  assert.match(capture.body.message, /voided/);
});

test('the test gateway is forced into every status by the card number', async () => {
  const cases: [string, number, string, string | null][] = [
    ['4000000000000002', 402, 'failed', 'card_declined'],
    ['4000000000009995', 402, 'failed', 'insufficient_funds'],
    ['4000000000000119', 402, 'error', 'processing_error'],
    ['4000000000003220', 201, 'pending', null],
    ['4000000000000259', 201, 'unknown', 'timeout'],
  ];
  const start = await balance(ctx.account);
  for (const [number, code, status, error] of cases) {
    const res = await post('/api/v1/payments/creditcard/charge', {
      customer_id: ctx.customer,
      amount: '7',
      currency: 'USD',
      ...CARD,
      card_number: number,
    });
    assert.equal(res.status, code, `${number}: ${res.text}`);
    assert.equal(res.body.data.status, status, number);
    assert.ok(res.body.data.transaction_id);
    assert.equal(res.body.data.error_code, error, number);
    if (code === 402) assert.equal(res.body.error.type, 'payment_declined');
  }
  assert.equal(
    (await balance(ctx.account)).closing_balance,
    start.closing_balance,
    'nothing undecided or declined moves money',
  );
});

test('bad input answers 400 naming the field, before any gateway call', async () => {
  const base = { customer_id: ctx.customer, amount: '10', currency: 'USD', ...CARD };
  const cases: [Record<string, unknown>, string][] = [
    [{ card_number: '4242424242424241' }, 'card_number'],
    [{ card_number: '000000000000' }, 'card_number'],
    [{ exp_month: 1, exp_year: 2020 }, 'exp_year'],
    [{ cvv: '12' }, 'cvv'],
    [{ amount: '10.001' }, 'amount'],
    [{ amount: '0' }, 'amount'],
    [{ amount: '-5' }, 'amount'],
    [{ currency: 'EUR' }, 'currency'],
    [{ cardholder_name: undefined }, 'cardholder_name'],
  ];
  for (const [change, param] of cases) {
    const res = await post('/api/v1/payments/creditcard/charge', { ...base, ...change });
    assert.equal(res.status, 400, `${JSON.stringify(change)}: ${res.text}`);
    assert.equal(res.body.error.param, param, JSON.stringify(change));
  }
  const missing = await post('/api/v1/payments/creditcard/charge', {
    customer_id: ctx.customer,
    currency: 'USD',
    ...CARD,
  });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.param, 'amount');
  const noCard = await post('/api/v1/payments/creditcard/charge', {
    customer_id: ctx.customer,
    amount: '1',
    currency: 'USD',
  });
  assert.equal(noCard.body.error.param, 'card_number');
  const badRegister = await post('/api/v1/customer/register', {
    name: 'Bad card',
    currency: 'USD',
    ...CARD,
    card_number: '1234567812345678',
  });
  assert.equal(badRegister.status, 400);
  const count = await t.handle.db
    .selectFrom('customers')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('name', '=', 'Bad card')
    .executeTakeFirstOrThrow();
  assert.equal(Number(count.n), 0, 'a bad card creates no customer');
});

test('a bank account given in a debit or credit is checked as at registration, before any gateway call', async () => {
  const bank = {
    customer_id: ctx.customer,
    amount: '1',
    currency: 'USD',
    bank_account_number: '000123456789',
    routing_number: '110000000',
    account_holder: 'Ada Lovelace',
  };
  const before = await t.handle.db.selectFrom('payment_transactions').select('id').execute();
  for (const route of ['debit', 'credit']) {
    for (const [change, param] of [
      [{ bank_account_number: 'abc' }, 'bank_account_number'],
      [{ bank_account_number: '123' }, 'bank_account_number'],
      [{ routing_number: 'xyz' }, 'routing_number'],
      [{ account_holder: ' ' }, 'account_holder'],
    ] as const) {
      const res = await post(`/api/v1/payments/b2b/transaction/${route}`, { ...bank, ...change });
      assert.equal(res.status, 400, `${route} ${JSON.stringify(change)}: ${res.text}`);
      assert.equal(res.body.error.param, param);
    }
  }
  const after = await t.handle.db.selectFrom('payment_transactions').select('id').execute();
  assert.equal(after.length, before.length, 'nothing recorded');
});

test('a follow-up without an amount on a payment with nothing left is a 409 naming its state, not a 400 about the amount', async () => {
  const card = (card_number: string) => ({
    customer_id: ctx.customer,
    amount: '6',
    currency: 'USD',
    ...CARD,
    card_number,
  });
  const voided = await created('/api/v1/payments/creditcard/authorize', card('4242424242424242'));
  await created('/api/v1/payments/creditcard/transaction/void', { transaction_id: voided.transaction_id });
  const declined = (await post('/api/v1/payments/creditcard/charge', card('4000000000000002'))).body.data;
  const unanswered = await created('/api/v1/payments/creditcard/charge', card('4000000000000259'));
  assert.equal(unanswered.status, 'unknown');
  const purchase = await created('/api/v1/payments/creditcard/charge', card('4242424242424242'));
  const refund = await created('/api/v1/payments/creditcard/refund', {
    transaction_id: purchase.transaction_id,
  });
  const cases = [
    ['refund after a void', 'refund', voided.transaction_id],
    ['refund of a declined charge', 'refund', declined.transaction_id],
    ['refund of an unanswered charge', 'refund', unanswered.transaction_id],
    ['settle of a purchase', 'transaction/settle', purchase.transaction_id],
    ['settle given a refund', 'transaction/settle', refund.transaction_id],
    ['refund of what is all refunded', 'refund', purchase.transaction_id],
  ] as const;
  for (const [what, route, transactionId] of cases) {
    const res = await post(`/api/v1/payments/creditcard/${route}`, { transaction_id: transactionId });
    assert.equal(res.status, 409, `${what}: ${res.text}`);
    assert.equal(res.body.error.param, 'transaction_id', what);
  }
});

test('unknown transaction, another customer’s profile or transaction: 404', async () => {
  const unknown = await post('/api/v1/payments/creditcard/refund', {
    transaction_id: 'ptx_01aaaaaaaaaaaaaaaaaaaaaaaa',
  });
  assert.equal(unknown.status, 404);
  const foreignProfile = await post('/api/v1/profiles/charge', {
    customer_id: ctx.customer,
    profile_id: ctx.otherProfile,
    amount: '1',
    currency: 'USD',
  });
  assert.equal(foreignProfile.status, 404, foreignProfile.text);
  const mine = await created(
    '/api/v1/profiles/charge',
    { profile_id: ctx.profile, amount: '1', currency: 'USD' },
    ctx.customerKey,
  );
  const asOther = await post(
    '/api/v1/payments/creditcard/refund',
    { transaction_id: mine.transaction_id },
    ctx.otherKey,
  );
  assert.equal(asOther.status, 404, asOther.text);
  const otherRemoves = await post(
    '/api/v1/customer/payments/remove',
    { profile_id: ctx.profile },
    ctx.otherKey,
  );
  assert.equal(otherRemoves.status, 404);
  const otherLists = await t.request('GET', `/api/v1/transactions?customer_id=${ctx.customer}`, {
    key: ctx.otherKey,
  });
  assert.equal(otherLists.status, 404);
  const ownList = await t.request('GET', '/api/v1/transactions', { key: ctx.otherKey });
  assert.equal(ownList.status, 200);
  assert.ok(!ownList.text.includes(ctx.customer));
  const partnerList = await post('/api/v1/transactions', { customer_id: ctx.customer }, ctx.partnerKey);
  assert.ok(
    partnerList.body.data.some(
      (row: { transaction_id: string }) => row.transaction_id === mine.transaction_id,
    ),
  );
});

test('third-party payments top up once per reference', async () => {
  const start = await balance(ctx.account);
  const body = {
    customer_id: ctx.customer,
    amount: '12.34',
    currency: 'USD',
    reference: 'WIRE-778',
    method: 'wire',
  };
  const first = await created('/api/v1/payments/thirdparty', body);
  const again = await created('/api/v1/payments/thirdparty', body);
  assert.equal(again.transaction_id, first.transaction_id);
  assert.equal(moved(start.closing_balance, (await balance(ctx.account)).closing_balance), '12.34');
  const changed = await post('/api/v1/payments/thirdparty', { ...body, amount: '13' });
  assert.equal(changed.status, 409);
});

test('a third-party payment cannot be refunded, settled or voided through a gateway: 409, nothing written', async () => {
  const wire = await created('/api/v1/payments/thirdparty', {
    customer_id: ctx.customer,
    amount: '20',
    currency: 'USD',
    reference: 'WIRE-NO-REFUND',
    method: 'wire',
  });
  const start = await balance(ctx.account);
  for (const [url, body] of [
    ['/api/v1/profiles/refund', { transaction_id: wire.transaction_id }],
    ['/api/v1/payments/creditcard/refund', { transaction_id: wire.transaction_id, amount: '5' }],
    ['/api/v1/payments/creditcard/transaction/settle', { transaction_id: wire.transaction_id }],
    ['/api/v1/payments/creditcard/transaction/void', { transaction_id: wire.transaction_id }],
  ] as const) {
    const res = await post(url, body);
    assert.equal(res.status, 409, `${url}: ${res.text}`);
  }
  assert.equal((await balance(ctx.account)).closing_balance, start.closing_balance);
  const rows = await t.handle.db
    .selectFrom('payment_transactions')
    .select('kind')
    .where('payment_id', '=', wire.payment_id)
    .execute();
  assert.deepEqual(rows, [{ kind: 'purchase' }]);
});

test('only the operator records third-party payments: customer and partner keys are 403, nothing recorded', async () => {
  const start = await balance(ctx.account);
  const body = { amount: '1000', currency: 'USD', method: 'cash', reference: 'self-made' };
  for (const [key, extra] of [
    [ctx.customerKey, {}],
    [ctx.partnerKey, { customer_id: ctx.customer }],
  ] as const) {
    const res = await post('/api/v1/payments/thirdparty', { ...body, ...extra }, key);
    assert.equal(res.status, 403, res.text);
  }
  assert.equal((await balance(ctx.account)).closing_balance, start.closing_balance);
  const recorded = await t.handle.db
    .selectFrom('payment_transactions')
    .select('id')
    .where('gateway_key', '=', 'thirdparty')
    .where('reference', '=', 'self-made')
    .execute();
  assert.deepEqual(recorded, []);
});

test('a retried charge with the same Idempotency-Key charges once', async () => {
  const start = await balance(ctx.account);
  const body = { customer_id: ctx.customer, profile_id: ctx.profile, amount: '3', currency: 'USD' };
  const headers = { 'idempotency-key': 'charge-retry-1' };
  const first = await t.request('POST', '/api/v1/profiles/charge', { body, headers });
  const second = await t.request('POST', '/api/v1/profiles/charge', { body, headers });
  assert.equal(first.body.data.transaction_id, second.body.data.transaction_id);
  assert.equal(moved(start.closing_balance, (await balance(ctx.account)).closing_balance), '3');
});

test('profile update: expiry and address change; number, holder and billing country do not', async () => {
  const ok = await post('/api/v1/customer/payments/update', {
    customer_id: ctx.customer,
    profile_id: ctx.profile,
    exp_year: 2036,
    billing_city: 'Paris',
  });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.data.profile.exp_year, 2036);
  assert.equal(ok.body.data.profile.billing_city, 'Paris');
  const immutable: [string, string][] = [
    ['card_number', '5555555555554444'],
    ['cardholder_name', 'Someone'],
    ['billing_country', 'FR'],
  ];
  for (const [field, value] of immutable) {
    const res = await post('/api/v1/customer/payments/update', {
      customer_id: ctx.customer,
      profile_id: ctx.profile,
      [field]: value,
    });
    assert.equal(res.status, 400, `${field}: ${res.text}`);
    assert.equal(res.body.error.param, field);
  }
});

test('a closed customer pays off its debt and is refunded its credit, up to zero: beyond is 409 before any gateway call', async () => {
  const customer = await created('/api/v1/customers', {
    name: 'Leaving',
    currency: 'USD',
    credit_limit: '-100',
  });
  const profile = (await created('/api/v1/customer/payments/register', { customer_id: customer.id, ...CARD }))
    .profile.id;
  const charge = (amount: string) =>
    post('/api/v1/profiles/charge', {
      customer_id: customer.id,
      profile_id: profile,
      amount,
      currency: 'USD',
    });
  const refund = (transactionId: string, amount: string) =>
    post('/api/v1/payments/creditcard/refund', { transaction_id: transactionId, amount });
  const recordedTransactions = async () =>
    (
      await t.handle.db
        .selectFrom('payment_transactions')
        .select('id')
        .where('customer_id', '=', customer.id)
        .execute()
    ).length;
  // Paid 40 while open, then charged 70 for its last month: it owes 30 when it closes.
  const paid = await charge('40');
  assert.equal(paid.status, 201, paid.text);
  await created(`/api/v1/customers/${customer.id}/adjustments`, { amount: '70', description: 'last month' });
  const closing = await t.request('PATCH', `/api/v1/customers/${customer.id}`, {
    body: { status: 'closed' },
  });
  assert.equal(closing.status, 200, closing.text);
  const owes = await balance(customer.account_number);
  assert.equal(owes.closing_balance, '-30');

  // Paying part of the debt, then the rest, goes through the gateway and the ledger.
  const part = await charge('12.5');
  assert.equal(part.status, 201, part.text);
  assert.equal(part.body.data.status, 'success');
  const before = await recordedTransactions();
  // Paying more than is owed would leave credit on a closed account: refused before the gateway.
  const over = await charge('17.51');
  assert.equal(over.status, 409, over.text);
  assert.equal(over.body.error.type, 'conflict');
  assert.equal(over.body.error.param, 'amount');
  assert.match(over.body.message, /is closed: .* from -17.5 to 0.01$/);
  assert.equal(await recordedTransactions(), before, 'nothing recorded, no gateway call');
  // A refund would take it deeper into debt: refused too, though its credit limit allows it.
  const deeper = await refund(paid.body.data.transaction_id, '1');
  assert.equal(deeper.status, 409, deeper.text);
  assert.match(deeper.body.message, /from -17.5 to -18.5$/);
  const rest = await charge('17.5');
  assert.equal(rest.status, 201, rest.text);
  assert.equal((await balance(customer.account_number)).closing_balance, '0');
  assert.equal((await charge('0.01')).status, 409);
  assert.equal((await refund(rest.body.data.transaction_id, '0.01')).status, 409);
});

test('a closed customer’s credit is refunded to its card up to zero, no further', async () => {
  const customer = await created('/api/v1/customers', { name: 'Leaving too', currency: 'USD' });
  const profile = (await created('/api/v1/customer/payments/register', { customer_id: customer.id, ...CARD }))
    .profile.id;
  const paid = await created('/api/v1/profiles/charge', {
    customer_id: customer.id,
    profile_id: profile,
    amount: '40',
    currency: 'USD',
  });
  // Its last month cost it 10: 30 of credit is left when it closes.
  await created(`/api/v1/customers/${customer.id}/adjustments`, { amount: '10', description: 'last month' });
  const closing = await t.request('PATCH', `/api/v1/customers/${customer.id}`, {
    body: { status: 'closed' },
  });
  assert.equal(closing.status, 200, closing.text);
  const refund = (amount: string) =>
    post('/api/v1/payments/creditcard/refund', { transaction_id: paid.transaction_id, amount });
  const part = await refund('15');
  assert.equal(part.status, 201, part.text);
  assert.equal(part.body.data.status, 'success');
  // 25 of the payment is left to refund, but only 15 of credit.
  const over = await refund('15.01');
  assert.equal(over.status, 409, over.text);
  assert.match(over.body.message, /is closed: .* from 15 to -0.01$/);
  assert.equal((await refund('15')).status, 201);
  assert.equal((await balance(customer.account_number)).closing_balance, '0');
});
