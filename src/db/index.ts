import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { ChangeFeed } from './change-feed.js';
import { withCommitHooks } from './commit-hooks.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export type DbDriver = 'pglite' | 'postgres';

export interface DbHandle {
  db: Db;
  driver: DbDriver;
  /**
   * Runs a multi-statement SQL script (a migration). PGlite's `query` takes one statement, so
   * the embedded driver goes through its `exec`; PostgreSQL runs it with the simple protocol.
   */
  execScript(conn: Db, script: string): Promise<void>;
  /** Committed changes for in-memory caches, in this process and (PostgreSQL) others: change-feed.ts. */
  feed: ChangeFeed;
  close(): Promise<void>;
}

// COUNT(*) and other int8 results: the values we count fit in a JS number comfortably, and
// PGlite already answers them as numbers; align node-postgres so both drivers agree.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/**
 * How long a pooled PostgreSQL connection may sit idle before the pool closes it (pg's default is
 * 10 s). A fresh backend pays for its first call of each PL/pgSQL function (compiling it and
 * planning its statements): the first transfer batches on new connections took 80–190 ms
 * instead of ~6. With the default, ten quiet seconds closed the pool, and the next burst of
 * fund transfers stalled on cold backends (p99 70 ms and 1,008 transfers/s in the 6 s after a
 * 10 s pause, against 41 ms and 1,326/s with connections kept; docs/operations.md, eleventh
 * session). Twenty idle connections per process cost the database little. A kept connection
 * keeps its cached plans too, so plans must not depend on the tables' size when they were made
 * (migrations/0028).
 */
const POOL_IDLE_TIMEOUT_MS = 10 * 60_000;

/**
 * Opens the database: PostgreSQL when a URL is given, otherwise the embedded PGlite stored in
 * `dataDir` (or in memory for `memory://`). Both speak the same SQL, so one schema and one set of
 * migrations serve both.
 */
export async function openDatabase(options: { databaseUrl?: string; dataDir: string }): Promise<DbHandle> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: 20,
      idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
      // Idle connections do not keep the process alive: a command or test that ends without
      // closing the handle exits as it did when they closed after 10 s, not 10 minutes later.
      allowExitOnIdle: true,
    });
    // An idle pooled connection that the server closes (restart, failover, an administrator)
    // emits 'error'; without a listener that would crash the process. The pool drops the
    // client by itself and opens a new one on the next query, so there is nothing else to do.
    pool.on('error', () => {});
    const feed = new ChangeFeed(options.databaseUrl);
    const db = new Kysely<Database>({ dialect: withCommitHooks(new PostgresDialect({ pool }), feed) });
    feed.attach(db);
    return {
      db,
      driver: 'postgres',
      execScript: async (conn, script) => void (await sql.raw(script).execute(conn)),
      feed,
      close: async () => {
        await feed.close();
        await db.destroy();
      },
    };
  }
  if (options.dataDir !== 'memory://') mkdirSync(options.dataDir, { recursive: true });
  const pglite = await PGlite.create(options.dataDir === 'memory://' ? undefined : options.dataDir);
  // One process owns an embedded database: there are no other processes to tell of changes.
  const feed = new ChangeFeed();
  const db = new Kysely<Database>({ dialect: withCommitHooks(new PGliteDialect(pglite), feed) });
  feed.attach(db);
  return {
    db,
    driver: 'pglite',
    // Safe only while the caller holds the single serialised connection (see migrate()).
    execScript: async (_conn, script) => void (await pglite.exec(script)),
    feed,
    close: async () => {
      await feed.close();
      await db.destroy();
    },
  };
}

export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
