import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postTransaction } from '../src/modules/ledger/posting.js';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { Decimal } from '../src/money/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { created, makeTenant, multipartBody } from './ledger-fixtures.js';

/** The ledger through its HTTP API (issue 3), on PGlite and on PostgreSQL. */
let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(async () => {
  // The journal's invariants hold after everything this file did (`tollgate ledger verify`).
  const report = await verifyLedger(t.handle.db);
  assert.deepEqual(report.problems, []);
  assert.ok(report.transactions > 10);
  await t.close();
});

const today = () => new Date().toISOString().slice(0, 10);

describe('seed 002 balance statement', () => {
  test('reproduces the example: opening 245.71293 … closing 242.08793', async () => {
    const { customer, partnerKey } = await makeTenant(t, { partnerFunds: '1000', customerLimit: '-55' });
    // Before the period: a gateway payment brings the opening balance to 245.71293.
    await postTransaction(t.handle.db, {
      category: 'payment',
      description: 'card payment',
      effectiveAt: new Date('2020-01-15T10:00:00Z'),
      postings: [
        { owner: { kind: 'customer', id: customer.id }, amount: new Decimal('245.71293'), currency: 'USD' },
        {
          owner: { kind: 'operator', code: 'clearing:test' },
          amount: new Decimal('-245.71293'),
          currency: 'USD',
        },
      ],
    });
    const funds = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '57', description: 'top-up' },
    });
    assert.equal(funds.status, 200, funds.text);
    assert.deepEqual(
      { balance: funds.body.data.customer_balance, limit: funds.body.data.customer_credit_limit },
      { balance: '302.71293', limit: '-55' },
    );
    await created(
      t,
      `/api/v1/customers/${customer.id}/adjustments`,
      { amount: '5', description: 'setup fee' },
      partnerKey,
    );
    for (const amount of ['40', '8.125']) {
      await postTransaction(t.handle.db, {
        category: 'call_charge',
        description: 'calls',
        allowOverdraft: true,
        postings: [
          {
            owner: { kind: 'customer', id: customer.id },
            amount: new Decimal(amount).negated(),
            currency: 'USD',
          },
          {
            owner: { kind: 'operator', code: 'revenue:calls' },
            amount: new Decimal(amount),
            currency: 'USD',
          },
        ],
      });
    }
    await created(t, `/api/v1/customers/${customer.id}/charges`, { amount: 7.5, description: 'DID rental' });

    const res = await t.request(
      'GET',
      `/api/v1/customer/balance?account_number=${customer.account_number}&from=${today()}&to=${today()}`,
      {
        key: partnerKey,
      },
    );
    assert.equal(res.status, 200, res.text);
    const {
      opening_balance,
      payments,
      adjustments,
      call_charges,
      other_charges,
      total_charges,
      closing_balance,
    } = res.body.data;
    assert.deepEqual(
      { opening_balance, payments, adjustments, call_charges, other_charges, total_charges, closing_balance },
      {
        opening_balance: '245.71293',
        payments: '57',
        adjustments: '5',
        call_charges: '48.125',
        other_charges: '7.5',
        total_charges: '60.625',
        closing_balance: '242.08793',
      },
    );
    assert.equal(res.body.data.currency, 'USD');
    assert.equal(res.body.data.credit_limit, '-55');

    // A customer key gets its own statement without naming it; the representation agrees.
    const own = await t.request('GET', `/api/v1/customer/balance?from=${today()}`, {
      key: (await created(t, '/api/v1/api-keys', { role: 'customer', customer_id: customer.id })).key,
    });
    assert.equal(own.body.data.closing_balance, '242.08793');
    const shown = await t.request('GET', `/api/v1/customers/${customer.id}`);
    assert.deepEqual(
      {
        balance: shown.body.data.balance,
        credit_limit: shown.body.data.credit_limit,
        available: shown.body.data.available,
      },
      { balance: '242.08793', credit_limit: '-55', available: '297.08793' },
    );
  });
});

describe('fund transfers (PUT /partner/funds)', () => {
  test('JSON, urlencoded and multipart bodies all move funds', async () => {
    const { customer, partner, partnerKey } = await makeTenant(t, { partnerFunds: '100' });
    const json = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: 10, description: 'json' },
    });
    const form = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: `account_number=${customer.account_number}&amount=2.5&description=form`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const multipart = multipartBody({
      account_number: customer.account_number,
      amount: '0.00000001',
      description: 'multi',
    });
    const multi = await t.request('PUT', '/api/v1/partner/funds', { key: partnerKey, ...multipart });
    assert.deepEqual([json.status, form.status, multi.status], [200, 200, 200], multi.text);
    assert.equal(multi.body.data.customer_balance, '12.50000001');
    assert.equal(multi.body.data.partner_balance, '87.49999999');
    const shownPartner = await t.request('GET', `/api/v1/partners/${partner.id}`);
    assert.equal(shownPartner.body.data.balance, '87.49999999');
    assert.equal(shownPartner.body.data.available, '87.49999999');
  });

  test('a negative amount moves funds back; the customer statement shows it as a negative payment', async () => {
    const { customer, partnerKey } = await makeTenant(t, { partnerFunds: '50' });
    await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '20', description: 'out' },
    });
    const back = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '-5', description: 'back' },
    });
    assert.equal(back.status, 200, back.text);
    assert.deepEqual([back.body.data.customer_balance, back.body.data.partner_balance], ['15', '35']);
    const statement = await t.request(
      'GET',
      `/api/v1/customer/balance?account_number=${customer.account_number}`,
    );
    assert.equal(statement.body.data.payments, '15');
  });

  test('a transfer that would break either limit moves nothing (402 insufficient_funds)', async () => {
    const { customer, partner, partnerKey } = await makeTenant(t, {
      partnerFunds: '10',
      customerLimit: '-5',
    });
    const tooMuch = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '10.00000001', description: 'x' },
    });
    assert.equal(tooMuch.status, 402, tooMuch.text);
    assert.equal(tooMuch.body.error.type, 'insufficient_funds');
    // The customer may go down to −5, not further.
    const backOk = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '-5', description: 'x' },
    });
    assert.equal(backOk.status, 200, backOk.text);
    const backTooFar = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '-0.01', description: 'x' },
    });
    assert.equal(backTooFar.status, 402);
    const shown = await t.request('GET', `/api/v1/partners/${partner.id}`);
    assert.equal(shown.body.data.balance, '15');
    const entries = await t.request('GET', `/api/v1/customers/${customer.id}/transactions`);
    assert.equal(entries.body.data.length, 1);
  });

  test('bad input is a clear 400 and moves nothing', async () => {
    const { customer, partnerKey } = await makeTenant(t, { partnerFunds: '10' });
    const cases: [Record<string, unknown>, string][] = [
      [{ account_number: customer.account_number, amount: '1.123456789', description: 'x' }, 'amount'],
      [{ account_number: customer.account_number, amount: 'ten', description: 'x' }, 'amount'],
      [{ account_number: customer.account_number, amount: '0', description: 'x' }, 'amount'],
      [{ account_number: customer.account_number, amount: '0.000', description: 'x' }, 'amount'],
      [
        { account_number: customer.account_number, amount: '1', description: 'x', currency: 'EUR' },
        'currency',
      ],
      [
        { account_number: customer.account_number, amount: '1', description: 'x', currency: 'XYZW' },
        'currency',
      ],
      [{ account_number: customer.account_number, amount: '1' }, 'description'],
      [{ account_number: customer.account_number, amount: '1', description: 'x', extra: 1 }, 'extra'],
    ];
    for (const [body, param] of cases) {
      const res = await t.request('PUT', '/api/v1/partner/funds', { key: partnerKey, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
      assert.equal(res.body.error.param, param, JSON.stringify(body));
    }
    const missing = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      ...multipartBody({ account_number: customer.account_number, description: 'no amount' }),
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.param, 'amount');
    const unknown = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: 'C999999999', amount: '1', description: 'x' },
    });
    assert.equal(unknown.status, 404);
    const entries = await t.request('GET', `/api/v1/customers/${customer.id}/transactions`);
    assert.deepEqual(entries.body.data, []);
  });

  test('another partner’s customer is 404; a customer key may not move funds', async () => {
    const mine = await makeTenant(t, { partnerFunds: '10' });
    const theirs = await makeTenant(t, { partnerFunds: '10' });
    const res = await t.request('PUT', '/api/v1/partner/funds', {
      key: mine.partnerKey,
      body: { account_number: theirs.customer.account_number, amount: '1', description: 'x' },
    });
    assert.equal(res.status, 404);
    const asCustomer = await t.request('PUT', '/api/v1/partner/funds', {
      key: mine.customerKey,
      body: { account_number: mine.customer.account_number, amount: '1', description: 'x' },
    });
    assert.equal(asCustomer.status, 403);
    const statement = await t.request(
      'GET',
      `/api/v1/customer/balance?account_number=${theirs.customer.account_number}`,
      {
        key: mine.partnerKey,
      },
    );
    assert.equal(statement.status, 404);
  });

  test('the same Idempotency-Key never moves money twice', async () => {
    const { customer, partnerKey } = await makeTenant(t, { partnerFunds: '10' });
    const send = () =>
      t.request('PUT', '/api/v1/partner/funds', {
        key: partnerKey,
        body: { account_number: customer.account_number, amount: '3', description: 'once' },
        headers: { 'idempotency-key': 'transfer-42' },
      });
    const first = await send();
    const again = await send();
    assert.equal(first.status, 200);
    assert.equal(again.headers['idempotency-hit'], 'true');
    assert.equal(again.body.data.transaction_id, first.body.data.transaction_id);
    const entries = await t.request('GET', `/api/v1/customers/${customer.id}/transactions`);
    assert.equal(entries.body.data.length, 1);
  });
});

describe('an Idempotency-Key reused after its answer expired', () => {
  test('names its first money movement for good: the same request replays it, another is 409', async () => {
    const { partner, customer, partnerKey } = await makeTenant(t, { partnerFunds: '100' });
    const second = await created(
      t,
      '/api/v1/customers',
      { name: 'Second', partner_id: partner.id },
      partnerKey,
    );
    const send = (method: string, url: string, body: Record<string, unknown>, key: string) =>
      t.request(method, url, { key: partnerKey, body, headers: { 'idempotency-key': key } });
    const funds = (accountNumber: string, amount: string) =>
      send(
        'PUT',
        '/api/v1/partner/funds',
        { account_number: accountNumber, amount, description: 'x' },
        'reused-funds',
      );
    const adjust = (customerId: string, amount: string) =>
      send(
        'POST',
        `/api/v1/customers/${customerId}/adjustments`,
        { amount, description: 'y' },
        'reused-adjust',
      );
    const firstFunds = await funds(customer.account_number, '10');
    const firstAdjust = await adjust(customer.id, '-5');
    assert.equal(firstFunds.status, 200, firstFunds.text);
    assert.equal(firstAdjust.status, 201, firstAdjust.text);
    // Past IDEMPOTENCY_TTL_HOURS, housekeeping deletes the stored answers; the ledger keeps the keys.
    const forget = () =>
      t.handle.db
        .deleteFrom('idempotency_keys')
        .where('key', 'in', ['reused-funds', 'reused-adjust'])
        .execute();
    await forget();
    const balances = async () =>
      Promise.all(
        [customer.id, second.id, partner.id].map(async (id) => {
          const path = id === partner.id ? 'partners' : 'customers';
          return (await t.data('GET', `/api/v1/${path}/${id}`)).balance;
        }),
      );
    const before = await balances();
    const sameFunds = await funds(customer.account_number, '10');
    assert.equal(sameFunds.status, 200, sameFunds.text);
    assert.equal(sameFunds.body.data.transaction_id, firstFunds.body.data.transaction_id);
    const sameAdjust = await adjust(customer.id, '-5');
    assert.equal(sameAdjust.status, 201, sameAdjust.text);
    assert.equal(sameAdjust.body.data.transaction_id, firstAdjust.body.data.transaction_id);
    for (const send of [
      () => funds(second.account_number, '3'),
      () => funds(customer.account_number, '11'),
      () => adjust(second.id, '-5'),
      () => adjust(customer.id, '-6'),
    ]) {
      await forget();
      const reuse = await send();
      assert.equal(reuse.status, 409, reuse.text);
      assert.equal(reuse.body.error.type, 'idempotency');
      assert.equal(reuse.body.error.param, 'Idempotency-Key');
    }
    assert.deepEqual(await balances(), before, 'no money moved');
  });
});

describe('the longest Idempotency-Key', () => {
  test('moves money once on every money route (its reference is a digest)', async () => {
    const { customer, partnerKey } = await makeTenant(t, { partnerFunds: '100' });
    for (const [method, url, body, status] of [
      [
        'PUT',
        '/api/v1/partner/funds',
        { account_number: customer.account_number, amount: '10', description: 'x' },
        200,
      ],
      ['POST', `/api/v1/customers/${customer.id}/adjustments`, { amount: '-1', description: 'y' }, 201],
      ['POST', `/api/v1/customers/${customer.id}/charges`, { amount: '1', description: 'z' }, 201],
    ] as const) {
      const headers = { 'idempotency-key': `${url}-${'k'.repeat(255)}`.slice(0, 255) };
      const first = await t.request(method, url, { key: partnerKey, body, headers });
      assert.equal(first.status, status, first.text);
      await t.handle.db
        .deleteFrom('idempotency_keys')
        .where('key', '=', headers['idempotency-key'])
        .execute();
      const again = await t.request(method, url, { key: partnerKey, body, headers });
      assert.equal(again.status, status, again.text);
      assert.equal(again.body.data.transaction_id, first.body.data.transaction_id, url);
    }
    assert.equal((await t.data('GET', `/api/v1/customers/${customer.id}`)).balance, '10');
  });
});

describe('adjustments and charges', () => {
  test('a positive adjustment charges, a negative one credits; limits apply unless the operator allows overdraft', async () => {
    const { customer, partnerKey } = await makeTenant(t, { customerLimit: '-10' });
    const credit = await created(t, `/api/v1/customers/${customer.id}/adjustments`, {
      amount: '-4',
      description: 'goodwill',
    });
    assert.equal(credit.balance, '4');
    assert.equal(credit.available, '14');
    const refused = await t.request('POST', `/api/v1/customers/${customer.id}/adjustments`, {
      key: partnerKey,
      body: { amount: '14.5', description: 'too much' },
    });
    assert.equal(refused.status, 402);
    const partnerOverdraft = await t.request('POST', `/api/v1/customers/${customer.id}/adjustments`, {
      key: partnerKey,
      body: { amount: '14.5', description: 'too much', allow_overdraft: true },
    });
    assert.equal(partnerOverdraft.status, 403);
    const forced = await created(t, `/api/v1/customers/${customer.id}/adjustments`, {
      amount: '14.5',
      description: 'operator decision',
      allow_overdraft: 'true',
    });
    assert.equal(forced.balance, '-10.5');
  });

  test('charges must be positive and in the account currency', async () => {
    const { customer } = await makeTenant(t, { customerLimit: '-100' });
    for (const body of [
      { amount: '-1', description: 'x' },
      { amount: '1', description: 'x', currency: 'GBP' },
      { amount: '1e3', description: 'x' },
    ]) {
      const res = await t.request('POST', `/api/v1/customers/${customer.id}/charges`, { body });
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
    }
    const ok = await created(t, `/api/v1/customers/${customer.id}/charges`, {
      amount: '0.0123',
      description: 'sub-cent',
      currency: 'usd',
    });
    assert.equal(ok.balance, '-0.0123');
    assert.equal(ok.category, 'other_charge');
  });

  test('a partner credits its customer out of its own balance and keeps what it charges', async () => {
    const { partner, customer, partnerKey } = await makeTenant(t);
    const post = (kind: 'adjustments' | 'charges', amount: string) =>
      t.request('POST', `/api/v1/customers/${customer.id}/${kind}`, {
        key: partnerKey,
        body: { amount, description: `${kind} ${amount}` },
      });
    const balances = async () => [
      (await t.data('GET', `/api/v1/customers/${customer.id}`)).balance,
      (await t.data('GET', `/api/v1/partners/${partner.id}`)).balance,
    ];
    // With nothing of its own, the partner cannot credit its customer (nor, through it, itself:
    // the credit would have come from the operator and gone back to the partner as a transfer).
    const unfunded = await post('adjustments', '-100');
    assert.equal(unfunded.status, 402, unfunded.text);
    assert.match(unfunded.body.error.reason, /partner/);
    const takeBack = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '-100', description: 'take it back' },
    });
    assert.equal(takeBack.status, 402, takeBack.text);
    assert.deepEqual(await balances(), ['0', '0']);

    await created(t, `/api/v1/partners/${partner.id}/adjustments`, { amount: '-50', description: 'prepaid' });
    assert.equal((await post('adjustments', '-30')).status, 201);
    assert.deepEqual(await balances(), ['30', '20']);
    assert.equal((await post('charges', '10')).status, 201);
    assert.equal((await post('adjustments', '5')).status, 201);
    assert.deepEqual(await balances(), ['15', '35'], 'the partner and its customer hold the 50 between them');
    const statement = await t.data('GET', `/api/v1/partner/balance?account_number=${partner.account_number}`);
    // Prepaid 50 (a credit), charged 30 for its customer's credit, credited 5; its customer's
    // charge of 10 is the partner's (a negative charge).
    assert.deepEqual(
      [statement.adjustments, statement.other_charges, statement.closing_balance],
      ['-25', '-10', '35'],
    );

    const foreign = await created(
      t,
      '/api/v1/customers',
      { name: 'Euro customer', currency: 'EUR' },
      partnerKey,
    );
    const otherCurrency = await t.request('POST', `/api/v1/customers/${foreign.id}/adjustments`, {
      key: partnerKey,
      body: { amount: '-1', description: 'x' },
    });
    assert.equal(otherCurrency.status, 400, otherCurrency.text);
    assert.equal(otherCurrency.body.error.param, 'currency');
  });

  test('partner adjustments are for the operator only', async () => {
    const { partner, partnerKey } = await makeTenant(t);
    const res = await t.request('POST', `/api/v1/partners/${partner.id}/adjustments`, {
      key: partnerKey,
      body: { amount: '-1', description: 'x' },
    });
    assert.equal(res.status, 404);
  });
});

describe('statements', () => {
  test('period bounds: bad dates and from after to are 400; timestamps and dates both work', async () => {
    const { customer } = await makeTenant(t);
    const base = `/api/v1/customer/balance?account_number=${customer.account_number}`;
    for (const query of [
      '&from=2024-02-30',
      '&to=yesterday',
      '&from=2024-13-01',
      '&from=2024-05-02&to=2024-05-01',
      '&from=2099-01-01',
    ]) {
      const res = await t.request('GET', `${base}${query}`);
      assert.equal(res.status, 400, `${query} → ${res.text}`);
    }
    const ok = await t.request('GET', `${base}&from=2024-05-01T00:00:00Z&to=2024-05-01%2012:00:00`);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.data.to, '2024-05-01T12:00:00.000Z');
    const day = await t.request('GET', `${base}&from=2024-05-01&to=2024-05-01`);
    assert.equal(day.body.data.to, '2024-05-02T00:00:00.000Z');
    const today = new Date().toISOString().slice(0, 10);
    const sinceToday = await t.request('GET', `${base}&from=${today}`);
    assert.equal(sinceToday.status, 200, 'a whole day that has begun is no future');
    const noAccount = await t.request('GET', '/api/v1/customer/balance');
    assert.equal(noAccount.status, 400);
    assert.equal(noAccount.body.error.param, 'account_number');
  });

  test('partner statement: a partner key gets its own, transfers out are negative payments', async () => {
    const { partner, customer, partnerKey, customerKey } = await makeTenant(t, { partnerFunds: '30' });
    await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '12', description: 'x' },
    });
    const res = await t.request('GET', '/api/v1/partner/balance', { key: partnerKey });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      [res.body.data.payments, res.body.data.adjustments, res.body.data.closing_balance],
      ['-12', '-30', '18'],
    );
    const admin = await t.request('GET', `/api/v1/partner/balance?account_number=${partner.account_number}`);
    assert.equal(admin.body.data.closing_balance, '18');
    const forCustomer = await t.request('GET', '/api/v1/partner/balance', { key: customerKey });
    assert.equal(forCustomer.status, 403);
  });
});

describe('transaction listings', () => {
  test('paginate, filter by category, and stream as CSV', async () => {
    const { customer, partner, partnerKey, customerKey } = await makeTenant(t, { partnerFunds: '100' });
    for (let i = 1; i <= 5; i++) {
      await t.request('PUT', '/api/v1/partner/funds', {
        key: partnerKey,
        body: {
          account_number: customer.account_number,
          amount: String(i),
          description: `top-up, "no. ${i}"`,
        },
      });
    }
    await created(t, `/api/v1/customers/${customer.id}/charges`, { amount: '1.5', description: 'fee' });
    const page1 = await t.request('GET', `/api/v1/customers/${customer.id}/transactions?limit=4`, {
      key: customerKey,
    });
    assert.equal(page1.status, 200, page1.text);
    assert.equal(page1.body.data.length, 4);
    assert.equal(page1.body.meta.has_more, true);
    const page2 = await t.request(
      'GET',
      `/api/v1/customers/${customer.id}/transactions?limit=4&starting_after=${page1.body.meta.next_cursor}`,
      {
        key: customerKey,
      },
    );
    assert.deepEqual(
      page2.body.data.map((entry: { amount: string; balance_after: string }) => [
        entry.amount,
        entry.balance_after,
      ]),
      [
        ['5', '15'],
        ['-1.5', '13.5'],
      ],
    );
    const charges = await t.request(
      'GET',
      `/api/v1/customers/${customer.id}/transactions?category=other_charge`,
    );
    assert.equal(charges.body.data.length, 1);
    const none = await t.request('GET', `/api/v1/customers/${customer.id}/transactions?to=2001-01-01`);
    assert.deepEqual(none.body.data, []);

    const csv = await t.request('GET', `/api/v1/customers/${customer.id}/transactions.csv`, {
      key: customerKey,
    });
    assert.equal(csv.status, 200);
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    const lines = csv.text.trim().split('\n');
    assert.equal(
      lines[0],
      'id,transaction_id,effective_at,category,description,reference,amount,currency,balance_after',
    );
    assert.equal(lines.length, 7);
    assert.match(lines[1]!, /,transfer,"top-up, ""no. 1""",transfer:par_\w+:cus_\w+,1,USD,1$/);
    const partnerCsv = await t.request(
      'GET',
      `/api/v1/partners/${partner.id}/transactions.csv?category=transfer`,
      { key: partnerKey },
    );
    assert.equal(partnerCsv.text.trim().split('\n').length, 6);
    const badCsv = await t.request('GET', `/api/v1/customers/${customer.id}/transactions.csv?from=nope`);
    assert.equal(badCsv.status, 400);
  });
});

describe('accounts with money history', () => {
  test('cannot be deleted (409: close them instead); without history they can', async () => {
    const { customer, partner } = await makeTenant(t, { partnerFunds: '1' });
    const res = await t.request('DELETE', `/api/v1/customers/${customer.id}`);
    assert.equal(res.status, 200, 'no money history yet: deletable');
    const partnerDelete = await t.request('DELETE', `/api/v1/partners/${partner.id}`);
    assert.equal(partnerDelete.status, 409, partnerDelete.text);
    assert.match(partnerDelete.body.message, /money history/);
  });

  test('the journal is append-only in the database itself', async () => {
    await assert.rejects(
      t.handle.db.updateTable('ledger_postings').set({ amount: '1' }).where('amount', '<>', '0').execute(),
      /append-only/,
    );
    await assert.rejects(t.handle.db.deleteFrom('ledger_transactions').execute(), /append-only/);
  });
});
