import { Decimal } from '../../money/index.js';

/**
 * The payment state machine (Kill Bill's model), pure: a payment is the ordered list of its
 * transactions, and whether a new transaction is allowed is decided from that list alone.
 *
 *   new ──authorize──▶ authorized ──capture (partial, several, ≤ authorized)──▶ captured
 *    │                     └──void──▶ voided (terminal)
 *    ├──purchase──▶ purchased
 *    └──credit────▶ credited (terminal)
 *   captured | purchased ──refund (partial, several, Σ ≤ captured)──▶ refunded when all is back
 *
 * In-flight transactions (`pending`, `unknown`) reserve their amount: a capture in flight
 * counts against what is left to capture, a refund in flight against what is left to refund,
 * so two concurrent requests can never together exceed the limit. A first transaction that
 * did not succeed (`failed`, `error`) leaves the payment `failed`, and nothing may follow.
 */

export const TRANSACTION_KINDS = ['authorize', 'capture', 'purchase', 'void', 'refund', 'credit'] as const;
export type TransactionKind = (typeof TRANSACTION_KINDS)[number];

/**
 * success: done. pending: the gateway accepted it and will tell later. failed: declined.
 * error: the gateway said it did not happen. unknown: no answer (a timeout); must be reconciled.
 */
export const TRANSACTION_STATUSES = ['success', 'pending', 'failed', 'error', 'unknown'] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

export type PaymentState =
  | 'new'
  | 'pending'
  | 'authorized'
  | 'captured'
  | 'purchased'
  | 'refunded'
  | 'voided'
  | 'credited'
  | 'failed';

export interface RecordedTransaction {
  kind: TransactionKind;
  status: TransactionStatus;
  amount: Decimal;
}

export interface PaymentView {
  state: PaymentState;
  authorized: Decimal;
  captured: Decimal;
  refunded: Decimal;
  /** Captures and refunds still in flight (pending or unknown). */
  capturing: Decimal;
  refunding: Decimal;
  /** An opening transaction (authorize/purchase/credit) or a void still in flight. */
  blockingInFlight: boolean;
}

/** Why a transaction is refused: stable names, turned into messages by the service. */
export type Refusal =
  | 'amount_not_positive'
  | 'payment_already_started'
  | 'payment_failed'
  | 'payment_voided'
  | 'payment_credited'
  | 'transaction_in_flight'
  | 'not_authorized'
  | 'capture_exceeds_authorized'
  | 'nothing_captured'
  | 'refund_exceeds_captured'
  | 'void_after_capture'
  | 'void_not_authorized';

export type Decision = { allowed: true } | { allowed: false; refusal: Refusal };

const ZERO = new Decimal(0);
const OPENING: readonly TransactionKind[] = ['authorize', 'purchase', 'credit'];
const inFlight = (status: TransactionStatus) => status === 'pending' || status === 'unknown';

function openingState(opening: RecordedTransaction | undefined): PaymentState {
  if (!opening) return 'new';
  if (inFlight(opening.status)) return 'pending';
  if (opening.status !== 'success') return 'failed';
  return ({ authorize: 'authorized', purchase: 'purchased', credit: 'credited' } as const)[
    opening.kind as 'authorize' | 'purchase' | 'credit'
  ];
}

/** Folds a payment's transactions (in order) into its state and running totals. */
export function viewPayment(transactions: readonly RecordedTransaction[]): PaymentView {
  const opening = transactions.find((t) => OPENING.includes(t.kind));
  let state = openingState(opening);
  const view = { authorized: ZERO, captured: ZERO, refunded: ZERO, capturing: ZERO, refunding: ZERO };
  let blockingInFlight = opening ? inFlight(opening.status) : false;
  if (opening?.status === 'success' && opening.kind === 'authorize') view.authorized = opening.amount;
  if (opening?.status === 'success' && opening.kind === 'purchase') view.captured = opening.amount;
  for (const t of transactions) {
    if (t === opening) continue;
    const done = t.status === 'success';
    if (t.kind === 'capture') {
      if (done) view.captured = view.captured.plus(t.amount);
      else if (inFlight(t.status)) view.capturing = view.capturing.plus(t.amount);
    } else if (t.kind === 'refund') {
      if (done) view.refunded = view.refunded.plus(t.amount);
      else if (inFlight(t.status)) view.refunding = view.refunding.plus(t.amount);
    } else if (t.kind === 'void') {
      if (done) state = 'voided';
      else if (inFlight(t.status)) blockingInFlight = true;
    }
  }
  if (state === 'authorized' && view.captured.greaterThan(0)) state = 'captured';
  if ((state === 'captured' || state === 'purchased') && view.captured.lessThanOrEqualTo(view.refunded)) {
    state = 'refunded';
  }
  return { state, ...view, blockingInFlight };
}

const refuse = (refusal: Refusal): Decision => ({ allowed: false, refusal });
const ALLOWED: Decision = { allowed: true };

/** The amount of a capture or refund the payment's state allows: positive, and no more than is left. */
function withinLeft(amount: Decimal, left: Decimal, exceeds: Refusal): Decision {
  if (!amount.greaterThan(0)) return refuse('amount_not_positive');
  return amount.greaterThan(left) ? refuse(exceeds) : ALLOWED;
}

function decideCapture(view: PaymentView, amount: Decimal): Decision {
  // 'refunded' too: after 30 of 100 captured and refunded, the other 70 may still be captured.
  const open = ['authorized', 'captured', 'refunded'].includes(view.state);
  if (!open || !view.authorized.greaterThan(0)) return refuse('not_authorized');
  const left = view.authorized.minus(view.captured).minus(view.capturing);
  return withinLeft(amount, left, 'capture_exceeds_authorized');
}

function decideRefund(view: PaymentView, amount: Decimal): Decision {
  if (!['captured', 'purchased', 'refunded'].includes(view.state)) return refuse('nothing_captured');
  const left = view.captured.minus(view.refunded).minus(view.refunding);
  return withinLeft(amount, left, 'refund_exceeds_captured');
}

function decideVoid(view: PaymentView): Decision {
  if (view.captured.greaterThan(0) || view.capturing.greaterThan(0)) return refuse('void_after_capture');
  return view.state === 'authorized' ? ALLOWED : refuse('void_not_authorized');
}

/**
 * May a transaction of this kind and amount be added now? A void's amount is ignored (it
 * releases the whole authorization). Terminal and in-flight states are checked first, then
 * the kind's own state, and only then the amount, so a refusal names the most fundamental
 * reason: a refund of a voided payment is refused for the void whatever its amount (a follow-up
 * without an amount asks for what is left, which is nothing there).
 */
export function decide(view: PaymentView, kind: TransactionKind, amount: Decimal): Decision {
  if (OPENING.includes(kind)) {
    if (!amount.greaterThan(0)) return refuse('amount_not_positive');
    return view.state === 'new' ? ALLOWED : refuse('payment_already_started');
  }
  if (view.state === 'voided') return refuse('payment_voided');
  if (view.state === 'failed') return refuse('payment_failed');
  if (view.state === 'credited') return refuse('payment_credited');
  if (view.state === 'new') return refuse(kind === 'void' ? 'void_not_authorized' : 'not_authorized');
  if (view.blockingInFlight) return refuse('transaction_in_flight');
  switch (kind) {
    case 'capture':
      return decideCapture(view, amount);
    case 'refund':
      return decideRefund(view, amount);
    case 'void':
      return decideVoid(view);
    case 'authorize':
    case 'purchase':
    case 'credit':
      return refuse('payment_already_started');
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown transaction kind ${String(unreachable)}`);
    }
  }
}

/**
 * What a successful transaction does to the customer's balance: money taken from the card
 * tops the balance up (`payment`); money given back reduces it (`refund`). An authorization
 * or a void moves nothing.
 */
export function balanceEffect(
  kind: TransactionKind,
  amount: Decimal,
): { category: 'payment' | 'refund'; amount: Decimal } | null {
  switch (kind) {
    case 'capture':
    case 'purchase':
      return { category: 'payment', amount };
    case 'refund':
    case 'credit':
      return { category: 'refund', amount: amount.negated() };
    case 'authorize':
    case 'void':
      return null;
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown transaction kind ${String(unreachable)}`);
    }
  }
}
