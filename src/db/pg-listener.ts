import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';

/**
 * LISTEN on one PostgreSQL channel, for in-memory state that other processes on the same
 * database can change (rate card indexes, the customer cache). The listener has a dedicated
 * connection, not a pooled one: a LISTEN lives as long as its session. Notifications arrive in
 * commit order. A listener that loses its connection reconnects and calls `resync`, since it may
 * have missed notifications in between.
 */
export interface ListenHandlers {
  /** A notification's payload (sent after the change it describes committed). */
  message(payload: string): void;
  /** The connection was re-established: notifications may have been missed. */
  resync(): void;
}

const RECONNECT_MS = 1_000;

export class PgListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly handlers: ListenHandlers,
    private readonly log: Pick<FastifyBaseLogger, 'warn'>,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload) this.handlers.message(message.payload);
    });
    client.on('error', (err) => {
      this.log.warn({ err, channel: this.channel }, 'change listener lost its connection; reconnecting');
      this.reconnectLater(client);
    });
    client.on('end', () => this.reconnectLater(client));
    this.client = client;
    await client.connect();
    await client.query(`listen ${this.channel}`);
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
          this.log.warn({ err, channel: this.channel }, 'change listener could not reconnect');
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
