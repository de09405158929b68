import type { Decimal } from '../../../money/index.js';
import type { CardInput } from '../card.js';
import type { GatewayType } from '../schema.js';
import type { TransactionKind, TransactionStatus } from '../state-machine.js';

/**
 * One adapter interface for every payment gateway. Adapters translate; they never touch the
 * database and never decide whether a transaction is allowed (the state machine does that).
 * An adapter answers every call with a GatewayAnswer — a decline is an answer, not an
 * exception — and maps a timeout or a broken connection to status `unknown`.
 */

export interface BankInput {
  accountNumber: string;
  routingNumber: string;
  holderName: string;
}

export type PaymentSource =
  | { kind: 'token'; token: string }
  | { kind: 'card'; card: CardInput }
  | { kind: 'bank'; bank: BankInput };

export interface GatewayAnswer {
  status: TransactionStatus;
  /** The gateway's id for the transaction; null when it never answered. */
  reference: string | null;
  errorCode?: string;
  message?: string;
}

export interface MoneyRequest {
  amount: Decimal;
  currency: string;
  source: PaymentSource;
  /** Forwarded to the gateway so a retried request is one charge there too. */
  idempotencyKey: string;
  description?: string;
}

export interface FollowUpRequest {
  /** The gateway reference of the transaction being captured, voided or refunded. */
  reference: string;
  /** The latest successful capture's (or the purchase's) reference: what some gateways refund against. */
  captureReference?: string | null;
  amount: Decimal;
  currency: string;
  idempotencyKey: string;
}

export interface StoredMethod {
  token: string;
  brand: string | null;
}

/** What reconciliation knows about a transaction it asks the gateway about again. */
export interface LookupQuery {
  kind: TransactionKind;
  /** The transaction's own gateway reference; null when the first call never got an answer. */
  reference: string | null;
  /** The idempotency key the transaction was sent with: names it when reference is null. */
  requestKey: string;
  /** The payment's opening (authorize/purchase) reference: what refunds and captures hang on. */
  openingReference: string | null;
}

export interface GatewayAdapter {
  readonly type: GatewayType;
  authorize(request: MoneyRequest): Promise<GatewayAnswer>;
  purchase(request: MoneyRequest): Promise<GatewayAnswer>;
  /** Pays money out to a card without an earlier payment. */
  credit(request: MoneyRequest): Promise<GatewayAnswer>;
  capture(request: FollowUpRequest): Promise<GatewayAnswer>;
  void(request: FollowUpRequest): Promise<GatewayAnswer>;
  refund(request: FollowUpRequest): Promise<GatewayAnswer>;
  bankDebit(request: MoneyRequest): Promise<GatewayAnswer>;
  bankCredit(request: MoneyRequest): Promise<GatewayAnswer>;
  storePaymentMethod(
    source: Exclude<PaymentSource, { kind: 'token' }>,
    customerRef: string,
  ): Promise<StoredMethod>;
  deletePaymentMethod(token: string): Promise<void>;
  /** Asks the gateway again about a transaction left `pending` or `unknown` (reconciliation). */
  lookup(query: LookupQuery): Promise<GatewayAnswer>;
}

/** Network failures become `unknown`: the money may or may not have moved. */
export function noAnswer(error: unknown): GatewayAnswer {
  return { status: 'unknown', reference: null, errorCode: 'no_answer', message: (error as Error).message };
}

/** Thrown by storePaymentMethod when the gateway refuses the card: the service answers 402. */
export class MethodRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
