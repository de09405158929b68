import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { DomainError } from '../src/errors.js';
import { type PostingInput, postTransaction, type TransactionInput } from '../src/modules/ledger/posting.js';
import { Decimal } from '../src/money/index.js';
import type { TestApp } from './helpers/app.js';
import { makeTenant, withVerifiedLedgerApp } from './ledger-fixtures.js';

/**
 * The posting rules now live in ledger_post() (migrations/0011_ledger_post_function.sql): these
 * run them through postTransaction on the real database, PGlite and PostgreSQL alike.
 */
let t: TestApp;
withVerifiedLedgerApp((app) => {
  t = app;
});

const customer = (id: string, amount: string, currency = 'USD'): PostingInput => ({
  owner: { kind: 'customer', id },
  amount: new Decimal(amount),
  currency,
});
const revenue = (amount: string, currency = 'USD'): PostingInput => ({
  owner: { kind: 'operator', code: 'revenue:other' },
  amount: new Decimal(amount),
  currency,
});
const charge = (customerId: string, amount: string, extra: Partial<TransactionInput> = {}) =>
  postTransaction(t.handle.db, {
    category: 'other_charge',
    postings: [customer(customerId, `-${amount}`), revenue(amount)],
    ...extra,
  });

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  assert.fail('expected a refusal');
}

test('a debit may take a balance down to its credit limit, not below, unless overdraft is allowed', async () => {
  const { customer: c } = await makeTenant(t, { customerLimit: '-55' });
  await postTransaction(t.handle.db, {
    category: 'payment',
    postings: [customer(c.id, '10'), revenue('-10')],
  });
  const error = await refusal(charge(c.id, '65.00000001'));
  assert.equal(error.kind, 'insufficient_funds');
  assert.equal(error.param, 'amount');
  assert.equal(
    error.message,
    `Insufficient funds: the balance of customer ${c.id} would go from 10 to -55.00000001, below its credit limit -55`,
  );
  const exact = await charge(c.id, '65');
  assert.equal(exact.postings[0]!.balanceAfter.toFixed(), '-55');
  const overdraft = await charge(c.id, '1000', { allowOverdraft: true });
  assert.equal(overdraft.postings[0]!.balanceAfter.toFixed(), '-1055');
  // A credit always passes, even to an account still below its limit; the running balance follows.
  const credit = await postTransaction(t.handle.db, {
    category: 'payment',
    postings: [customer(c.id, '5'), customer(c.id, '0.5'), revenue('-5.5')],
  });
  assert.deepEqual(
    credit.postings.slice(0, 2).map((posting) => posting.balanceAfter.toFixed()),
    ['-1050', '-1049.5'],
  );
});

test('the limit applies to the running balance within one transaction, and a refusal writes nothing', async () => {
  const { customer: c } = await makeTenant(t, { customerLimit: '0' });
  await postTransaction(t.handle.db, { category: 'payment', postings: [customer(c.id, '1'), revenue('-1')] });
  const before = await t.handle.db
    .selectFrom('ledger_postings')
    .select(sql<number>`count(*)`.as('n'))
    .execute();
  const error = await refusal(
    postTransaction(t.handle.db, {
      category: 'other_charge',
      referenceKey: 'test:running-limit',
      postings: [customer(c.id, '-0.6'), customer(c.id, '-0.6'), revenue('1.2')],
    }),
  );
  assert.equal(error.kind, 'insufficient_funds');
  assert.match(error.message, /would go from 0\.4 to -0\.2/);
  const afterRows = await t.handle.db
    .selectFrom('ledger_postings')
    .select(sql<number>`count(*)`.as('n'))
    .execute();
  assert.equal(afterRows[0]!.n, before[0]!.n);
  const shown = await t.request('GET', `/api/v1/customers/${c.id}`);
  assert.equal(shown.body.data.balance, '1');
});

test('a reference key posts once; the repost answers the original, replayed', async () => {
  const { customer: c } = await makeTenant(t, { customerLimit: '-10' });
  const first = await charge(c.id, '1.25', { referenceKey: 'test:once' });
  const again = await charge(c.id, '1.25', { referenceKey: 'test:once' });
  assert.equal(first.replayed, false);
  assert.equal(again.replayed, true);
  assert.equal(again.id, first.id);
  assert.deepEqual(
    again.postings.map((posting) => [posting.id, posting.balanceAfter.toFixed()]),
    first.postings.map((posting) => [posting.id, posting.balanceAfter.toFixed()]),
  );
  const shown = await t.request('GET', `/api/v1/customers/${c.id}`);
  assert.equal(shown.body.data.balance, '-1.25');
});

test('unknown owners and accounts are not_found; another currency is invalid', async () => {
  const { customer: c } = await makeTenant(t);
  const unknownCustomer = await refusal(
    charge('cus_01jzzzzzzzzzzzzzzzzzzzzzzz', '1', { allowOverdraft: true }),
  );
  assert.equal(unknownCustomer.kind, 'not_found');
  assert.equal(unknownCustomer.message, 'Customer not found');
  const unknownAccount = await refusal(
    postTransaction(t.handle.db, {
      category: 'adjustment',
      postings: [
        { ledgerAccountId: 'lac_01jzzzzzzzzzzzzzzzzzzzzzzz', amount: new Decimal('1'), currency: 'USD' },
        revenue('-1'),
      ],
    }),
  );
  assert.equal(unknownAccount.kind, 'not_found');
  assert.equal(unknownAccount.message, 'Ledger account lac_01jzzzzzzzzzzzzzzzzzzzzzzz not found');
  const euros = await refusal(
    postTransaction(t.handle.db, {
      category: 'adjustment',
      allowOverdraft: true,
      postings: [customer(c.id, '-1', 'EUR'), revenue('1', 'EUR')],
    }),
  );
  assert.equal(euros.kind, 'invalid');
  assert.equal(euros.param, 'currency');
  // Once the account exists, the same refusal comes from the locked account's currency.
  await charge(c.id, '1', { allowOverdraft: true });
  const eurosAgain = await refusal(
    postTransaction(t.handle.db, {
      category: 'adjustment',
      allowOverdraft: true,
      postings: [customer(c.id, '-1', 'EUR'), revenue('1', 'EUR')],
    }),
  );
  assert.equal(eurosAgain.kind, 'invalid');
  assert.equal(eurosAgain.param, 'currency');
});

test('postings by ledger account id and new operator accounts per currency', async () => {
  const { customer: c } = await makeTenant(t, { currency: 'EUR' });
  const first = await postTransaction(t.handle.db, {
    category: 'payment',
    postings: [customer(c.id, '3', 'EUR'), revenue('-3', 'EUR')],
  });
  const accountId = first.postings[0]!.ledgerAccountId;
  assert.equal(first.postings[1]!.ownerKind, 'operator');
  assert.equal(first.postings[1]!.code, 'revenue:other');
  assert.equal(first.postings[1]!.currency, 'EUR');
  const second = await postTransaction(t.handle.db, {
    category: 'other_charge',
    postings: [
      { ledgerAccountId: accountId, amount: new Decimal('-0.00000001'), currency: 'EUR' },
      revenue('0.00000001', 'EUR'),
    ],
  });
  assert.equal(second.postings[0]!.ledgerAccountId, accountId);
  assert.equal(second.postings[0]!.ownerId, c.id);
  assert.equal(second.postings[0]!.balanceAfter.toFixed(), '2.99999999');
  assert.equal(second.postings[1]!.ledgerAccountId, first.postings[1]!.ledgerAccountId);
});

test('inside the caller’s transaction, a refusal undoes only that posting; the transaction goes on', async () => {
  const { customer: c } = await makeTenant(t, { customerLimit: '0' });
  await t.handle.db.transaction().execute(async (trx) => {
    await postTransaction(trx, { category: 'payment', postings: [customer(c.id, '2'), revenue('-2')] });
    const error = await refusal(
      postTransaction(trx, { category: 'other_charge', postings: [customer(c.id, '-3'), revenue('3')] }),
    );
    assert.equal(error.kind, 'insufficient_funds');
    await postTransaction(trx, {
      category: 'other_charge',
      postings: [customer(c.id, '-0.5'), revenue('0.5')],
    });
  });
  const shown = await t.request('GET', `/api/v1/customers/${c.id}`);
  assert.equal(shown.body.data.balance, '1.5');
});

test('a fund transfer is one statement: the customer by account number in the caller’s scope, then ledger_post()', async () => {
  const {
    partner,
    customer: c,
    partnerKey,
  } = await makeTenant(t, { partnerFunds: '10', customerLimit: '-1' });
  const funds = (body: Record<string, unknown>, key?: string, idempotencyKey?: string) =>
    t.request('PUT', '/api/v1/partner/funds', {
      ...(key ? { key } : {}),
      body: { account_number: c.account_number, description: 'top-up', ...body },
      ...(idempotencyKey ? { headers: { 'idempotency-key': idempotencyKey } } : {}),
    });
  const moved = await funds({ amount: '2.5', currency: 'usd' }, partnerKey, 'transfer-once');
  assert.equal(moved.status, 200, moved.text);
  assert.deepEqual(
    { ...moved.body.data, transaction_id: undefined },
    {
      customer_balance: '2.5',
      customer_credit_limit: '-1',
      partner_balance: '7.5',
      currency: 'USD',
      transaction_id: undefined,
    },
  );
  const stored = await t.handle.db
    .selectFrom('ledger_transactions')
    .select(['reference', 'reference_key', 'category'])
    .where('id', '=', moved.body.data.transaction_id)
    .executeTakeFirstOrThrow();
  assert.equal(stored.reference, `transfer:${partner.id}:${c.id}`);
  assert.equal(stored.category, 'transfer');
  assert.match(stored.reference_key!, /^http:key_[0-9a-z]+:transfer-once$/);
  // The operator reaches every customer; moving funds back below the customer's limit is 402.
  const back = await funds({ amount: '-3.5' });
  assert.equal(back.status, 200, back.text);
  assert.equal(back.body.data.customer_balance, '-1');
  const tooFar = await funds({ amount: '-0.00000001' });
  assert.equal(tooFar.status, 402, tooFar.text);
  assert.match(tooFar.body.message, new RegExp(`customer ${c.id} would go from -1 to -1\\.00000001`));
  // A customer of no partner has nobody to move funds from.
  const orphan = await t.request('POST', '/api/v1/customers', { body: { name: 'Direct', currency: 'USD' } });
  assert.equal(orphan.status, 201, orphan.text);
  const noPartner = await t.request('PUT', '/api/v1/partner/funds', {
    body: { account_number: orphan.body.data.account_number, amount: '1', description: 'x' },
  });
  assert.equal(noPartner.status, 400, noPartner.text);
  assert.equal(noPartner.body.error.param, 'account_number');
  const unknown = await t.request('PUT', '/api/v1/partner/funds', {
    body: { account_number: 'C999999999', amount: '1', description: 'x' },
  });
  assert.equal(unknown.status, 404, unknown.text);
});
