import type { Db } from '../../db/index.js';
import { formatAmount } from '../../money/index.js';
import { type EventType, enqueueEvent } from './events.js';

/** The fields of a payment transaction an event reports (a row of payment_transactions). */
export interface PaymentTransactionFacts {
  id: string;
  payment_id: string;
  customer_id: string;
  kind: string;
  status: string;
  amount: string;
  currency: string;
  error_code: string | null;
  error_message: string | null;
  ledger_transaction_id: string | null;
}

/**
 * Which event a final transaction status is: money taken or secured (authorize, capture,
 * purchase) succeeded, a refund succeeded, or the gateway declined / said it did not happen.
 * Pending and unknown are not outcomes yet; a successful void or credit has no event type.
 */
export function paymentEventType(row: Pick<PaymentTransactionFacts, 'kind' | 'status'>): EventType | null {
  if (row.status === 'failed' || row.status === 'error') return 'payment.failed';
  if (row.status !== 'success') return null;
  if (row.kind === 'refund') return 'payment.refunded';
  if (row.kind === 'authorize' || row.kind === 'capture' || row.kind === 'purchase')
    return 'payment.succeeded';
  return null;
}

/** Called by payments' applyAnswer with the transaction's final row, in its database transaction. */
export async function enqueuePaymentEvent(trx: Db, row: PaymentTransactionFacts): Promise<void> {
  const type = paymentEventType(row);
  if (!type) return;
  await enqueueEvent(trx, {
    type,
    customerId: row.customer_id,
    data: {
      transaction_id: row.id,
      payment_id: row.payment_id,
      customer_id: row.customer_id,
      kind: row.kind,
      status: row.status,
      amount: formatAmount(row.amount),
      currency: row.currency,
      error_code: row.error_code,
      error_message: row.error_message,
      ledger_transaction_id: row.ledger_transaction_id,
    },
  });
}
