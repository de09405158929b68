import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Db, DbHandle } from './index.js';

/** migrations/ sits at the repository root, both when run from src/ (tsx) and dist/src/. */
function migrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${join('dist', 'src')}`) ? '../../..' : '../..';
  return join(here, up, 'migrations');
}

export interface MigrationFile {
  version: string;
  sql: string;
}

export async function readMigrations(dir = migrationsDir()): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((name) => /^\d{4}_[\w-]+\.sql$/.test(name)).sort();
  return Promise.all(
    names.map(async (name) => ({
      version: name.replace(/\.sql$/, ''),
      sql: await readFile(join(dir, name), 'utf8'),
    })),
  );
}

// An arbitrary constant: several Tollgate processes starting together on one PostgreSQL take
// turns, so a migration never runs twice.
const MIGRATION_LOCK_ID = 727_001;

/**
 * Applies pending SQL migrations in file order, each in its own transaction. Forward only: a
 * mistake is fixed by a new migration. Returns the versions applied by this call.
 */
export async function migrate(handle: DbHandle): Promise<string[]> {
  const files = await readMigrations();
  return handle.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`.execute(conn);
    try {
      await sql`create table if not exists schema_migrations (
        version text primary key,
        applied_at timestamptz not null default now()
      )`.execute(conn);
      const done = await sql<{ version: string }>`select version from schema_migrations`.execute(conn);
      const applied = new Set(done.rows.map((row) => row.version));
      const pending = files.filter((file) => !applied.has(file.version));
      for (const file of pending) {
        await sql`begin`.execute(conn);
        try {
          await handle.execScript(conn, file.sql);
          await sql`insert into schema_migrations (version) values (${file.version})`.execute(conn);
          await sql`commit`.execute(conn);
        } catch (error) {
          await sql`rollback`.execute(conn);
          throw new Error(`migration ${file.version} failed: ${(error as Error).message}`);
        }
      }
      return pending.map((file) => file.version);
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.execute(conn);
    }
  });
}

/** True when every migration file is recorded as applied (the /ready check). */
export async function migrationsUpToDate(db: Db): Promise<boolean> {
  const files = await readMigrations();
  const done = await sql<{ version: string }>`select version from schema_migrations`.execute(db);
  const applied = new Set(done.rows.map((row) => row.version));
  return files.every((file) => applied.has(file.version));
}
