import type { Db } from '../../db/index.js';
import type { Period } from '../../period.js';
import { findOwnerAccount } from './accounts.js';

/**
 * The ledger entries of one balance (its postings, with their transaction's description and
 * reference), in the order they were applied: for paging through the API and for CSV export.
 */

export interface EntryFilter {
  category?: string;
  period: Period;
}

export interface LedgerEntry {
  id: string;
  seq: number;
  transaction_id: string;
  category: string;
  description: string;
  reference: string | null;
  amount: string;
  currency: string;
  balance_after: string;
  effective_at: Date;
  created_at: Date;
}

function entriesQuery(db: Db, accountId: string, filter: EntryFilter) {
  let query = db
    .selectFrom('ledger_postings as lp')
    .innerJoin('ledger_transactions as lt', 'lt.id', 'lp.transaction_id')
    .select([
      'lp.id',
      'lp.seq',
      'lp.transaction_id',
      'lp.category',
      'lt.description',
      'lt.reference',
      'lp.amount',
      'lp.currency',
      'lp.balance_after',
      'lp.effective_at',
      'lt.created_at',
    ])
    .where('lp.account_id', '=', accountId)
    .where('lp.effective_at', '<', filter.period.to);
  if (filter.period.from) query = query.where('lp.effective_at', '>=', filter.period.from);
  if (filter.category) query = query.where('lp.category', '=', filter.category);
  return query.orderBy('lp.seq');
}

/** One page (limit + 1 rows, for has_more), after the entry `startingAfter` when given. */
export async function listEntries(
  db: Db,
  ownerId: string,
  filter: EntryFilter & { limit: number; startingAfter?: string },
): Promise<LedgerEntry[]> {
  const account = await findOwnerAccount(db, ownerId);
  if (!account) return [];
  let query = entriesQuery(db, account.id, filter);
  if (filter.startingAfter) {
    const cursor = filter.startingAfter;
    query = query.where('lp.seq', '>', (eb) =>
      eb
        .selectFrom('ledger_postings')
        .select('seq')
        .where('id', '=', cursor)
        .where('account_id', '=', account.id),
    );
  }
  return query.limit(filter.limit + 1).execute();
}

/** Bounded batches, so an export of years of entries never sits in memory at once. */
export const EXPORT_BATCH_SIZE = 1000;

export async function* exportEntries(
  db: Db,
  ownerId: string,
  filter: EntryFilter,
): AsyncGenerator<LedgerEntry[]> {
  const account = await findOwnerAccount(db, ownerId);
  if (!account) return;
  let afterSeq = 0;
  for (;;) {
    const batch = await entriesQuery(db, account.id, filter)
      .where('lp.seq', '>', afterSeq)
      .limit(EXPORT_BATCH_SIZE)
      .execute();
    if (batch.length > 0) yield batch;
    if (batch.length < EXPORT_BATCH_SIZE) return;
    afterSeq = batch.at(-1)!.seq;
  }
}
