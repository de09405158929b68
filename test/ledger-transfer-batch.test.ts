import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLAIM_NOT_HELD, type EffectClaim } from '../src/db/effect-claims.js';
import { DomainError } from '../src/errors.js';
import { transferItem } from '../src/modules/ledger/operations.js';
import {
  postClaimedTransferBatch,
  postTransferBatch,
  type TransferItem,
  type TransferOutcome,
  transferAlone,
} from '../src/modules/ledger/transfer-batcher.js';
import type { Principal } from '../src/tenancy.js';
import type { TestApp } from './helpers/app.js';
import {
  makeTenant,
  type Tenant,
  tenantBalances,
  tenantTransactionCount,
  withVerifiedLedgerApp,
} from './ledger-fixtures.js';

/**
 * Group commit of fund transfers (migrations/0016, src/modules/ledger/transfer-batcher.ts): each
 * postTransferBatch call is one ledger_transfer_funds_batch() statement, exactly what the batcher
 * sends for the transfers that arrive together. On both databases.
 */
let t: TestApp;
withVerifiedLedgerApp((app) => {
  t = app;
});

const partnerOf = (tenant: Tenant): Principal => ({
  keyId: `key-${tenant.partner.id}`,
  role: 'partner',
  partnerId: tenant.partner.id,
  customerId: null,
});

function transfer(tenant: Tenant, amount: string, referenceKey: string | null = null): TransferItem {
  return transferItem(partnerOf(tenant), {
    accountNumber: tenant.customer.account_number,
    amount,
    description: `move ${amount}`,
    referenceKey,
  });
}

/** A tenant whose customer already has a balance account (the batch statement's common path). */
async function fundedTenant(partnerFunds: string, customerLimit = '0'): Promise<Tenant> {
  const tenant = await makeTenant(t, { partnerFunds, customerLimit });
  await transferAlone(t.handle.db, transfer(tenant, '0.01'));
  return tenant;
}

function fulfilled(result: PromiseSettledResult<TransferOutcome>): TransferOutcome {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

test('one batch: the transfers that fit post in order, those that do not are refused alone', async () => {
  const tenant = await fundedTenant('10.01');
  // Partner holds 10 after the first cent: 3 + 3 + 3 fit, the fourth 3 does not, the 1 after it does.
  const results = await postTransferBatch(t.handle.db, [
    transfer(tenant, '3'),
    transfer(tenant, '3'),
    transfer(tenant, '3'),
    transfer(tenant, '3'),
    transfer(tenant, '1'),
  ]);
  assert.deepEqual(
    results.map((result) => result.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  );
  const refusal = (results[3] as PromiseRejectedResult).reason;
  assert.ok(refusal instanceof DomainError);
  assert.equal(refusal.kind, 'insufficient_funds');
  assert.match(refusal.message, /partner .* would go from 1 to -2, below its credit limit 0/);
  // Running balances, in item order, within the one statement.
  const partnerAfter = results
    .filter((result) => result.status === 'fulfilled')
    .map((result) => fulfilled(result).posted.postings[0]!.balanceAfter.toFixed());
  assert.deepEqual(partnerAfter, ['7', '4', '1', '0']);
  // One statement, one transaction: they share its start time (posted alone they would not).
  const createdAt = new Set(
    results
      .filter((result) => result.status === 'fulfilled')
      .map((result) => fulfilled(result).posted.createdAt.getTime()),
  );
  assert.equal(createdAt.size, 1);
  assert.deepEqual(await tenantBalances(t, tenant), ['0', '10.01']);
  assert.equal(await tenantTransactionCount(t, tenant), 5);
});

test('the refusal a batch gives is the one a transfer alone gives', async () => {
  // The customer holds 0.01 with a limit of −2: moving 2.5 back to the partner would break it.
  const tenant = await fundedTenant('10', '-2');
  const [batched] = await postTransferBatch(t.handle.db, [transfer(tenant, '-2.5')]);
  const alone = await transferAlone(t.handle.db, transfer(tenant, '-2.5')).then(
    () => assert.fail('expected a refusal'),
    (error: unknown) => error,
  );
  assert.equal(batched!.status, 'rejected');
  const reason = (batched as PromiseRejectedResult).reason as DomainError;
  assert.ok(alone instanceof DomainError);
  assert.deepEqual([reason.kind, reason.message, reason.param], [alone.kind, alone.message, alone.param]);
  assert.match(reason.message, /customer .* would go from 0.01 to -2.49, below its credit limit -2/);
});

test('a reference key twice in one batch posts once; the second answers the first transaction', async () => {
  const tenant = await fundedTenant('100');
  const results = await postTransferBatch(t.handle.db, [
    transfer(tenant, '5', 'batch-dup-1'),
    transfer(tenant, '7'),
    transfer(tenant, '5', 'batch-dup-1'),
  ]);
  const [first, other, second] = results.map(fulfilled);
  assert.equal(first!.posted.replayed, false);
  assert.equal(other!.posted.replayed, false);
  assert.equal(second!.posted.replayed, true);
  assert.equal(second!.posted.id, first!.posted.id);
  // Deduplicated by the batch statement itself, not by posting one by one after a failure.
  assert.equal(first!.posted.createdAt.getTime(), other!.posted.createdAt.getTime());
  assert.equal(
    second!.posted.postings[1]!.balanceAfter.toFixed(),
    first!.posted.postings[1]!.balanceAfter.toFixed(),
  );
  assert.deepEqual(await tenantBalances(t, tenant), ['87.99', '12.01']);
});

test('a reference key posted by an earlier batch (or alone) is replayed, never posted again', async () => {
  const tenant = await fundedTenant('100');
  const [first] = (await postTransferBatch(t.handle.db, [transfer(tenant, '4', 'across-1')])).map(fulfilled);
  await transferAlone(t.handle.db, transfer(tenant, '6', 'alone-1'));
  const again = (
    await postTransferBatch(t.handle.db, [
      transfer(tenant, '4', 'across-1'),
      transfer(tenant, '6', 'alone-1'),
    ])
  ).map(fulfilled);
  assert.deepEqual(
    again.map((outcome) => outcome.posted.replayed),
    [true, true],
  );
  assert.equal(again[0]!.posted.id, first!.posted.id);
  assert.deepEqual(await tenantBalances(t, tenant), ['89.99', '10.01']);
  assert.equal(await tenantTransactionCount(t, tenant), 3);
});

test('items the batch statement does not take are posted alone: new accounts, unknown customers', async () => {
  const fresh = await makeTenant(t, { partnerFunds: '20' });
  const funded = await fundedTenant('20');
  const unknown = transferItem(partnerOf(funded), {
    accountNumber: 'no-such-account',
    amount: '1',
    description: 'nobody',
  });
  const results = await postTransferBatch(t.handle.db, [
    transfer(fresh, '2'),
    unknown,
    transfer(funded, '3'),
  ]);
  assert.equal(fulfilled(results[0]!).posted.postings[1]!.balanceAfter.toFixed(), '2');
  assert.equal(results[1]!.status, 'rejected');
  assert.equal(((results[1] as PromiseRejectedResult).reason as DomainError).kind, 'not_found');
  assert.equal(fulfilled(results[2]!).posted.postings[1]!.balanceAfter.toFixed(), '3.01');
  // Another partner's customer is not found either (scope), and moves nothing.
  const foreign = transferItem(partnerOf(fresh), {
    accountNumber: funded.customer.account_number,
    amount: '1',
    description: 'not mine',
  });
  const [refused] = await postTransferBatch(t.handle.db, [foreign]);
  assert.equal(((refused as PromiseRejectedResult).reason as DomainError).kind, 'not_found');
  assert.deepEqual(await tenantBalances(t, funded), ['16.99', '3.01']);
});

test('a batch whose statement fails writes nothing and its items are posted one by one', async () => {
  const tenant = await fundedTenant('50');
  const [posted] = (await postTransferBatch(t.handle.db, [transfer(tenant, '1')])).map(fulfilled);
  // The second item reuses a transaction id: the whole statement fails on the primary key.
  const clash = transfer(tenant, '2');
  clash.header.id = posted!.posted.id;
  const results = await postTransferBatch(t.handle.db, [transfer(tenant, '3'), clash, transfer(tenant, '4')]);
  assert.deepEqual(
    results.map((result) => result.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.deepEqual(await tenantBalances(t, tenant), ['41.99', '8.01']);
  assert.equal(await tenantTransactionCount(t, tenant), 4);
});

test('concurrent batches over the same accounts in opposite orders never deadlock', async () => {
  const a = await fundedTenant('1000', '-1000');
  const b = await fundedTenant('1000', '-1000');
  const batch = (i: number) => {
    const items = [transfer(a, '1'), transfer(b, '-1'), transfer(a, '-2'), transfer(b, '2')];
    return postTransferBatch(t.handle.db, i % 2 ? items : items.reverse());
  };
  const all = await Promise.all(Array.from({ length: 30 }, (_, i) => batch(i)));
  for (const results of all) results.forEach(fulfilled);
  // Each batch moves a: 1 − 2 = −1 to the customer, b: −1 + 2 = +1.
  assert.deepEqual(await tenantBalances(t, a), ['1029.99', '-29.99']);
  assert.deepEqual(await tenantBalances(t, b), ['969.99', '30.01']);
});

for (const path of ['in a batch', 'alone'] as const) {
  test(`a transfer posted ${path} is dated when applied: a statement cut at any instant stays within the limit`, async () => {
    // The customer holds 0.01 (limit 0). Its transfer of 10.01 back to the partner is asked for,
    // then waits (for the batch ahead of it, or for locks) while a credit of 10 is applied; it
    // fits only because of that credit. Dated when asked for, it came before the credit in
    // time and after it in application order: a statement cut between showed −10.
    const tenant = await fundedTenant('100');
    const waiting = transfer(tenant, '-10.01');
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
    await pause();
    const between = new Date();
    await pause();
    const credit = await t.request('POST', `/api/v1/customers/${tenant.customer.id}/adjustments`, {
      body: { amount: '-10', description: 'credit applied first' },
    });
    assert.equal(credit.status, 201, credit.text);
    const posted =
      path === 'alone'
        ? await transferAlone(t.handle.db, waiting)
        : fulfilled((await postTransferBatch(t.handle.db, [waiting]))[0]!);
    assert.equal(posted.posted.postings[1]!.balanceAfter.toFixed(), '0');
    const statement = await t.request(
      'GET',
      `/api/v1/customer/balance?account_number=${tenant.customer.account_number}&to=${between.toISOString()}`,
    );
    assert.equal(statement.status, 200, statement.text);
    assert.equal(statement.body.data.closing_balance, '0.01');
    assert.ok(
      posted.posted.effectiveAt.getTime() >= new Date(credit.body.data.effective_at).getTime(),
      `dated ${posted.posted.effectiveAt.toISOString()}, before the credit applied ahead of it (${credit.body.data.effective_at})`,
    );
    // In application order, dates never go back.
    const entries = await t.request('GET', `/api/v1/customers/${tenant.customer.id}/transactions?limit=100`);
    const dates = entries.body.data.map((entry: { effective_at: string }) => entry.effective_at);
    assert.deepEqual(dates, [...dates].sort(), JSON.stringify(entries.body.data));
    assert.equal(dates.at(-1), posted.posted.effectiveAt.toISOString());
  });
}

/** PUT /partner/funds from the tenant's partner to its customer, under an Idempotency-Key. */
const putFunds = (tenant: Tenant, amount: string, description: string, idempotencyKey: string) =>
  t.request('PUT', '/api/v1/partner/funds', {
    key: tenant.partnerKey,
    body: { account_number: tenant.customer.account_number, amount, description },
    headers: { 'idempotency-key': idempotencyKey },
  });

test('transfers over HTTP at once: exactly those that fit pass, whatever the batches', async () => {
  const tenant = await fundedTenant('10.01');
  // Partner holds 10: 40 concurrent transfers of 0.3 → 33 fit (9.90), 7 are refused.
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => putFunds(tenant, '0.3', `at once ${i}`, `at-once-${i}`)),
  );
  const statuses = results.map((res) => res.status);
  assert.equal(statuses.filter((status) => status === 200).length, 33, JSON.stringify(statuses));
  assert.equal(statuses.filter((status) => status === 402).length, 7);
  assert.deepEqual(await tenantBalances(t, tenant), ['0.1', '9.91']);
});

test('the same Idempotency-Key sent several times at once moves money once; the others wait or replay', async () => {
  const tenant = await fundedTenant('100');
  const send = (amount: string) => putFunds(tenant, amount, 'same key', 'same-key-at-once');
  // Claimed in one batch, in whatever order the requests arrive: one wins the key and moves
  // money; a copy of the winner is 409 while it runs or its stored answer after; any other
  // request under the key is 409.
  const results = await Promise.all([send('5'), send('5'), send('5'), send('6')]);
  const winners = results.filter((res) => res.status === 200 && res.headers['idempotency-hit'] === undefined);
  assert.equal(winners.length, 1, JSON.stringify(results.map((res) => res.status)));
  const first = winners[0]!;
  const won = results.indexOf(first) < 3 ? '5' : '6';
  for (const [index, res] of results.entries()) {
    if (res === first) continue;
    const copy = (index < 3 ? '5' : '6') === won;
    if (copy && res.status === 200) {
      assert.equal(res.headers['idempotency-hit'], 'true');
      assert.equal(res.body.data.transaction_id, first.body.data.transaction_id);
    } else assert.equal(res.status, 409);
  }
  assert.deepEqual(await tenantBalances(t, tenant), won === '5' ? ['94.99', '5.01'] : ['93.99', '6.01']);
  const replay = await send(won);
  assert.equal(replay.headers['idempotency-hit'], 'true');
  assert.equal(replay.body.data.transaction_id, first.body.data.transaction_id);
});

test('a retry sent the moment its answer arrives replays it (the answer is stored after the reply)', async () => {
  const tenant = await fundedTenant('100');
  // dedupesOwnEffect routes store their answer after replying (decision 0023): each retry below
  // may reach the claim before that store commits, and must still get the replay, never a 409.
  for (let i = 0; i < 40; i++) {
    const send = () => putFunds(tenant, '1', `retried ${i}`, `retried-${i}`);
    const first = await send();
    const retry = await send();
    assert.equal(first.status, 200, first.text);
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.headers['idempotency-hit'], 'true');
    assert.equal(retry.text, first.text);
  }
  assert.deepEqual(await tenantBalances(t, tenant), ['59.99', '40.01']);
});

test('a transfer reusing another transfer’s Idempotency-Key is 409 and moves nothing', async () => {
  const tenant = await fundedTenant('100');
  const send = (amount: string) => putFunds(tenant, amount, 'reused key', 'reused-key');
  assert.equal((await send('5')).status, 200);
  const reused = await send('7');
  assert.equal(reused.status, 409, reused.text);
  assert.equal(reused.body.error.type, 'idempotency');
  assert.match(reused.text, /different request/);
  assert.deepEqual(await tenantBalances(t, tenant), ['94.99', '5.01']);
  const replayed = await send('5');
  assert.equal(replayed.status, 200);
  assert.equal(replayed.headers['idempotency-hit'], 'true');
});

test('a retry of a posted transfer is answered from its ledger transaction, as it was first, after the limit changed', async () => {
  const tenant = await fundedTenant('100');
  const send = () => putFunds(tenant, '5', 'limit changes later', 'limit-changes-later');
  const first = await send();
  assert.equal(first.status, 200, first.text);
  assert.equal(first.body.data.customer_credit_limit, '0');
  // The claim was committed with the transfer as its answer (decision 0045): nothing stored.
  const row = await t.handle.db
    .selectFrom('idempotency_keys')
    .select(['state', 'body'])
    .where('key', '=', 'limit-changes-later')
    .executeTakeFirstOrThrow();
  assert.deepEqual(row, { state: 'replay', body: null });
  const changed = await t.request('PATCH', `/api/v1/customers/${tenant.customer.id}`, {
    body: { credit_limit: '-40' },
  });
  assert.equal(changed.status, 200, changed.text);
  const retry = await send();
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.headers['idempotency-hit'], 'true');
  assert.equal(retry.text, first.text);
  // A different request under the key is still 409 and moves nothing.
  const other = await putFunds(tenant, '6', 'limit changes later', 'limit-changes-later');
  assert.equal(other.status, 409, other.text);
  assert.deepEqual(await tenantBalances(t, tenant), ['94.99', '5.01']);
  assert.equal(await tenantTransactionCount(t, tenant), 2);
});

// Idempotency-Key claims written by the batch statement itself (migrations/0025, decision 0025).

const claimOf = (key: string, fingerprint = `fp-${key}`): EffectClaim => ({
  scope: 'claims-scope',
  key,
  fingerprint,
  held: false,
});

async function claimRow(key: string) {
  return t.handle.db
    .selectFrom('idempotency_keys')
    .select(['fingerprint', 'state'])
    .where('scope', '=', 'claims-scope')
    .where('key', '=', key)
    .executeTakeFirst();
}

test('claims in a batch: the first item of a key posts and holds it; a twin, or a key already claimed, moves nothing', async () => {
  const tenant = await fundedTenant('100');
  await t.handle.db
    .insertInto('idempotency_keys')
    .values({ scope: 'claims-scope', key: 'claimed-before', fingerprint: 'fp-other', state: 'running' })
    .execute();
  const claims = [claimOf('twin', 'fp-first'), null, claimOf('twin', 'fp-second'), claimOf('claimed-before')];
  const results = await postClaimedTransferBatch(
    t.handle.db,
    [transfer(tenant, '5'), transfer(tenant, '7'), transfer(tenant, '11'), transfer(tenant, '13')].map(
      (item, index) => ({ item, claim: claims[index]! }),
    ),
  );
  const values = results.map((result) => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  });
  assert.notEqual(values[0], CLAIM_NOT_HELD);
  assert.notEqual(values[1], CLAIM_NOT_HELD);
  assert.equal(values[2], CLAIM_NOT_HELD);
  assert.equal(values[3], CLAIM_NOT_HELD);
  assert.deepEqual(
    claims.map((claim) => claim?.held ?? null),
    [true, null, false, false],
  );
  // The first item posted: its claim is committed as its answer (migrations/0027), and nothing
  // is to be stored under it. The twin's claim is the first item's; the key claimed before
  // keeps its own row.
  assert.equal(claims[0]!.answeredByEffect, true);
  assert.deepEqual(await claimRow('twin'), { fingerprint: 'fp-first', state: 'replay' });
  assert.deepEqual(await claimRow('claimed-before'), { fingerprint: 'fp-other', state: 'running' });
  // Only 5 and 7 moved.
  assert.deepEqual(await tenantBalances(t, tenant), ['87.99', '12.01']);
});

test('a refused item keeps its claim (its 402 is the key’s answer); a failed statement writes no claim', async () => {
  const tenant = await fundedTenant('10.01');
  const refusedClaim = claimOf('refused-1');
  const [refused] = await postClaimedTransferBatch(t.handle.db, [
    { item: transfer(tenant, '50'), claim: refusedClaim },
  ]);
  assert.equal(refused!.status, 'rejected');
  assert.equal(((refused as PromiseRejectedResult).reason as DomainError).kind, 'insufficient_funds');
  assert.equal(refusedClaim.held, true);
  assert.equal(refusedClaim.answeredByEffect, false);
  assert.deepEqual(await claimRow('refused-1'), { fingerprint: 'fp-refused-1', state: 'running' });

  const [posted] = (await postTransferBatch(t.handle.db, [transfer(tenant, '1')])).map(fulfilled);
  const clash = transfer(tenant, '2');
  clash.header.id = posted!.posted.id;
  const failedClaim = claimOf('in-failed-batch');
  const results = await postClaimedTransferBatch(t.handle.db, [
    { item: transfer(tenant, '3'), claim: failedClaim },
    { item: clash, claim: null },
  ]);
  // Nothing of the failed statement stays: the claimed item is handed back unposted (its caller
  // claims the generic way and posts it alone), the other is posted alone.
  const [claimed] = results;
  assert.equal(claimed!.status === 'fulfilled' ? claimed!.value : claimed, CLAIM_NOT_HELD);
  assert.equal(failedClaim.held, false);
  assert.equal(await claimRow('in-failed-batch'), undefined);
  assert.equal(results[1]!.status, 'rejected');
  assert.deepEqual(await tenantBalances(t, tenant), ['9', '1.01']);
});

test('a transfer refused before its batch (a zero amount) is still answered under its Idempotency-Key', async () => {
  const tenant = await fundedTenant('100');
  const send = (amount: string) => putFunds(tenant, amount, 'zero', 'zero-amount');
  const refused = await send('0');
  assert.equal(refused.status, 400, refused.text);
  const again = await send('0');
  assert.equal(again.status, 400);
  assert.equal(again.headers['idempotency-hit'], 'true');
  assert.equal(again.text, refused.text);
  // The key is the refused request's: another body under it is 409 and moves nothing.
  const other = await send('5');
  assert.equal(other.status, 409, other.text);
  assert.deepEqual(await tenantBalances(t, tenant), ['99.99', '0.01']);
});
