import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { type Kysely, sql } from 'kysely';
import { afterCommit } from './commit-hooks.js';
import { PgListener } from './pg-listener.js';

/**
 * Committed changes to rows that processes keep in memory (the customer cache), by topic and id.
 * A writer calls `publishCommitted(db, topic, ids)` inside or outside its transaction; once the
 * change has committed:
 * - this process's subscribers hear of it synchronously, before the writer's call returns, so
 *   a request that wrote something and then reads it through a cache sees its own write;
 * - on PostgreSQL, the other processes' subscribers hear of it through
 *   `NOTIFY tollgate_changes`. Announcements are batched per event-loop turn and sent outside
 *   the writers' transactions: a NOTIFY inside a transaction takes a database-wide lock until its
 *   commit is flushed, which would serialise every ledger posting. The delay for another
 *   process is one NOTIFY round trip; a change whose process dies between its commit and the
 *   announcement is not announced (subscribers bound that with a maximum age).
 * Payload: `<sender> <topic> <id> <id> …` (ids never contain spaces; at most ~7,000 bytes each).
 */
export const CHANGES_CHANNEL = 'tollgate_changes';
const MAX_PAYLOAD = 7_000;

export interface ChangeSubscriber {
  /** These ids of the topic changed (committed), in this process or another. */
  changed(ids: readonly string[]): void;
  /** Changes from other processes may have been missed (the listener reconnected). */
  resync(): void;
}

type LiveDb = Kysely<any>;

const feeds = new WeakMap<LiveDb, ChangeFeed>();

export class ChangeFeed {
  /** Identifies this process's own announcements, which it has already delivered. */
  private readonly sender = randomBytes(6).toString('base64url');
  private readonly subscribers = new Map<string, Set<ChangeSubscriber>>();
  private readonly unsent = new Map<string, Set<string>>();
  private sending: Promise<void> | null = null;
  private listener: PgListener | null = null;
  private db: LiveDb | null = null;

  /** `databaseUrl`: announce to (and hear from) other processes on this PostgreSQL database. */
  constructor(private readonly databaseUrl?: string) {}

  /** The database announcements go through (set once it is open). */
  attach(db: LiveDb): void {
    this.db = db;
    feeds.set(db, this);
  }

  subscribe(topic: string, subscriber: ChangeSubscriber): () => void {
    const set = this.subscribers.get(topic) ?? new Set<ChangeSubscriber>();
    this.subscribers.set(topic, set);
    set.add(subscriber);
    return () => void set.delete(subscriber);
  }

  /** Delivers committed changes here at once and queues them for the other processes. */
  publish(topic: string, ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.deliver(topic, ids);
    if (!this.databaseUrl || !this.db) return;
    const queued = this.unsent.get(topic) ?? new Set<string>();
    this.unsent.set(topic, queued);
    for (const id of ids) queued.add(id);
    this.sending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.send());
  }

  private deliver(topic: string, ids: readonly string[]): void {
    for (const subscriber of this.subscribers.get(topic) ?? []) subscriber.changed(ids);
  }

  /** Sends everything queued, one NOTIFY per ~7 kB; what is queued meanwhile goes next. */
  private async send(): Promise<void> {
    try {
      while (this.unsent.size > 0) {
        const batches: string[] = [];
        for (const [topic, ids] of this.unsent) {
          let payload = `${this.sender} ${topic}`;
          for (const id of ids) {
            if (payload.length + id.length + 1 > MAX_PAYLOAD) {
              batches.push(payload);
              payload = `${this.sender} ${topic}`;
            }
            payload += ` ${id}`;
          }
          batches.push(payload);
        }
        this.unsent.clear();
        // Asynchronous commit: a notification has nothing to make durable, and waiting for the
        // WAL flush of its transaction would cost every announcing write one more flush.
        await sql`select pg_notify(${CHANGES_CHANNEL}, p)
                    from unnest(${batches}::text[]) as p, (select set_config('synchronous_commit', 'off', true)) s`.execute(
          this.db!,
        );
      }
    } catch {
      // The database is unreachable: other processes resync when their listeners reconnect, and
      // their entries age out; this process's own subscribers were told already.
      this.unsent.clear();
    } finally {
      this.sending = null;
    }
  }

  /** Starts hearing other processes' changes (PostgreSQL only; a no-op on PGlite). */
  async listen(log: Pick<FastifyBaseLogger, 'warn'>): Promise<void> {
    if (!this.databaseUrl || this.listener) return;
    this.listener = new PgListener(
      this.databaseUrl,
      CHANGES_CHANNEL,
      {
        message: (payload) => {
          const [sender, topic, ...ids] = payload.split(' ');
          if (sender !== this.sender && topic) this.deliver(topic, ids);
        },
        resync: () => {
          for (const set of this.subscribers.values()) for (const subscriber of set) subscriber.resync();
        },
      },
      log,
    );
    await this.listener.start();
  }

  /** Sends what is still queued and stops listening (before the database closes). */
  async close(): Promise<void> {
    await this.sending;
    const listener = this.listener;
    this.listener = null;
    await listener?.stop();
  }
}

/** The change feed of a database opened by openDatabase. */
export function changeFeedOf(db: LiveDb): ChangeFeed {
  const feed = feeds.get(db);
  if (!feed) throw new Error('changeFeedOf: this database was not opened through openDatabase (src/db)');
  return feed;
}

/**
 * Announces that these rows changed once the current transaction commits (at once when `db` is
 * not a transaction: the statements already committed). See ChangeFeed.
 */
export function publishCommitted(db: LiveDb, topic: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return Promise.resolve();
  return afterCommit(db, (owner) => {
    const feed = owner instanceof ChangeFeed ? owner : changeFeedOf(db);
    feed.publish(topic, ids);
  });
}
