import { publishCommitted } from '../../db/change-feed.js';
import type { Db } from '../../db/index.js';
import type { PostedTransaction } from './posting.js';

/**
 * Topic of committed balance changes (src/db/change-feed.ts), by owner id (customer or partner):
 * in-memory read models of balances (the accounts module's CustomerCache) subscribe to it.
 */
export const BALANCES_TOPIC = 'balances';

/**
 * Announces the customers and partners whose balance a transaction moved, once it commits (the
 * caller's transaction when postTransaction ran inside one). A replay moved nothing.
 */
export function publishBalanceChanges(db: Db, posted: PostedTransaction): Promise<void> {
  if (posted.replayed) return Promise.resolve();
  const owners = new Set<string>();
  for (const posting of posted.postings) if (posting.ownerId) owners.add(posting.ownerId);
  return publishCommitted(db, BALANCES_TOPIC, [...owners]);
}
