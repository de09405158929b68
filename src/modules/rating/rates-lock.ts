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

/** The advisory-lock space of deck imports (the migration lock uses a single bigint key). */
const DECK_IMPORT_LOCK_SPACE = 0x7467_6431; // 'tgd1'

/**
 * The first statement of a deck import: one import per card at a time, queued. Two imports
 * merging into one card update and delete overlapping rows in whatever order their plans visit
 * them; on PostgreSQL each could hold rows the other waits for, and one was answered 500
 * (`deadlock detected`). An advisory lock, not the card's row, so that nothing else that locks
 * the card (a PATCH, a derived compile) takes part in the order. Two cards whose ids hash alike
 * merely queue.
 */
export async function lockCardForImport(trx: Db, cardId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${DECK_IMPORT_LOCK_SPACE}, hashtext(${cardId}))`.execute(trx);
}
