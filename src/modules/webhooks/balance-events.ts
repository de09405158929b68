import type { Db } from '../../db/index.js';
import { Decimal, formatAmount } from '../../money/index.js';
import type { PostedTransaction } from '../ledger/posting.js';
import { type EventInput, enqueueEvents } from './events.js';

/**
 * `balance.changed`: one event per customer or partner balance a ledger transaction moved
 * (operator accounts are internal and emit nothing). Several postings to one account in one
 * transaction are one change: their sum, and the balance after the last of them.
 */
export function balanceEvents(transaction: PostedTransaction): EventInput[] {
  const byAccount = new Map<string, EventInput & { amount: Decimal }>();
  for (const posting of transaction.postings) {
    if (posting.ownerKind === 'operator' || !posting.ownerId) continue;
    const previous = byAccount.get(posting.ledgerAccountId);
    const amount = (previous?.amount ?? new Decimal(0)).plus(posting.amount);
    const owner = posting.ownerKind === 'customer' ? 'customer_id' : 'partner_id';
    byAccount.set(posting.ledgerAccountId, {
      type: 'balance.changed',
      ...(posting.ownerKind === 'customer'
        ? { customerId: posting.ownerId }
        : { partnerId: posting.ownerId }),
      amount,
      data: {
        account_kind: posting.ownerKind,
        [owner]: posting.ownerId,
        ledger_account_id: posting.ledgerAccountId,
        transaction_id: transaction.id,
        category: transaction.category,
        description: transaction.description,
        currency: posting.currency,
        amount: formatAmount(amount),
        balance: formatAmount(posting.balanceAfter),
        effective_at: transaction.effectiveAt.toISOString(),
      },
    });
  }
  return [...byAccount.values()].map(({ amount: _amount, ...event }) => event);
}

/** Called by postTransaction right after it wrote a new (not replayed) transaction, in its transaction. */
export async function enqueueBalanceChanges(trx: Db, transaction: PostedTransaction): Promise<void> {
  await enqueueEvents(trx, balanceEvents(transaction));
}
