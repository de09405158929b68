import assert from 'node:assert/strict';
import { balanceOf as ledgerBalance } from '../src/modules/ledger/accounts.js';
import type { PaymentContext } from '../src/modules/payments/transactions.js';
import { Decimal } from '../src/money/index.js';
import type { TestApp } from './helpers/app.js';

/** Shared by the gateway adapter suites (Stripe, PayPal, Moneris) that run against local fakes. */
export const CARD = { exp_month: 12, exp_year: 2035, cvv: '123', cardholder_name: 'Ada Lovelace' };

export async function created(t: TestApp, url: string, body: Record<string, unknown>) {
  const res = await t.request('POST', url, { body });
  assert.equal(res.status, 201, `${url}: ${res.text}`);
  return res.body.data;
}

export async function balanceOf(t: TestApp, customerId: string): Promise<string> {
  return (await ledgerBalance(t.handle.db, customerId)).toFixed();
}

/** How much the balance moved since `before`, exactly ("12.5"). */
export async function movedSince(t: TestApp, customerId: string, before: string): Promise<string> {
  return new Decimal(await balanceOf(t, customerId)).minus(before).toFixed();
}

/** The services' context on a clock `secondsAhead` in the future (reconciliation waits 60 s). */
export const contextAhead = (t: TestApp, secondsAhead: number): PaymentContext => ({
  db: t.handle.db,
  secrets: { key: t.config.secretsKey, isDefault: t.config.secretsKeyIsDefault },
  now: () => new Date(Date.now() + secondsAhead * 1000),
});

export async function transactionRow(t: TestApp, id: string) {
  return t.handle.db
    .selectFrom('payment_transactions')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}
