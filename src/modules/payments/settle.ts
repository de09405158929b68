import { type Selectable, sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { Decimal, formatAmount } from '../../money/index.js';
import { postTransaction } from '../ledger/posting.js';
import { enqueuePaymentEvent } from '../webhooks/payment-events.js';
import type { GatewayAnswer } from './gateways/types.js';
import type { PaymentsTable, PaymentTransactionsTable } from './schema.js';
import { balanceEffect, type RecordedTransaction, viewPayment } from './state-machine.js';

/**
 * Recording a gateway's answer: one database transaction locks the payment, writes the
 * transaction's final status, posts the money movement to the ledger when it succeeded (the
 * transaction id as reference key, so it can never be posted twice) and refreshes the payment's
 * cached state. Used by live requests, reconciliation and incoming notifications alike.
 */
export type PaymentRow = Selectable<PaymentsTable>;
export type TransactionRow = Selectable<PaymentTransactionsTable>;

const FINAL = new Set(['success', 'failed', 'error']);

/** Locks the payment row: every change to one payment queues behind the others. */
export async function lockPayment(trx: Db, paymentId: string): Promise<PaymentRow> {
  const result = await sql<PaymentRow>`select * from payments where id = ${paymentId} for update`.execute(
    trx,
  );
  const row = result.rows[0];
  if (!row) throw new Error(`payment ${paymentId} vanished`);
  return row;
}

export async function transactionsOf(trx: Db, paymentId: string): Promise<TransactionRow[]> {
  return trx
    .selectFrom('payment_transactions')
    .selectAll()
    .where('payment_id', '=', paymentId)
    .orderBy('id')
    .execute();
}

export const recorded = (rows: TransactionRow[]): RecordedTransaction[] =>
  rows.map((row) => ({ kind: row.kind, status: row.status, amount: new Decimal(row.amount) }));

export async function refreshPayment(trx: Db, paymentId: string): Promise<void> {
  const view = viewPayment(recorded(await transactionsOf(trx, paymentId)));
  await trx
    .updateTable('payments')
    .set({
      state: view.state,
      authorized_amount: formatAmount(view.authorized),
      captured_amount: formatAmount(view.captured),
      refunded_amount: formatAmount(view.refunded),
      updated_at: new Date(),
    })
    .where('id', '=', paymentId)
    .execute();
}

/** Posts a successful transaction's balance effect: customer ↔ the gateway's clearing account. */
async function postToLedger(trx: Db, row: TransactionRow): Promise<string | null> {
  const effect = balanceEffect(row.kind, new Decimal(row.amount));
  if (!effect) return null;
  const posted = await postTransaction(trx, {
    category: effect.category,
    description: `${row.kind} ${row.id}${row.reference ? ` (${row.reference})` : ''}`,
    reference: row.payment_id,
    referenceKey: `payment_transaction:${row.id}`,
    postings: [
      { owner: { kind: 'customer', id: row.customer_id }, amount: effect.amount, currency: row.currency },
      {
        owner: { kind: 'operator', code: `clearing:${row.gateway_key}` },
        amount: effect.amount.negated(),
        currency: row.currency,
      },
    ],
    // The money has already moved at the gateway: the ledger must record it whatever the
    // balance and whatever the customer's status (refunds, and a closed customer's payments,
    // are checked against the balance before the gateway is asked: transactions.ts).
    allowOverdraft: true,
    recordsPastEvent: true,
  });
  return posted.id;
}

/**
 * Applies a gateway answer to a transaction left in flight. A transaction already final is
 * left alone (a duplicate notification, a reconciliation racing a webhook): first answer wins.
 */
export async function applyAnswer(
  db: Db,
  transactionId: string,
  answer: GatewayAnswer,
): Promise<TransactionRow> {
  return db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom('payment_transactions')
      .selectAll()
      .where('id', '=', transactionId)
      .executeTakeFirstOrThrow();
    await lockPayment(trx, current.payment_id);
    const row = await trx
      .selectFrom('payment_transactions')
      .selectAll()
      .where('id', '=', transactionId)
      .executeTakeFirstOrThrow();
    if (FINAL.has(row.status)) return row;
    let updated = await trx
      .updateTable('payment_transactions')
      .set({
        status: answer.status,
        gateway_reference: answer.reference ?? row.gateway_reference,
        error_code: answer.errorCode ?? null,
        error_message: answer.message ?? null,
        updated_at: new Date(),
      })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (answer.status === 'success') {
      const ledgerId = await postToLedger(trx, updated);
      if (ledgerId) {
        updated = await trx
          .updateTable('payment_transactions')
          .set({ ledger_transaction_id: ledgerId })
          .where('id', '=', row.id)
          .returningAll()
          .executeTakeFirstOrThrow();
      }
    }
    await refreshPayment(trx, row.payment_id);
    // payment.succeeded / failed / refunded, committed with the status it reports.
    await enqueuePaymentEvent(trx, updated);
    return updated;
  });
}
