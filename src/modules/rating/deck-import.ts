import { type Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { DomainError } from '../../errors.js';
import { DeckCsv, DeckCsvError } from './deck-csv.js';
import {
  DEFAULT_HEADER,
  type DeckLayout,
  type DeckProblem,
  parseDeckRow,
  resolveLayout,
} from './deck-row.js';
import { assertNotDerived, recompileDerivedFrom } from './derivation.js';
import {
  copySink,
  type RowSink,
  type RowsTarget,
  sortedSink,
  unnestSink,
  withDedicatedConnection,
} from './rate-rows.js';
import { getRatecard, type Ratecard } from './ratecards.js';
import { lockCardForImport } from './rates-lock.js';

/**
 * Rate deck import: CSV streamed through DeckCsv, each row checked, good rows written into a bare
 * table that then becomes the card's partition of `rates` (a card without rates), or put in key
 * order a run at a time, staged in a temporary table and merged into the card with a few
 * set-based statements, all in ONE
 * transaction. Any bad row rolls everything back and the caller gets every problem (up to a
 * limit): a deck is never half applied.
 */
export type ImportMode = 'merge' | 'replace';

export interface ImportOptions {
  mode: ImportMode;
  /** Fields in file order ('-' skips a column); default: the file's header row names them. */
  columns?: string[];
  /** Whether the first row is a header (skipped when `columns` is given). Default true. */
  header?: boolean;
  delimiter?: string;
  /** The deck's currency, when the sender states it: must be the card's. */
  currency?: string;
  /**
   * PostgreSQL only: run the import on a connection of its own to this database and stage rows
   * with COPY FROM STDIN instead of multi-row inserts (several times faster on big decks).
   */
  databaseUrl?: string;
  /** Called after each piece of the file with the rows read so far (CLI progress bar). */
  onProgress?: (rows: number) => void;
}

export interface ImportResult {
  rows: number;
  added: number;
  changed: number;
  unchanged: number;
  closed: number;
}

/** Limits of one import (TIGER_STYLE: a limit on everything). */
export const DECK_LIMITS = {
  maxBytes: 1024 * 1024 * 1024,
  maxLineBytes: 64 * 1024,
  maxProblemsReported: 100,
} as const;

export class DeckRejectedError extends DomainError {
  constructor(
    readonly problems: DeckProblem[],
    readonly truncated: boolean,
  ) {
    const first = problems[0]!;
    const where = first.column ? `line ${first.line}, column ${first.column}` : `line ${first.line}`;
    super(
      'invalid',
      `Deck rejected, nothing imported: ${problems.length}${truncated ? '+' : ''} problem(s); first at ${where}: ${first.reason}`,
    );
  }
}

function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > maxBytes)
        done(
          new DeckRejectedError(
            [{ line: 0, column: null, reason: `deck is larger than ${maxBytes} bytes` }],
            false,
          ),
        );
      else done(null, chunk);
    },
  });
}

interface ReadState {
  layout: DeckLayout | null;
  rows: number;
  problems: DeckProblem[];
  truncated: boolean;
  /** prefix + effective_from → line: the same version twice in one file is an error. */
  versions: Map<string, number>;
}

/**
 * prefix → the line it first appeared on, for the versions of a deck's common effective_from:
 * an open-addressing table in typed arrays (a Map of a million strings cost more than parsing
 * the deck). A prefix (1–16 digits, checked before it gets here) is its two 8-digit halves as
 * numbers plus its length (leading zeros count).
 */
class PrefixLines {
  private high = new Float64Array(1 << 16);
  private low = new Float64Array(1 << 16);
  private length = new Uint8Array(1 << 16);
  private line = new Int32Array(1 << 16);
  private count = 0;

  /** The earlier line of `prefix`, or -1 after recording `line` for it. */
  firstLine(prefix: string, line: number): number {
    let high = 0;
    let low = 0;
    for (let i = 0; i < prefix.length; i++) {
      if (i < 8) high = high * 10 + prefix.charCodeAt(i) - 48;
      else low = low * 10 + prefix.charCodeAt(i) - 48;
    }
    const mask = this.length.length - 1;
    let slot = (Math.imul(high | 0, 0x9e3779b1) ^ Math.imul((low | 0) + prefix.length, 0x85ebca6b)) & mask;
    while (this.length[slot] !== 0) {
      if (this.high[slot] === high && this.low[slot] === low && this.length[slot] === prefix.length)
        return this.line[slot]!;
      slot = (slot + 1) & mask;
    }
    this.high[slot] = high;
    this.low[slot] = low;
    this.length[slot] = prefix.length;
    this.line[slot] = line;
    if (++this.count * 2 > this.length.length) this.grow();
    return -1;
  }

  private grow(): void {
    const { high, low, length, line } = this;
    const size = length.length * 2;
    this.high = new Float64Array(size);
    this.low = new Float64Array(size);
    this.length = new Uint8Array(size);
    this.line = new Int32Array(size);
    const mask = size - 1;
    for (let i = 0; i < length.length; i++) {
      if (length[i] === 0) continue;
      let slot =
        (Math.imul(high[i]! | 0, 0x9e3779b1) ^ Math.imul((low[i]! | 0) + length[i]!, 0x85ebca6b)) & mask;
      while (this.length[slot] !== 0) slot = (slot + 1) & mask;
      this.high[slot] = high[i]!;
      this.low[slot] = low[i]!;
      this.length[slot] = length[i]!;
      this.line[slot] = line[i]!;
    }
  }
}

function report(state: ReadState, problems: DeckProblem[]): void {
  for (const problem of problems) {
    if (state.problems.length >= DECK_LIMITS.maxProblemsReported) state.truncated = true;
    else state.problems.push(problem);
  }
}

/**
 * Reads and checks the whole deck, staging good rows while the deck is still clean. The bytes
 * are split into records by DeckCsv (deck-csv.ts) synchronously, a piece at a time; the sink's
 * writes are awaited between pieces.
 */
async function readDeck(
  input: Readable,
  card: Ratecard,
  options: ImportOptions,
  sink: RowSink,
): Promise<ReadState> {
  const state: ReadState = { layout: null, rows: 0, problems: [], truncated: false, versions: new Map() };
  const defaults = {
    connectionFee: card.connection_fee.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, ''),
    initialIncrement: card.initial_increment,
    increment: card.increment,
    effectiveFrom: new Date(),
    currency: card.currency,
  };
  const csv = new DeckCsv(options.delimiter ?? ',', DECK_LIMITS.maxLineBytes);
  const decoder = new StringDecoder('utf8');
  // pipe(), not pipeline(): on a rejected deck the request must stay open for the answer, so the
  // source is drained below instead of destroyed.
  const limiter = byteLimit(DECK_LIMITS.maxBytes);
  input.on('error', (error) => limiter.destroy(error));
  input.pipe(limiter);
  let headerPending = options.header !== false;
  // Without a header row, only the columns parameter can say which column is which.
  if (!headerPending && !options.columns)
    report(state, [
      {
        line: 0,
        column: 'header',
        reason: 'header=false needs the columns parameter (the file’s columns in order)',
      },
    ]);
  if (options.columns) {
    const resolved = resolveLayout(options.columns, 0);
    if ('problems' in resolved)
      report(
        state,
        resolved.problems.map((p) => ({ ...p, reason: `columns parameter: ${p.reason}` })),
      );
    else state.layout = resolved.layout;
  }
  // Versions of the deck's most common effective_from are keyed by prefix alone (no key string per row).
  let commonFromMs: number | null = null;
  const commonVersions = new PrefixLines();
  let stop = false;
  const onRecord = (record: string[], line: number) => {
    if (stop) return;
    if (headerPending) {
      headerPending = false;
      if (!state.layout) {
        const resolved = resolveLayout(record, line);
        if ('problems' in resolved) {
          report(state, resolved.problems);
          stop = true;
        } else state.layout = resolved.layout;
      }
      return;
    }
    if (!state.layout) {
      stop = true;
      return;
    }
    state.rows++;
    const parsed = parseDeckRow(record, state.layout, defaults, line);
    if ('problems' in parsed) {
      report(state, parsed.problems);
      if (state.truncated) stop = true;
      return;
    }
    const fromMs = parsed.rate.effectiveFrom.getTime();
    commonFromMs ??= fromMs;
    let earlier: number | undefined;
    if (fromMs === commonFromMs) {
      const first = commonVersions.firstLine(parsed.rate.prefix, line);
      if (first >= 0) earlier = first;
    } else {
      const key = `${parsed.rate.prefix}@${fromMs}`;
      earlier = state.versions.get(key);
      if (earlier === undefined) state.versions.set(key, line);
    }
    if (earlier !== undefined) {
      report(state, [
        {
          line: line,
          column: 'prefix',
          reason: `prefix ${parsed.rate.prefix} with this effective_from already appears on line ${earlier}`,
        },
      ]);
      return;
    }
    if (!state.problems.length) sink.push(parsed.rate);
  };
  try {
    for await (const chunk of limiter as AsyncIterable<Buffer>) {
      csv.write(decoder.write(chunk), onRecord);
      if (stop) break;
      if (sink.size >= sink.chunkRows && !state.problems.length) await sink.flush();
      options.onProgress?.(state.rows);
    }
    if (!stop) {
      csv.write(decoder.end(), onRecord);
      csv.end(onRecord);
    }
  } catch (error) {
    if (error instanceof DeckCsvError)
      report(state, [{ line: error.line, column: null, reason: error.reason }]);
    else throw error;
  } finally {
    input.unpipe(limiter);
    input.resume();
  }
  options.onProgress?.(state.rows);
  return state;
}

const CHANGED_COLUMNS = sql`(r.destination, r.rate, r.connection_fee, r.initial_increment, r.increment, r.effective_to, r.blocked)
  is distinct from (s.destination, s.rate, s.connection_fee, s.initial_increment, s.increment, s.effective_to, s.blocked)`;

async function count(trx: Db, statement: ReturnType<typeof sql>): Promise<number> {
  const result = await sql<{
    n: number;
  }>`with done as (${statement} returning 1) select count(*)::int as n from done`.execute(trx);
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * replace: the deck is the card from its earliest effective_from D on. Prefixes the deck does
 * not list stop at D (effective_to = D), and versions starting at or after D that the deck does
 * not contain are removed. Both count as `closed`.
 */
async function closeMissing(trx: Db, cardId: string): Promise<number> {
  const start = sql`(select min(effective_from) from rate_import)`;
  const ended = await count(
    trx,
    sql`update rates r set effective_to = ${start}, updated_at = now()
      where r.ratecard_id = ${cardId} and r.effective_from < ${start}
        and (r.effective_to is null or r.effective_to > ${start})
        and not exists (select 1 from rate_import s where s.prefix = r.prefix)`,
  );
  const removed = await count(
    trx,
    sql`delete from rates r where r.ratecard_id = ${cardId} and r.effective_from >= ${start}
      and not exists (select 1 from rate_import s where s.prefix = r.prefix and s.effective_from = r.effective_from)`,
  );
  return ended + removed;
}

async function mergeStaged(trx: Db, cardId: string): Promise<{ added: number; changed: number }> {
  const changed = await count(
    trx,
    sql`update rates r set destination = s.destination, rate = s.rate, connection_fee = s.connection_fee,
        initial_increment = s.initial_increment, increment = s.increment, effective_to = s.effective_to,
        blocked = s.blocked, updated_at = now()
      from rate_import s
      where r.ratecard_id = ${cardId} and r.prefix = s.prefix and r.effective_from = s.effective_from and ${CHANGED_COLUMNS}`,
  );
  const added = await count(
    trx,
    sql`insert into rates (id, ratecard_id, prefix, destination, rate, connection_fee, initial_increment, increment,
        effective_from, effective_to, blocked)
      select s.id, ${cardId}, s.prefix, s.destination, s.rate, s.connection_fee, s.initial_increment, s.increment,
        s.effective_from, s.effective_to, s.blocked
      from rate_import s
      where not exists (select 1 from rates r where r.ratecard_id = ${cardId} and r.prefix = s.prefix and r.effective_from = s.effective_from)
      order by s.prefix, s.effective_from`,
  );
  return { added, changed };
}

export async function importDeck(
  db: Db,
  cardId: string,
  input: Readable,
  options: ImportOptions,
): Promise<ImportResult> {
  const card = await getRatecard(db, cardId);
  if (options.currency && options.currency.toUpperCase() !== card.currency) {
    input.resume();
    throw new DeckRejectedError(
      [
        {
          line: 0,
          column: 'currency',
          reason: `the deck is in ${options.currency}, the card in ${card.currency}`,
        },
      ],
      false,
    );
  }
  try {
    await assertNotDerived(db, card.id);
  } catch (error) {
    input.resume();
    throw error;
  }
  const run = (conn: Db, sinkFor: (trx: Db, target: RowsTarget) => RowSink) =>
    conn.transaction().execute(async (trx) => {
      const result = await importInTransaction(trx, card, input, options, sinkFor);
      // The cards derived from this one change with it, in the same transaction.
      await recompileDerivedFrom(trx, card.id);
      return result;
    });
  if (!options.databaseUrl) return run(db, unnestSink);
  return withDedicatedConnection(options.databaseUrl, (conn, client) =>
    run(conn, (_trx, target) => copySink(client, target)),
  );
}

async function importInTransaction(
  trx: Db,
  card: Ratecard,
  input: Readable,
  options: ImportOptions,
  sinkFor: (trx: Db, target: RowsTarget) => RowSink,
): Promise<ImportResult> {
  await lockCardForImport(trx, card.id);
  // A card without rates takes the deck into a bare table that becomes its partition once the
  // rows are in and indexed (decision 0032); null: the card has rates, the deck is merged.
  const load = await sql<{ load: string | null }>`select rates_begin_load(${card.id}) as load`.execute(trx);
  const loadTable = load.rows[0]?.load ?? null;
  if (loadTable === null) {
    await sql`create temp table rate_import (
      id text, prefix text collate "C", destination text, rate numeric(15, 8), connection_fee numeric(15, 8),
      initial_increment int, increment int, effective_from timestamptz, effective_to timestamptz, blocked bool
    ) on commit drop`.execute(trx);
  }
  const target: RowsTarget =
    loadTable === null ? { kind: 'staging' } : { kind: 'rates', cardId: card.id, table: loadTable };
  // Staged rows are merged into the card's indexes, so they go in key order (sortedSink); a bare
  // table is indexed after the load, so its rows go in as they are read.
  const sink = loadTable === null ? sortedSink(sinkFor(trx, target)) : sinkFor(trx, target);
  let state: ReadState;
  try {
    state = await readDeck(input, card, options, sink);
  } catch (error) {
    await sink.end(false);
    throw error;
  }
  await sink.end(!state.problems.length);
  if (!state.problems.length && state.rows === 0) {
    report(state, [
      {
        line: 1,
        column: null,
        reason: `the file has no rate rows (expected a header such as ${DEFAULT_HEADER}, then one rate per line)`,
      },
    ]);
  }
  if (state.problems.length) throw new DeckRejectedError(state.problems, state.truncated);
  if (loadTable !== null) {
    await sql`select rates_finish_load(${card.id}, ${loadTable})`.execute(trx);
    return { rows: state.rows, added: state.rows, changed: 0, unchanged: 0, closed: 0 };
  }
  await sql`analyze rate_import`.execute(trx);
  const closed = options.mode === 'replace' ? await closeMissing(trx, card.id) : 0;
  const { added, changed } = await mergeStaged(trx, card.id);
  return { rows: state.rows, added, changed, unchanged: state.rows - added - changed, closed };
}
