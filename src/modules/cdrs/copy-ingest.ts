import { finished } from 'node:stream/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ChangeFeed } from '../../db/change-feed.js';
import { withCommitHooks } from '../../db/commit-hooks.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { DomainError } from '../../errors.js';

/**
 * CDR batches on PostgreSQL go in with COPY FROM STDIN into a session-local staging table, then
 * one INSERT … SELECT … ON CONFLICT DO NOTHING moves them into `cdrs` (decision 0040): COPY
 * parses the rows in C, with no per-value parameter encoding in Node and no array parsing in the
 * server, while the set-based insert keeps deduplication exact under concurrent resubmission.
 *
 * COPY needs the driver's client, which Kysely's pool does not hand out, so batches run on a few
 * connections of their own. Each transaction gets a Kysely bound to its client and wrapped with
 * the same commit hooks as the main database (src/db/commit-hooks.ts): ledger postings made in
 * it publish their balance changes after COMMIT exactly as on the main pool, so in-memory
 * read models (the customer cache) never keep a stale balance.
 */
export const STAGING_TABLE = 'cdrs_ingest';

/** Batches stored at once; more wait for a connection (the main pool keeps serving reads). */
const CONNECTIONS = 4;

export class CdrCopyConnections {
  private readonly pool: pg.Pool;
  /** Clients whose session already has the staging table. */
  private readonly prepared = new WeakSet<pg.PoolClient>();

  constructor(
    databaseUrl: string,
    private readonly feed: ChangeFeed,
  ) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: CONNECTIONS, idleTimeoutMillis: 30_000 });
    // An idle connection closed by the server: the pool replaces it on the next batch.
    this.pool.on('error', () => {});
  }

  /**
   * Runs `work` in one transaction on a dedicated connection: `trx` for ordinary statements,
   * `copy` to stream COPY text into the staging table (emptied at commit or rollback).
   */
  async transaction<T>(
    work: (trx: Db, copy: (columns: readonly string[], text: string) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      if (!this.prepared.has(client)) {
        // Temporary: per session, never WAL-logged; ON COMMIT DELETE ROWS empties it every batch.
        await client.query(
          `create temporary table if not exists ${STAGING_TABLE} (like cdrs including defaults) on commit delete rows`,
        );
        this.prepared.add(client);
      }
      const bound = { query: client.query.bind(client), release: () => {} };
      const db = new Kysely<Database>({
        dialect: withCommitHooks(
          new PostgresDialect({ pool: { connect: async () => bound, end: async () => {} } as never }),
          this.feed,
        ),
      });
      const copy = async (columns: readonly string[], text: string) => {
        const stream = client.query(copyFrom(`copy ${STAGING_TABLE} (${columns.join(', ')}) from stdin`));
        stream.end(text);
        await finished(stream);
      };
      return await db.transaction().execute((trx) => work(trx, copy));
    } catch (error) {
      // A refused statement (SQLSTATE) or a domain error left the session rolled back and clean;
      // anything else (a dropped socket, a failed stream) may not have: do not reuse the client.
      if (!(error instanceof DomainError) && !(error instanceof Error && 'code' in error)) {
        broken = error instanceof Error ? error : new Error(String(error));
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One value in COPY's text format: \N for null; backslash, tab and line breaks escaped. */
export function copyValue(value: string | number | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'number') return String(value);
  return SPECIAL.test(value) ? value.replace(SPECIALS, (c) => ESCAPES[c]!) : value;
}
