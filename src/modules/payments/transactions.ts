import type { Db } from '../../db/index.js';
import { conflict, DomainError, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import { Decimal, formatAmount } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import { visibleCustomers } from '../accounts/customers.js';
import { balanceOf } from '../ledger/accounts.js';
import { closedAccount, settlesBalance } from '../ledger/posting.js';
import { currencyCode, paymentAmount } from './amounts.js';
import { type CardInput, checkCard } from './card.js';
import { type CustomerRef, resolveCustomer } from './customer-ref.js';
import { defaultGateway, type GatewayRow, getGateway, type SecretsKey } from './gateway-configs.js';
import { adapterFor, gatewayKey } from './gateways/index.js';
import type { BankInput, GatewayAdapter, GatewayAnswer, PaymentSource } from './gateways/types.js';
import { checkBank, getProfile } from './profiles.js';
import {
  applyAnswer,
  lockPayment,
  recorded,
  refreshPayment,
  type TransactionRow,
  transactionsOf,
} from './settle.js';
import { decide, type Refusal, type TransactionKind, viewPayment } from './state-machine.js';

/**
 * Card and bank transactions. Each one is recorded as `unknown` before the gateway is called
 * (so a crash mid-call leaves something for reconciliation to settle), the gateway answers
 * outside any database transaction, and the answer is applied by settle.ts.
 */
export interface PaymentContext {
  db: Db;
  secrets: SecretsKey;
  now: () => Date;
}

export type OpeningKind = 'authorize' | 'purchase' | 'credit';

export interface StartInput extends CustomerRef {
  kind: OpeningKind;
  method: 'card' | 'bank';
  amount: string | number;
  currency: string;
  profile_id?: string;
  card?: CardInput;
  bank?: BankInput;
  description?: string;
  /** The client's Idempotency-Key, forwarded to the gateway. */
  idempotencyKey?: string;
}

interface Source {
  source: PaymentSource;
  gateway: GatewayRow | null;
  profileId: string | null;
}

async function sourceOf(
  ctx: PaymentContext,
  customerId: string,
  currency: string,
  input: StartInput,
): Promise<Source> {
  if (input.profile_id) {
    const profile = await getProfile(ctx.db, customerId, input.profile_id);
    if (profile.kind !== input.method)
      throw invalid(
        `Profile ${profile.id} is a ${profile.kind} profile, not a ${input.method}`,
        'profile_id',
      );
    if (profile.currency !== currency) {
      throw invalid(`Profile ${profile.id} pays in ${profile.currency}, not ${currency}`, 'currency');
    }
    const gateway = profile.gateway_id ? await getGateway(ctx.db, profile.gateway_id) : null;
    return { source: { kind: 'token', token: profile.token }, gateway, profileId: profile.id };
  }
  const gateway = await defaultGateway(ctx.db, currency);
  if (input.method === 'card') {
    if (!input.card)
      throw invalid("Missing required parameter 'card_number' (or 'profile_id')", 'card_number');
    checkCard(input.card, ctx.now());
    return { source: { kind: 'card', card: input.card }, gateway, profileId: null };
  }
  if (!input.bank) throw invalid("Missing required parameter 'profile_id' (a bank profile)", 'profile_id');
  checkBank(input.bank);
  return { source: { kind: 'bank', bank: input.bank }, gateway, profileId: null };
}

function gatewayCall(adapter: GatewayAdapter, kind: OpeningKind, method: 'card' | 'bank') {
  if (method === 'bank') return kind === 'credit' ? adapter.bankCredit : adapter.bankDebit;
  return { authorize: adapter.authorize, purchase: adapter.purchase, credit: adapter.credit }[kind];
}

/** authorize, charge (purchase) or credit: opens a new payment. */
export async function startPayment(
  ctx: PaymentContext,
  principal: Principal,
  input: StartInput,
): Promise<TransactionRow> {
  const customer = await resolveCustomer(ctx.db, principal, input);
  const currency = currencyCode(input.currency);
  if (currency !== customer.currency) {
    throw invalid(
      `The customer's balance is in ${customer.currency}; cannot take a payment in ${currency}`,
      'currency',
    );
  }
  const amount = paymentAmount(input.amount, currency);
  const { source, gateway, profileId } = await sourceOf(ctx, customer.id, currency, input);
  // What the payment will do to the balance once it succeeds: a credit gives money back.
  await checkBalanceEffect(ctx.db, customer, input.kind === 'credit' ? amount.negated() : amount);
  // Before anything is written: a gateway that cannot take this payment refuses it with nothing left behind.
  const adapter = adapterFor(gateway, ctx.secrets);
  const row = await ctx.db.transaction().execute(async (trx) => {
    const payment = await trx
      .insertInto('payments')
      .values({
        id: newId('payment'),
        customer_id: customer.id,
        profile_id: profileId,
        gateway_id: gateway?.id ?? null,
        method: input.method,
        currency,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return insertInFlight(trx, {
      paymentId: payment.id,
      customerId: customer.id,
      kind: input.kind,
      amount,
      currency,
      gatewayKey: gatewayKey(gateway),
      description: input.description,
      clientKey: input.idempotencyKey,
    });
  });
  const call = gatewayCall(adapter, input.kind, input.method);
  const answer = await call({
    amount,
    currency,
    source,
    idempotencyKey: row.gateway_request_key!,
    description: input.description,
  }).catch(
    (error: unknown) =>
      ({
        status: 'unknown',
        reference: null,
        errorCode: 'no_answer',
        message: (error as Error).message,
      }) as GatewayAnswer,
  );
  return applyAnswer(ctx.db, row.id, answer);
}

export interface InFlightInput {
  paymentId: string;
  customerId: string;
  kind: TransactionKind;
  amount: Decimal;
  currency: string;
  gatewayKey: string;
  description?: string;
  /** The client's Idempotency-Key, when it sent one. */
  clientKey?: string;
  /** Known up front for payments reported by the gateway itself (PayPal, third-party). */
  gatewayReference?: string;
  reference?: string;
}

/**
 * Writes a transaction as `unknown` before anything is asked of the gateway. Its gateway
 * request key is the client's key when it sent one (a retry is then one charge at the gateway
 * too), else our id; it is stored so reconciliation can find an unanswered call by it.
 */
export async function insertInFlight(trx: Db, input: InFlightInput): Promise<TransactionRow> {
  const id = newId('paymentTransaction');
  const row = await trx
    .insertInto('payment_transactions')
    .values({
      id,
      payment_id: input.paymentId,
      customer_id: input.customerId,
      kind: input.kind,
      amount: formatAmount(input.amount),
      currency: input.currency,
      status: 'unknown',
      gateway_key: input.gatewayKey,
      gateway_reference: input.gatewayReference ?? null,
      gateway_request_key: input.clientKey ? `${input.kind}:${input.clientKey}` : id,
      reference: input.reference ?? null,
      description: input.description ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await refreshPayment(trx, input.paymentId);
  return row;
}

/**
 * Checked before the gateway is asked, since the ledger records whatever the gateway did (the
 * money has moved by then; settle.ts). `delta` is what the payment does to the balance: money
 * going back to the customer (negative) must be covered by its balance, above its credit limit;
 * and a closed customer may only settle its balance (docs/ledger.md, "Closed accounts"): pay off
 * its debt, or be refunded its credit, up to zero and no further.
 */
async function checkBalanceEffect(
  db: Db,
  customer: { id: string; credit_limit: string; status: string },
  delta: Decimal,
): Promise<void> {
  if (delta.gt(0) && customer.status !== 'closed') return;
  const balance = await balanceOf(db, customer.id);
  if (customer.status === 'closed' && !settlesBalance(balance, delta)) {
    throw closedAccount({
      owner_kind: 'customer',
      owner_id: customer.id,
      before: balance.toFixed(),
      after: balance.plus(delta).toFixed(),
    });
  }
  if (balance.plus(delta).lessThan(customer.credit_limit)) {
    throw new DomainError(
      'insufficient_funds',
      `The customer's balance ${formatAmount(balance)} does not cover giving back ${formatAmount(delta.negated())}`,
      'amount',
    );
  }
}

const REFUSAL_MESSAGES: Record<Refusal, { message: string; param: string; kind: 'invalid' | 'conflict' }> = {
  amount_not_positive: { message: 'amount must be greater than 0', param: 'amount', kind: 'invalid' },
  payment_already_started: {
    message: 'The payment has already started',
    param: 'transaction_id',
    kind: 'conflict',
  },
  payment_failed: {
    message: 'The payment failed; nothing can follow it',
    param: 'transaction_id',
    kind: 'conflict',
  },
  payment_voided: {
    message: 'The payment was voided; nothing can follow a void',
    param: 'transaction_id',
    kind: 'conflict',
  },
  payment_credited: {
    message: 'A credit cannot be captured, voided or refunded',
    param: 'transaction_id',
    kind: 'conflict',
  },
  transaction_in_flight: {
    message: 'A transaction of this payment is still pending; try again once it settles',
    param: 'transaction_id',
    kind: 'conflict',
  },
  not_authorized: {
    message: 'The payment has no authorization to settle',
    param: 'transaction_id',
    kind: 'conflict',
  },
  capture_exceeds_authorized: {
    message: 'amount is more than what is left of the authorization',
    param: 'amount',
    kind: 'invalid',
  },
  nothing_captured: {
    message: 'Nothing was captured on this payment: void the authorization instead',
    param: 'transaction_id',
    kind: 'conflict',
  },
  refund_exceeds_captured: {
    message: 'amount is more than what is left to refund of the captured total',
    param: 'amount',
    kind: 'invalid',
  },
  void_after_capture: {
    message: 'The payment has been captured; refund it instead of voiding',
    param: 'transaction_id',
    kind: 'conflict',
  },
  void_not_authorized: {
    message: 'Only an authorization can be voided',
    param: 'transaction_id',
    kind: 'conflict',
  },
};

function refusalError(refusal: Refusal): DomainError {
  const { message, param, kind } = REFUSAL_MESSAGES[refusal];
  return kind === 'invalid' ? invalid(message, param) : conflict(message, param);
}

/** A transaction the principal may see, by id; any other is 404. */
export async function getVisibleTransaction(
  db: Db,
  principal: Principal,
  transactionId: string,
): Promise<TransactionRow> {
  const row = await db
    .selectFrom('payment_transactions')
    .selectAll()
    .where('id', '=', transactionId)
    .where('customer_id', 'in', visibleCustomers(db, principal).clearSelect().select('id'))
    .executeTakeFirst();
  if (!row) throw notFound(`Transaction ${transactionId}`);
  return row;
}

export interface FollowUpInput {
  transaction_id: string;
  kind: 'capture' | 'void' | 'refund';
  amount?: string | number;
  idempotencyKey?: string;
}

/** What is left to capture or refund: the default amount of a follow-up without one. */
function remaining(view: ReturnType<typeof viewPayment>, kind: FollowUpInput['kind']): Decimal {
  if (kind === 'capture') return view.authorized.minus(view.captured).minus(view.capturing);
  return view.captured.minus(view.refunded).minus(view.refunding);
}

/** settle (capture), void, refund: a follow-up on an existing payment, checked by the state machine. */
export async function followUp(
  ctx: PaymentContext,
  principal: Principal,
  input: FollowUpInput,
): Promise<TransactionRow> {
  const target = await getVisibleTransaction(ctx.db, principal, input.transaction_id);
  const payment = await ctx.db
    .selectFrom('payments')
    .selectAll()
    .where('id', '=', target.payment_id)
    .executeTakeFirstOrThrow();
  // Refused before anything is written: an in-flight row left by a refusal would reserve the
  // amount for ever (reconciliation asks card and bank gateways only) and block real refunds.
  if (payment.method !== 'card' && payment.method !== 'bank') {
    throw conflict(
      `A ${payment.method} payment was not taken by a card or bank gateway: it cannot be settled, voided or refunded here`,
      'transaction_id',
    );
  }
  const gateway = payment.gateway_id ? await getGateway(ctx.db, payment.gateway_id) : null;
  const adapter = adapterFor(gateway, ctx.secrets);
  const requested = input.amount === undefined ? undefined : paymentAmount(input.amount, payment.currency);
  const { row, references } = await ctx.db.transaction().execute(async (trx) => {
    await lockPayment(trx, payment.id);
    const history = await transactionsOf(trx, payment.id);
    const view = viewPayment(recorded(history));
    const amount =
      input.kind === 'void' ? remaining(view, 'capture') : (requested ?? remaining(view, input.kind));
    const decision = decide(view, input.kind, amount);
    if (!decision.allowed) {
      // Without an amount, all that is left was asked for: none left is the payment's state
      // (everything captured or refunded, or in flight), not a bad amount.
      if (decision.refusal === 'amount_not_positive' && requested === undefined)
        throw conflict(`Nothing is left to ${input.kind} on this payment`, 'transaction_id');
      throw refusalError(decision.refusal);
    }
    if (input.kind !== 'void') {
      const customer = await trx
        .selectFrom('customers')
        .select(['id', 'credit_limit', 'status'])
        .where('id', '=', payment.customer_id)
        .executeTakeFirstOrThrow();
      await checkBalanceEffect(trx, customer, input.kind === 'refund' ? amount.negated() : amount);
    }
    const inserted = await insertInFlight(trx, {
      paymentId: payment.id,
      customerId: payment.customer_id,
      kind: input.kind,
      amount,
      currency: payment.currency,
      gatewayKey: history[0]!.gateway_key,
      clientKey: input.idempotencyKey,
    });
    return { row: inserted, references: referencesOf(history) };
  });
  const request = {
    reference: references.opening ?? '',
    captureReference: references.lastCapture,
    amount: new Decimal(row.amount),
    currency: row.currency,
    idempotencyKey: row.gateway_request_key!,
  };
  const call = { capture: adapter.capture, void: adapter.void, refund: adapter.refund }[input.kind];
  const answer = await call(request).catch(
    (error: unknown) =>
      ({
        status: 'unknown',
        reference: null,
        errorCode: 'no_answer',
        message: (error as Error).message,
      }) as GatewayAnswer,
  );
  return applyAnswer(ctx.db, row.id, answer);
}

/** The gateway references a follow-up needs: the opening transaction's and the latest capture's. */
function referencesOf(history: TransactionRow[]) {
  const successful = history.filter((t) => t.status === 'success');
  const opening = successful.find((t) => t.kind === 'authorize' || t.kind === 'purchase');
  const lastCapture = successful.filter((t) => t.kind === 'capture' || t.kind === 'purchase').at(-1);
  return { opening: opening?.gateway_reference ?? null, lastCapture: lastCapture?.gateway_reference ?? null };
}

export interface TransactionFilter extends CustomerRef {
  limit: number;
  startingAfter?: string;
  status?: string;
  paymentId?: string;
}

/** Transactions of one customer (seed 004: "for a given contact"), or all visible ones. */
export async function listTransactions(db: Db, principal: Principal, filter: TransactionFilter) {
  let query = db.selectFrom('payment_transactions').selectAll();
  if (filter.customer_id || filter.account_number || principal.role === 'customer') {
    const customer = await resolveCustomer(db, principal, filter);
    query = query.where('customer_id', '=', customer.id);
  } else {
    query = query.where('customer_id', 'in', visibleCustomers(db, principal).clearSelect().select('id'));
  }
  if (filter.status) query = query.where('status', '=', filter.status as TransactionRow['status']);
  if (filter.paymentId) query = query.where('payment_id', '=', filter.paymentId);
  if (filter.startingAfter) query = query.where('id', '>', filter.startingAfter);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}
