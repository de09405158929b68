import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../../db/index.js';

/**
 * Several Tollgate processes on one PostgreSQL each hold in-memory card indexes. After any
 * committed card change the writer sends `NOTIFY tollgate_ratecards, '<card id>'`; every server
 * process LISTENs on a dedicated connection (not a pool one: a LISTEN lives as long as its
 * session) and rebuilds that card. Notifications are delivered in commit order. A listener that
 * loses its connection reconnects and rebuilds every card it holds, since it may have missed some.
 */
export const RATECARD_CHANNEL = 'tollgate_ratecards';
const RECONNECT_MS = 1_000;

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

export class CardChangeListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly databaseUrl: string,
    private readonly handlers: CardChangeHandlers,
    private readonly log: FastifyBaseLogger,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (message) => {
      if (message.channel === RATECARD_CHANNEL && message.payload) this.handlers.changed(message.payload);
    });
    client.on('error', (err) => {
      this.log.warn({ err }, 'rate card change listener lost its connection; reconnecting');
      this.reconnectLater(client);
    });
    client.on('end', () => this.reconnectLater(client));
    this.client = client;
    await client.connect();
    await client.query(`listen ${RATECARD_CHANNEL}`);
  }

  private reconnectLater(client: pg.Client): void {
    if (this.stopped || this.client !== client || this.retry) return;
    this.client = null;
    client.end().catch(() => {});
    this.retry = setTimeout(() => {
      this.retry = null;
      this.start()
        .then(() => this.handlers.resync())
        .catch((err) => {
          this.log.warn({ err }, 'rate card change listener could not reconnect');
          if (this.client) this.reconnectLater(this.client);
        });
    }, RECONNECT_MS);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end();
  }
}
