import type { Db } from '../../db/index.js';
import { conflict, invalid } from '../../errors.js';
import { newId } from '../../ids.js';
import { type Decimal, formatAmount } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import type { Customer } from '../accounts/customers.js';
import { currencyCode, paymentAmount } from './amounts.js';
import { type CustomerRef, resolveCustomer } from './customer-ref.js';
import type { PaymentMethod } from './schema.js';
import { applyAnswer, lockPayment, recorded, type TransactionRow, transactionsOf } from './settle.js';
import { decide, viewPayment } from './state-machine.js';
import { insertInFlight, type PaymentContext } from './transactions.js';

/**
 * Payments we are told about rather than ask for: money paid elsewhere (seed 004's third-party
 * payments), a PayPal order we captured, a PayPal IPN. The reporter's own id for the money
 * movement is the natural key: (gateway key, kind, gateway reference) is unique, so the same
 * payment reported twice (a repeated IPN, a capture and then its IPN) is recorded and posted once.
 */
export interface ExternalPayment {
  customer: Customer;
  method: Extract<PaymentMethod, 'thirdparty' | 'paypal'>;
  /** 'thirdparty', or the gateway configuration id. */
  gatewayKey: string;
  gatewayId: string | null;
  amount: Decimal;
  currency: string;
  gatewayReference: string;
  reference?: string;
  description?: string;
  /** `pending`: reported but not yet final (a PayPal capture under review); a later report settles it. */
  status?: 'success' | 'pending';
}

async function findReported(
  db: Db,
  gatewayKey: string,
  kind: 'purchase' | 'refund',
  gatewayReference: string,
) {
  return db
    .selectFrom('payment_transactions')
    .selectAll()
    .where('gateway_key', '=', gatewayKey)
    .where('kind', '=', kind)
    .where('gateway_reference', '=', gatewayReference)
    .executeTakeFirst();
}

function sameAmount(existing: TransactionRow, amount: Decimal, what: string): TransactionRow {
  if (formatAmount(existing.amount) !== formatAmount(amount))
    throw conflict(`${what} was already recorded with another amount`, 'reference');
  return existing;
}

/** Records a payment that already happened and tops up the balance; the first report wins. */
export async function recordExternalPayment(
  ctx: PaymentContext,
  input: ExternalPayment,
): Promise<TransactionRow> {
  const what = `Payment '${input.reference ?? input.gatewayReference}'`;
  const existing = await findReported(ctx.db, input.gatewayKey, 'purchase', input.gatewayReference);
  if (existing && existing.status !== 'pending') return sameAmount(existing, input.amount, what);
  const inserted =
    existing ??
    (await ctx.db
      .transaction()
      .execute(async (trx) => {
        const payment = await trx
          .insertInto('payments')
          .values({
            id: newId('payment'),
            customer_id: input.customer.id,
            profile_id: null,
            gateway_id: input.gatewayId,
            method: input.method,
            currency: input.currency,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return insertInFlight(trx, {
          paymentId: payment.id,
          customerId: input.customer.id,
          kind: 'purchase',
          amount: input.amount,
          currency: input.currency,
          gatewayKey: input.gatewayKey,
          gatewayReference: input.gatewayReference,
          reference: input.reference,
          description: input.description,
        });
      })
      .catch(async (error: unknown) => {
        // A concurrent report of the same payment won the unique (gateway, kind, reference) race.
        const winner = await findReported(ctx.db, input.gatewayKey, 'purchase', input.gatewayReference);
        if (winner) return winner;
        throw error;
      }));
  const status = input.status ?? 'success';
  if (inserted.status !== 'unknown' && inserted.status !== 'pending')
    return sameAmount(inserted, input.amount, what);
  sameAmount(inserted, input.amount, what);
  return applyAnswer(ctx.db, inserted.id, { status, reference: input.gatewayReference });
}

export interface ExternalRefund {
  gatewayKey: string;
  /** The reporter's id of the payment being refunded. */
  parentReference: string;
  gatewayReference: string;
  amount: Decimal;
  description?: string;
}

export type RefundOutcome =
  | { outcome: 'refunded'; transaction: TransactionRow }
  | { outcome: 'unknown_parent' | 'refused'; reason: string };

/**
 * Records a refund (or a reversal) that already happened on a reported payment: the balance
 * goes back down. The state machine still checks it: never more than what is left of the payment.
 */
export async function recordExternalRefund(
  ctx: PaymentContext,
  input: ExternalRefund,
): Promise<RefundOutcome> {
  const existing = await findReported(ctx.db, input.gatewayKey, 'refund', input.gatewayReference);
  if (existing) return { outcome: 'refunded', transaction: existing };
  const parent = await findReported(ctx.db, input.gatewayKey, 'purchase', input.parentReference);
  if (!parent) return { outcome: 'unknown_parent', reason: `no payment ${input.parentReference} on record` };
  const inserted = await ctx.db.transaction().execute(async (trx) => {
    await lockPayment(trx, parent.payment_id);
    const view = viewPayment(recorded(await transactionsOf(trx, parent.payment_id)));
    const decision = decide(view, 'refund', input.amount);
    if (!decision.allowed) return decision.refusal;
    return insertInFlight(trx, {
      paymentId: parent.payment_id,
      customerId: parent.customer_id,
      kind: 'refund',
      amount: input.amount,
      currency: parent.currency,
      gatewayKey: input.gatewayKey,
      gatewayReference: input.gatewayReference,
      description: input.description,
    });
  });
  if (typeof inserted === 'string') return { outcome: 'refused', reason: inserted };
  const transaction = await applyAnswer(ctx.db, inserted.id, {
    status: 'success',
    reference: input.gatewayReference,
  });
  return { outcome: 'refunded', transaction };
}

export interface ThirdPartyInput extends CustomerRef {
  amount: string | number;
  currency: string;
  reference: string;
  method: string;
  description?: string;
}

/**
 * Seed 004's payments/thirdparty: a payment made elsewhere (cash, wire, a cheque) is recorded
 * and tops up the balance; no gateway is called. (customer, method, reference) deduplicates:
 * recording the same third-party payment twice returns the first.
 */
export async function recordThirdParty(
  ctx: PaymentContext,
  principal: Principal,
  input: ThirdPartyInput,
): Promise<TransactionRow> {
  const customer = await resolveCustomer(ctx.db, principal, input);
  const currency = currencyCode(input.currency);
  if (currency !== customer.currency) {
    throw invalid(
      `The customer's balance is in ${customer.currency}; cannot record a payment in ${currency}`,
      'currency',
    );
  }
  return recordExternalPayment(ctx, {
    customer,
    method: 'thirdparty',
    gatewayKey: 'thirdparty',
    gatewayId: null,
    amount: paymentAmount(input.amount, currency),
    currency,
    gatewayReference: `${customer.id}:${input.method}:${input.reference}`,
    reference: input.reference,
    description: input.description ?? input.method,
  });
}
