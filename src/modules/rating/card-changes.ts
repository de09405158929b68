import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { PgListener } from '../../db/pg-listener.js';

/**
 * Several Tollgate processes on one PostgreSQL each hold in-memory card indexes. After any
 * committed card change the writer sends `NOTIFY tollgate_ratecards, '<card id>'`; every server
 * process LISTENs (src/db/pg-listener.ts: a dedicated connection, reconnect and resync) and
 * rebuilds that card. Notifications are delivered in commit order. A listener that loses its
 * connection reconnects and rebuilds every card it holds, since it may have missed some.
 */
export const RATECARD_CHANNEL = 'tollgate_ratecards';

/** Tells the other processes these cards changed (after the change committed). */
export async function announceCardChanges(db: Db, cardIds: readonly string[]): Promise<void> {
  for (const id of cardIds) await sql`select pg_notify(${RATECARD_CHANNEL}, ${id})`.execute(db);
}

export interface CardChangeHandlers {
  /** A card changed in some process (this one included). */
  changed(cardId: string): void;
  /** The connection was re-established: notifications may have been missed. */
  resync(): void;
}

export class CardChangeListener extends PgListener {
  constructor(databaseUrl: string, handlers: CardChangeHandlers, log: FastifyBaseLogger) {
    super(
      databaseUrl,
      RATECARD_CHANNEL,
      { message: (id) => handlers.changed(id), resync: () => handlers.resync() },
      log,
    );
  }
}
