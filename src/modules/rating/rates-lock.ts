import { sql } from 'kysely';
import type { Db } from '../../db/index.js';

/**
 * The first statement of every transaction that writes rates outside a deck import (a rate's
 * create, change or delete, a derived card's recompilation). A deck load into a card without
 * rates holds SHARE ROW EXCLUSIVE on `rates` from rates_begin_load() until it swaps the card's
 * partition, and the swap needs ACCESS EXCLUSIVE on that partition (migrations/0021). A writer
 * that had already read the partition (checking for an overlapping version, say) would hold a
 * lock the swap waits for while itself waiting for the load: a deadlock, answered 500. Taking
 * `rates`' write lock first makes such a writer wait for the load before it reads anything.
 */
export async function lockRatesForWriting(trx: Db): Promise<void> {
  await sql`lock table rates in row exclusive mode`.execute(trx);
}
