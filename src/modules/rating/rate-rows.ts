import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { type CopyStreamQuery, from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { newId, newIdSequence } from '../../ids.js';
import type { DeckRate } from './deck-row.js';
import { prefixOrder } from './prefix-index.js';

/**
 * Bulk writes of rate rows (deck import and derived-card compilation): column arrays sent as one
 * multi-row insert through `unnest`, one parameter per column, not per value.
 */
export class RateRows {
  ids: string[] = [];
  prefixes: string[] = [];
  destinations: string[] = [];
  rates: string[] = [];
  fees: string[] = [];
  initials: number[] = [];
  increments: number[] = [];
  froms: string[] = [];
  tos: (string | null)[] = [];
  blocked: boolean[] = [];

  push(rate: DeckRate): void {
    this.ids.push(newId('rate'));
    this.prefixes.push(rate.prefix);
    this.destinations.push(rate.destination);
    this.rates.push(rate.rate);
    this.fees.push(rate.connectionFee);
    this.initials.push(rate.initialIncrement);
    this.increments.push(rate.increment);
    this.froms.push(rate.effectiveFrom.toISOString());
    this.tos.push(rate.effectiveTo ? rate.effectiveTo.toISOString() : null);
    this.blocked.push(rate.blocked);
  }

  get size(): number {
    return this.ids.length;
  }
}

/**
 * Where rows go: the import's temporary staging table `rate_import` (merged afterwards), or
 * straight into a card's rates: into `rates` (a derived card being recompiled) or into `table`,
 * the bare table an import into a card without rates fills before it becomes the card's
 * partition (rates_begin_load in migration 0021).
 */
export type RowsTarget = { kind: 'staging' } | { kind: 'rates'; cardId: string; table?: string };

export async function insertRateRows(trx: Db, rows: RateRows, target: RowsTarget): Promise<void> {
  const values = sql`select * from unnest(${rows.ids}::text[], ${rows.prefixes}::text[], ${rows.destinations}::text[],
      ${rows.rates}::numeric[], ${rows.fees}::numeric[], ${rows.initials}::int[], ${rows.increments}::int[],
      ${rows.froms}::timestamptz[], ${rows.tos}::timestamptz[], ${rows.blocked}::bool[])
      as s (id, prefix, destination, rate, connection_fee, initial_increment, increment, effective_from, effective_to, blocked)`;
  if (target.kind === 'staging') return void (await sql`insert into rate_import ${values}`.execute(trx));
  await sql`insert into ${sql.table(target.table ?? 'rates')} (id, ratecard_id, prefix, destination, rate, connection_fee, initial_increment, increment,
      effective_from, effective_to, blocked)
    select s.id, ${target.cardId}, s.prefix, s.destination, s.rate, s.connection_fee, s.initial_increment, s.increment,
      s.effective_from, s.effective_to, s.blocked from (${values}) s`.execute(trx);
}

/**
 * Where an import's checked rows go: `push` each, `flush` when `size` reaches `chunkRows`, and
 * `end` once after the last row: `end(true)` writes what is left, `end(false)` abandons the rows
 * (the deck was rejected; the transaction rolls back). Two ways in: `unnest` arrays through
 * Kysely (both drivers), or one COPY FROM STDIN on PostgreSQL (PGlite has no COPY FROM STDIN
 * through a client).
 */
export interface RowSink {
  readonly chunkRows: number;
  readonly size: number;
  push(rate: DeckRate): void;
  flush(): Promise<void>;
  end(keep: boolean): Promise<void>;
}

export function unnestSink(trx: Db, target: RowsTarget): RowSink {
  let rows = new RateRows();
  const flush = async () => {
    if (!rows.size) return;
    await insertRateRows(trx, rows, target);
    rows = new RateRows();
  };
  return {
    chunkRows: 5_000,
    get size() {
      return rows.size;
    },
    push: (rate) => rows.push(rate),
    flush,
    end: async (keep) => (keep ? flush() : undefined),
  };
}

/**
 * Rows of a deck held back and handed to `inner` in key order (prefix byte-wise, then
 * effective_from), a run of up to `runRows` at a time; ids are given as rows reach `inner`, so
 * they ascend in the same order. Inserted that way, both btree indexes of `rates` (the primary
 * key and `(ratecard_id, prefix, effective_from)`) grow at their right edge instead of taking
 * each row at a random leaf: measured in psql, the 1,000,000-row bench deck COPYs into `rates`
 * in 10-12 s in key order against 17-19 s in file order (decision 0031). The cost is memory: a
 * run's rows are kept until it is sorted.
 */
export function sortedSink(inner: RowSink, runRows = SORTED_RUN_ROWS): RowSink {
  let run: DeckRate[] = [];
  const release = async () => {
    const rows = run;
    run = [];
    const order = prefixOrder(
      rows.length,
      (slot) => {
        const prefix = rows[slot]!.prefix;
        let key = 0;
        for (let d = 0; d < 9; d++) key = key * 10 + (d < prefix.length ? prefix.charCodeAt(d) - 48 : 0);
        return key;
      },
      (a, b) => {
        const x = rows[a]!;
        const y = rows[b]!;
        if (x.prefix !== y.prefix) return x.prefix < y.prefix ? -1 : 1;
        return x.effectiveFrom.getTime() - y.effectiveFrom.getTime();
      },
    );
    for (const slot of order) {
      inner.push(rows[slot]!);
      if (inner.size >= inner.chunkRows) await inner.flush();
    }
  };
  return {
    chunkRows: runRows,
    get size() {
      return run.length;
    },
    push: (rate) => void run.push(rate),
    flush: release,
    async end(keep) {
      if (keep && run.length) await release();
      await inner.end(keep);
    },
  };
}

/** Rows per sorted run: a 1,000,000-prefix deck is one run. */
export const SORTED_RUN_ROWS = 1 << 20;

const COPY_COLUMNS =
  'id, prefix, destination, rate, connection_fee, initial_increment, increment, effective_from, effective_to, blocked';
/** COPY's text format: backslash, tab and line breaks inside a value are escaped. */
const copyText = (text: string) =>
  /[\\\t\n\r]/.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!)
    : text;

/**
 * Rows as COPY text on the transaction's own client, in ONE COPY for the whole deck: each flush
 * writes its chunk into the open COPY and waits only while the socket is full, so PostgreSQL
 * stores one chunk while the next is parsed (two cores busy instead of taking turns).
 */
export function copySink(client: pg.ClientBase, target: RowsTarget): RowSink {
  const statement =
    target.kind === 'staging'
      ? `copy rate_import (${COPY_COLUMNS}) from stdin`
      : `copy ${pg.escapeIdentifier(target.table ?? 'rates')} (ratecard_id, ${COPY_COLUMNS}) from stdin`;
  const cardColumn = target.kind === 'rates' ? `${copyText(target.cardId)}\t` : '';
  const nextId = newIdSequence('rate');
  let text = '';
  let size = 0;
  let copy: CopyStreamQuery | null = null;
  let failure: unknown = null;
  // Most rows of a deck share effective_from: format it once.
  let lastFrom: Date | null = null;
  let lastFromText = '';
  const flush = async () => {
    if (failure) throw failure;
    if (!size) return;
    if (!copy) {
      copy = client.query(copyFrom(statement));
      copy.on('error', (error) => {
        failure ??= error;
      });
    }
    const open = copy.write(text);
    text = '';
    size = 0;
    if (!open) await once(copy, 'drain');
  };
  return {
    chunkRows: 2_000,
    get size() {
      return size;
    },
    push(rate) {
      if (rate.effectiveFrom !== lastFrom) {
        lastFrom = rate.effectiveFrom;
        lastFromText = rate.effectiveFrom.toISOString();
      }
      const to = rate.effectiveTo ? rate.effectiveTo.toISOString() : '\\N';
      text += `${cardColumn}${nextId()}\t${rate.prefix}\t${copyText(rate.destination)}\t${rate.rate}\t${rate.connectionFee}\t${rate.initialIncrement}\t${rate.increment}\t${lastFromText}\t${to}\t${rate.blocked ? 't' : 'f'}\n`;
      size++;
    },
    flush,
    async end(keep) {
      if (keep) await flush();
      const open = copy;
      copy = null;
      if (!open) return;
      // destroy() sends CopyFail: PostgreSQL drops the rows and the transaction rolls back.
      if (keep) open.end();
      else open.destroy(new Error('deck rejected'));
      try {
        await finished(open);
      } catch (error) {
        if (keep) throw error;
      }
    },
  };
}

/**
 * Runs `work` on a connection of its own (for COPY, which needs the driver's client), with a
 * Kysely instance bound to that one connection so the same transaction serves both.
 */
export async function withDedicatedConnection<T>(
  databaseUrl: string,
  work: (db: Db, client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  // A dropped connection fails the running query; the 'error' event must not crash the process.
  client.on('error', () => {});
  await client.connect();
  const single = Object.assign(client, { release: () => {} });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: { connect: async () => single, end: async () => {} } }),
  });
  try {
    return await work(db, client);
  } finally {
    await db.destroy();
    await client.end();
  }
}
