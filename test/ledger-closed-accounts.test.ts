import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from '../src/errors.js';
import { transferItem } from '../src/modules/ledger/operations.js';
import { postTransaction } from '../src/modules/ledger/posting.js';
import { postTransferBatch, transferAlone } from '../src/modules/ledger/transfer-batcher.js';
import { Decimal } from '../src/money/index.js';
import type { Principal } from '../src/tenancy.js';
import type { TestApp, TestResponse } from './helpers/app.js';
import {
  makeTenant,
  type Tenant,
  tenantBalances,
  tenantTransactionCount,
  withVerifiedLedgerApp,
} from './ledger-fixtures.js';

/**
 * A closed customer or partner can only be settled (docs/ledger.md, "Closed accounts";
 * migrations 0034 and 0035): a movement that brings its balance toward zero without crossing it
 * posts, anything else is 409 and moves nothing, on every path: fund transfers alone and in a
 * batch, adjustments and charges. What already happened (calls, gateway payments) still posts.
 * On both databases; the ledger verifies after the file.
 */
let t: TestApp;
withVerifiedLedgerApp((app) => {
  t = app;
});

const putFunds = (tenant: Tenant, amount: string, idempotencyKey?: string) =>
  t.request('PUT', '/api/v1/partner/funds', {
    key: tenant.partnerKey,
    body: { account_number: tenant.customer.account_number, amount, description: `move ${amount}` },
    ...(idempotencyKey ? { headers: { 'idempotency-key': idempotencyKey } } : {}),
  });

async function close(kind: 'customers' | 'partners', id: string) {
  const res = await t.request('PATCH', `/api/v1/${kind}/${id}`, { body: { status: 'closed' } });
  assert.equal(res.status, 200, res.text);
}

/** The documented 409 envelope of a closed account's refusal. */
function assertClosedRefusal(res: TestResponse, account: RegExp) {
  assert.equal(res.status, 409, res.text);
  assert.equal(res.body.success, false);
  assert.equal(res.body.code, 409);
  assert.equal(res.body.error.code, 409);
  assert.equal(res.body.error.type, 'conflict');
  assert.equal(res.body.error.param, 'amount');
  assert.match(res.body.message, account);
  assert.match(res.body.message, / is closed: /);
}

/** A tenant whose customer owes `debt` (an operator charge within its credit limit), then closed. */
async function closedCustomerOwing(debt: string, partnerFunds = '100'): Promise<Tenant> {
  const tenant = await makeTenant(t, { partnerFunds, customerLimit: '-500' });
  const charged = await t.request('POST', `/api/v1/customers/${tenant.customer.id}/adjustments`, {
    body: { amount: debt, description: 'last month' },
  });
  assert.equal(charged.status, 201, charged.text);
  await close('customers', tenant.customer.id);
  return tenant;
}

test('a fund transfer to a closed customer with nothing owed is 409 and moves nothing', async () => {
  const tenant = await makeTenant(t, { partnerFunds: '100' });
  await close('customers', tenant.customer.id);
  const res = await putFunds(tenant, '10');
  assertClosedRefusal(res, new RegExp(`customer ${tenant.customer.id} is closed: its balance is 0`));
  assert.deepEqual(await tenantBalances(t, tenant), ['100', '0']);
  assert.equal(await tenantTransactionCount(t, tenant), 0);
});

test('a closed customer’s debt can be paid off by transfers in part and in full, never past zero', async () => {
  const tenant = await closedCustomerOwing('30');
  const part = await putFunds(tenant, '12.5');
  assert.equal(part.status, 200, part.text);
  assert.equal(part.body.data.customer_balance, '-17.5');
  // More than is owed would leave the closed customer with credit: refused whole, nothing moves.
  const over = await putFunds(tenant, '17.51');
  assertClosedRefusal(over, /would take it from -17.5 to 0.01$/);
  assert.deepEqual(await tenantBalances(t, tenant), ['87.5', '-17.5']);
  // Away from zero (funds back to the partner, deeper into debt) is refused too.
  assertClosedRefusal(await putFunds(tenant, '-1'), /from -17.5 to -18.5$/);
  const rest = await putFunds(tenant, '17.5');
  assert.equal(rest.status, 200, rest.text);
  assert.equal(rest.body.data.customer_balance, '0');
  // Settled: nothing more either way.
  assertClosedRefusal(await putFunds(tenant, '0.00000001'), /its balance is 0/);
  assertClosedRefusal(await putFunds(tenant, '-0.00000001'), /its balance is 0/);
  assert.deepEqual(await tenantBalances(t, tenant), ['70', '0']);
  assert.equal(await tenantTransactionCount(t, tenant), 3);
});

test('a closed customer’s credit can be sent back to its partner down to zero, and no more can be sent to it', async () => {
  const tenant = await makeTenant(t, { partnerFunds: '100' });
  assert.equal((await putFunds(tenant, '40')).status, 200);
  await close('customers', tenant.customer.id);
  assertClosedRefusal(await putFunds(tenant, '5'), /from 40 to 45$/);
  const back = await putFunds(tenant, '-15');
  assert.equal(back.status, 200, back.text);
  assert.equal(back.body.data.customer_balance, '25');
  // Past zero is refused as closed (before its credit limit of 0 is even looked at).
  assertClosedRefusal(await putFunds(tenant, '-25.01'), /from 25 to -0.01$/);
  assert.equal((await putFunds(tenant, '-25')).status, 200);
  assert.deepEqual(await tenantBalances(t, tenant), ['100', '0']);
});

test('a refused transfer retried with the same Idempotency-Key answers the same 409; a transfer posted before closing replays', async () => {
  const tenant = await makeTenant(t, { partnerFunds: '100' });
  const before = await putFunds(tenant, '10', 'closed-posted-before');
  assert.equal(before.status, 200, before.text);
  await close('customers', tenant.customer.id);
  // Its retry is the same request: it is answered as it was, not refused now.
  const replay = await putFunds(tenant, '10', 'closed-posted-before');
  assert.equal(replay.status, 200, replay.text);
  assert.equal(replay.body.data.transaction_id, before.body.data.transaction_id);
  const refused = await putFunds(tenant, '5', 'closed-refused');
  assertClosedRefusal(refused, /from 10 to 15$/);
  const retry = await putFunds(tenant, '5', 'closed-refused');
  assert.equal(retry.status, 409, retry.text);
  assert.equal(retry.body.error.type, 'conflict');
  assert.equal(retry.body.message, refused.body.message);
  assert.deepEqual(await tenantBalances(t, tenant), ['90', '10']);
  assert.equal(await tenantTransactionCount(t, tenant), 1);
});

test('a closed partner can pay its credit out to its customers down to zero, and receives nothing', async () => {
  const tenant = await makeTenant(t, { partnerFunds: '50', partnerLimit: '-100' });
  assert.equal((await putFunds(tenant, '10')).status, 200);
  await close('partners', tenant.partner.id);
  const out = await putFunds(tenant, '30');
  assert.equal(out.status, 200, out.text);
  assert.equal(out.body.data.partner_balance, '10');
  // Its credit limit would allow −100; closed, it stops at zero.
  assertClosedRefusal(await putFunds(tenant, '10.01'), new RegExp(`partner ${tenant.partner.id} is closed`));
  // Funds sent back to a closed partner with credit take it away from zero.
  assertClosedRefusal(await putFunds(tenant, '-1'), /from 10 to 11$/);
  // The operator credits it nothing either (a prepayment is a negative adjustment).
  const prepaid = await t.request('POST', `/api/v1/partners/${tenant.partner.id}/adjustments`, {
    body: { amount: '-5', description: 'another prepayment' },
  });
  assertClosedRefusal(prepaid, /from 10 to 15$/);
  // A partner adjustment that pays out its remaining credit settles it.
  const paidOut = await t.request('POST', `/api/v1/partners/${tenant.partner.id}/adjustments`, {
    body: { amount: '10', description: 'remaining credit paid out' },
  });
  assert.equal(paidOut.status, 201, paidOut.text);
  assert.deepEqual(await tenantBalances(t, tenant), ['0', '40']);
});

test('a closed partner in debt is paid back by its customers’ funds, up to zero', async () => {
  const tenant = await makeTenant(t, { partnerLimit: '-100' });
  assert.equal((await putFunds(tenant, '60')).status, 200);
  await close('partners', tenant.partner.id);
  // The partner owes 60: its customer sends 20 back, bringing the debt toward zero.
  const back = await putFunds(tenant, '-20');
  assert.equal(back.status, 200, back.text);
  assert.equal(back.body.data.partner_balance, '-40');
  // Lending more to its customer (deeper into debt) is refused, within its credit limit or not.
  assertClosedRefusal(await putFunds(tenant, '1'), /from -40 to -41$/);
  assert.deepEqual(await tenantBalances(t, tenant), ['-40', '40']);
});

test('adjustments and charges on a closed customer: only a credit that settles a debt posts', async () => {
  const tenant = await closedCustomerOwing('20');
  const adjust = (amount: string, extra: Record<string, unknown> = {}, key?: string) =>
    t.request('POST', `/api/v1/customers/${tenant.customer.id}/adjustments`, {
      body: { amount, description: `adjust ${amount}`, ...extra },
      ...(key ? { key } : {}),
    });
  // Nothing new is sold to it: a charge, a positive adjustment, even with the operator's overdraft.
  const charge = await t.request('POST', `/api/v1/customers/${tenant.customer.id}/charges`, {
    body: { amount: '1', description: 'one-off' },
  });
  assertClosedRefusal(charge, /from -20 to -21$/);
  assertClosedRefusal(await adjust('1'), /from -20 to -21$/);
  assertClosedRefusal(await adjust('1', { allow_overdraft: true }), /from -20 to -21$/);
  // A credit beyond the debt would leave credit on it.
  assertClosedRefusal(await adjust('-20.5'), /from -20 to 0.5$/);
  // Writing part of the debt off settles it (the operator's adjustment, then its partner's).
  const writeOff = await adjust('-5');
  assert.equal(writeOff.status, 201, writeOff.text);
  assert.equal(writeOff.body.data.balance, '-15');
  const byPartner = await adjust('-15', {}, tenant.partnerKey);
  assert.equal(byPartner.status, 201, byPartner.text);
  assert.deepEqual(await tenantBalances(t, tenant), ['85', '0']);
});

test('the batch statement refuses a closed account’s item as a transfer alone does, and posts the others', async () => {
  const closed = await closedCustomerOwing('10');
  const open = await makeTenant(t, { partnerFunds: '100' });
  // The batch statement takes only customers that already have a balance account.
  assert.equal((await putFunds(open, '1')).status, 200);
  const principal = (tenant: Tenant): Principal => ({
    keyId: `key-${tenant.partner.id}`,
    role: 'partner',
    partnerId: tenant.partner.id,
    customerId: null,
  });
  const item = (tenant: Tenant, amount: string) =>
    transferItem(principal(tenant), {
      accountNumber: tenant.customer.account_number,
      amount,
      description: `batched ${amount}`,
    });
  const results = await postTransferBatch(t.handle.db, [
    item(closed, '4'),
    item(open, '2'),
    item(closed, '7'),
    item(closed, '6'),
    item(open, '3'),
  ]);
  assert.deepEqual(
    results.map((result) => result.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  // Running balances within the statement: −10 +4 = −6, so 7 would cross zero and 6 settles.
  const batched = (results[2] as PromiseRejectedResult).reason as DomainError;
  assert.ok(batched instanceof DomainError);
  assert.equal(batched.kind, 'conflict');
  assert.match(batched.message, /from -6 to 1$/);
  const alone = await transferAlone(t.handle.db, item(closed, '0.5')).then(
    () => assert.fail('expected a refusal'),
    (error: unknown) => error as DomainError,
  );
  const [again] = await postTransferBatch(t.handle.db, [item(closed, '0.5')]);
  const reason = (again as PromiseRejectedResult).reason as DomainError;
  assert.deepEqual([reason.kind, reason.message, reason.param], [alone.kind, alone.message, alone.param]);
  assert.deepEqual(await tenantBalances(t, closed), ['90', '0']);
  assert.deepEqual(await tenantBalances(t, open), ['94', '6']);
});

test('the batch statement checks the legs in posting order, as ledger_post() does', async () => {
  // Partner (open) holds 5; its closed customer owes 10. Sending 12 breaks the partner's limit
  // (its posting comes first: 402) and would leave the closed customer with credit (second).
  const tenant = await closedCustomerOwing('10', '5');
  const principal: Principal = {
    keyId: 'k',
    role: 'partner',
    partnerId: tenant.partner.id,
    customerId: null,
  };
  const item = (amount: string) =>
    transferItem(principal, { accountNumber: tenant.customer.account_number, amount, description: amount });
  const outcomes = async (amount: string) => {
    const [batched] = await postTransferBatch(t.handle.db, [item(amount)]);
    const alone = await transferAlone(t.handle.db, item(amount)).then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => error as DomainError,
    );
    const reason = (batched as PromiseRejectedResult).reason as DomainError;
    assert.deepEqual([reason.kind, reason.message, reason.param], [alone.kind, alone.message, alone.param]);
    return reason;
  };
  const first = await outcomes('12');
  assert.equal(first.kind, 'insufficient_funds');
  assert.match(first.message, new RegExp(`partner ${tenant.partner.id} would go from 5 to -7`));
  // Within the partner's funds, the closed customer's leg is what refuses it.
  const second = await outcomes('-1');
  assert.equal(second.kind, 'conflict');
  assert.match(second.message, /customer .* is closed: .* from -10 to -11$/);
  // A closed partner: its own leg (first) is checked for the closed rule before its limit.
  await close('partners', tenant.partner.id);
  const third = await outcomes('6');
  assert.equal(third.kind, 'conflict');
  assert.match(third.message, new RegExp(`partner ${tenant.partner.id} is closed: .* from 5 to -1$`));
  assert.deepEqual(await tenantBalances(t, tenant), ['5', '-10']);
});

test('what already happened still posts to a closed account: call charges and gateway payments', async () => {
  const tenant = await makeTenant(t, { partnerFunds: '10' });
  await close('customers', tenant.customer.id);
  // As CDR charging posts (src/modules/cdrs/ingest.ts): a completed call is a debt.
  const calls = await postTransaction(t.handle.db, {
    category: 'call_charge',
    description: 'calls made before closing',
    allowOverdraft: true,
    recordsPastEvent: true,
    postings: [
      { owner: { kind: 'customer', id: tenant.customer.id }, amount: new Decimal('-3.25'), currency: 'USD' },
      { owner: { kind: 'operator', code: 'revenue:calls' }, amount: new Decimal('3.25'), currency: 'USD' },
    ],
  });
  assert.equal(calls.postings[0]!.balanceAfter.toFixed(), '-3.25');
  // The same posting without recordsPastEvent is a sale to a closed account: refused.
  await assert.rejects(
    postTransaction(t.handle.db, {
      category: 'other_charge',
      description: 'sold after closing',
      allowOverdraft: true,
      postings: [
        { owner: { kind: 'customer', id: tenant.customer.id }, amount: new Decimal('-1'), currency: 'USD' },
        { owner: { kind: 'operator', code: 'revenue:other' }, amount: new Decimal('1'), currency: 'USD' },
      ],
    }),
    (error: unknown) => error instanceof DomainError && error.kind === 'conflict',
  );
  assert.deepEqual(await tenantBalances(t, tenant), ['10', '-3.25']);
});
