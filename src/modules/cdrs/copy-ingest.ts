import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ChangeFeed } from '../../db/change-feed.js';
import { withCommitHooks } from '../../db/commit-hooks.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { DomainError } from '../../errors.js';
import { unitsText } from './call-rating.js';
import type { cdrRow, PricedCdr } from './cdr-pricing.js';
import { nextTurn } from './event-loop-turns.js';
import { ROLLUP_STAGING_TABLE } from './stats-rollup.js';

/**
 * CDR batches on PostgreSQL go in with COPY FROM STDIN: straight into `cdrs` when none of the
 * batch is stored yet (decision 0043), otherwise into a session-local staging table from which
 * one INSERT … SELECT … ON CONFLICT DO NOTHING moves the new ones into `cdrs` (decision 0040).
 * COPY parses the rows in C, with no per-value parameter encoding in Node and no array parsing in
 * the server, while the unique key keeps deduplication exact under concurrent resubmission.
 *
 * COPY needs the driver's client, which Kysely's pool does not hand out, so batches run on a few
 * connections of their own. Each transaction gets a Kysely bound to its client and wrapped with
 * the same commit hooks as the main database (src/db/commit-hooks.ts): ledger postings made in
 * it publish their balance changes after COMMIT exactly as on the main pool, so in-memory
 * read models (the customer cache) never keep a stale balance.
 */
export const STAGING_TABLE = 'cdrs_ingest';

export type CopyInto = (
  table: 'cdrs' | typeof STAGING_TABLE,
  columns: readonly string[],
  chunks: Iterable<string>,
) => Promise<void>;

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
   * `copy` to stream COPY text into a table: `cdrs` itself, or the staging table (emptied at
   * commit or rollback). The text comes in chunks, written as they are made: PostgreSQL parses
   * one while the next is built, and no batch-sized string is ever held.
   */
  async transaction<T>(work: (trx: Db, copy: CopyInto) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      if (!this.prepared.has(client)) {
        // Temporary: per session, never WAL-logged; ON COMMIT DELETE ROWS empties them every batch.
        await client.query(
          `create temporary table if not exists ${STAGING_TABLE} (like cdrs including defaults) on commit delete rows;
           create temporary table if not exists ${ROLLUP_STAGING_TABLE} (like cdr_stats_hourly) on commit delete rows`,
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
      const copy: CopyInto = async (table, columns, chunks) => {
        const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
        for (const chunk of chunks) {
          // once() rejects if the stream fails while we wait (PostgreSQL refused the data).
          if (!stream.write(chunk)) await once(stream, 'drain');
          // Formatting is CPU: other batches' replies get in between chunks (event-loop-turns.ts).
          else await nextTurn();
        }
        stream.end();
        await finished(stream);
      };
      try {
        return await db.transaction().execute((trx) => work(trx, copy));
      } finally {
        // Ends only this Kysely (its "pool" is the one client, released below).
        await db.destroy();
      }
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

/** Every stored CDR column, in copyLine's order: both insert paths (COPY and unnest) list them so. */
export const COPY_COLUMNS = [
  'id',
  'sender_partner_id',
  'switch_id',
  'call_id',
  'batch_id',
  'customer_id',
  'customer_ref',
  'partner_id',
  'carrier_id',
  'caller',
  'callee',
  'start_time',
  'answer_time',
  'end_time',
  'duration',
  'billsec',
  'disposition',
  'hangup_cause',
  'pdd_ms',
  'tags',
  'rating_state',
  'unrated_reason',
  'currency',
  'sell_ratecard_id',
  'sell_prefix',
  'destination',
  'sell_rate',
  'billed_seconds',
  'sell_cost',
  'buy_ratecard_id',
  'buy_rate',
  'buy_cost',
  'buy_currency',
  'margin',
  'charged_amount',
] as const satisfies readonly (keyof ReturnType<typeof cdrRow>)[];

const NULL = '\\N';
const text = (value: string | null) => (value === null ? NULL : copyValue(value));
const units = (value: bigint | null | undefined) =>
  value === null || value === undefined ? NULL : unitsText(value);

/**
 * One CDR as a line of COPY text, straight from the priced CDR: the same values as cdrRow (a test
 * compares them column by column) without building the row object first.
 */
export function copyLine(priced: PricedCdr, id: string, batchId: string): string {
  const { cdr, sell, buy } = priced;
  const tags = JSON.stringify(cdr.tags);
  return `${id}\t${text(cdr.senderPartnerId)}\t${copyValue(cdr.switchId)}\t${copyValue(cdr.callId)}\t${batchId}\t${text(priced.customerId)}\t${copyValue(
    cdr.customerId ?? cdr.accountNumber ?? '',
  )}\t${text(priced.partnerId)}\t${text(cdr.carrierId)}\t${copyValue(cdr.caller)}\t${copyValue(cdr.callee)}\t${cdr.startTime.toISOString()}\t${
    cdr.answerTime ? cdr.answerTime.toISOString() : NULL
  }\t${cdr.endTime.toISOString()}\t${cdr.durationSeconds}\t${cdr.billsec}\t${cdr.disposition}\t${text(cdr.hangupCause)}\t${
    cdr.pddMs ?? NULL
  }\t${copyValue(tags)}\t${priced.unratedReason ? 'unrated' : 'rated'}\t${text(priced.unratedReason)}\t${text(priced.currency)}\t${
    sell ? copyValue(sell.ratecardId) : NULL
  }\t${sell ? copyValue(sell.prefix) : NULL}\t${sell ? copyValue(sell.destination) : NULL}\t${sell ? sell.rate : NULL}\t${
    sell ? sell.billedSeconds : NULL
  }\t${units(sell?.cost)}\t${buy ? copyValue(buy.ratecardId) : NULL}\t${buy ? buy.rate : NULL}\t${units(buy?.cost)}\t${
    buy ? buy.currency : NULL
  }\t${units(priced.margin)}\t${sell ? unitsText(sell.cost) : '0'}`;
}
