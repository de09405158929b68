import { StringDecoder } from 'node:string_decoder';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Db } from '../../db/index.js';
import { announceCardChanges, CardChangeListener } from './card-changes.js';
import { activeCarriers } from './carriers.js';
import { type CarrierRoute, type CarrierSelection, carriersInCurrency } from './lcr.js';
import { type PrefixIndex, PrefixIndexBuilder } from './prefix-index.js';
import { withDedicatedConnection } from './rate-rows.js';
import { getRatecard, type Ratecard } from './ratecards.js';

/** Rows fetched per query while loading a card: bounds the memory a load holds at once. */
const LOAD_PAGE_ROWS = 100_000;

export interface LoadedCard {
  card: Ratecard;
  index: PrefixIndex;
  buildMs: number;
}

/**
 * One page of a card's rates as columns: PostgreSQL aggregates the page into one JSON text of
 * arrays (one per column), which JSON.parse turns into arrays natively. That replaces a row
 * object per rate (and per-field type parsing in the driver) with a few arrays per page, and
 * the rates arrive as integer 1e-8 units, computed exactly by numeric arithmetic in the database.
 */
interface RatePage {
  prefix: string[];
  destination: string[];
  rate: number[];
  fee: number[];
  initial: number[];
  increment: number[];
  from_ms: number[];
  to_ms: (number | null)[];
  blocked: boolean[];
}

/**
 * Reads a card's rates into a fresh index. With `databaseUrl` (PostgreSQL, outside a
 * transaction) one COPY TO STDOUT on a connection of its own; otherwise through `db` (PGlite, or
 * inside a transaction that must see its own writes) page by page.
 */
export async function loadCardIndex(
  db: Db,
  card: Ratecard,
  options: { databaseUrl?: string | undefined } = {},
): Promise<LoadedCard> {
  if (options.databaseUrl) return copyCardIndex(options.databaseUrl, card);
  const started = performance.now();
  const builder = new PrefixIndexBuilder();
  let after: { prefix: string; fromMs: number } | null = null;
  for (;;) {
    const keyset: ReturnType<typeof sql> = after
      ? // All three columns of the unique index, so each page is one index range scan.
        sql`and (ratecard_id, prefix, effective_from) > (${card.id}, ${after.prefix}, to_timestamp(${after.fromMs}::float8 / 1000))`
      : sql``;
    // json_agg keeps the order of the ordered subquery; the builder re-sorts if it ever did not.
    const { rows } = await sql<{ page: string | null }>`
      select json_build_object(
          'prefix', json_agg(prefix), 'destination', json_agg(destination), 'rate', json_agg(rate),
          'fee', json_agg(fee), 'initial', json_agg(initial_increment), 'increment', json_agg(increment),
          'from_ms', json_agg(from_ms), 'to_ms', json_agg(to_ms), 'blocked', json_agg(blocked))::text as page
      from (
        select prefix, destination, (rate * 100000000)::int8 as rate, (connection_fee * 100000000)::int8 as fee,
               initial_increment, increment, blocked,
               (extract(epoch from effective_from) * 1000)::int8 as from_ms,
               (extract(epoch from effective_to) * 1000)::int8 as to_ms
        from rates where ratecard_id = ${card.id} ${keyset}
        order by prefix, effective_from limit ${LOAD_PAGE_ROWS}
      ) page
      having count(*) > 0`.execute(db);
    const text = rows[0]?.page;
    if (!text) break;
    const page = JSON.parse(text) as RatePage;
    const count = page.prefix.length;
    for (let i = 0; i < count; i++) {
      const toMs = page.to_ms[i];
      builder.push(
        page.prefix[i]!,
        page.destination[i]!,
        page.rate[i]!,
        page.fee[i]!,
        page.initial[i]!,
        page.increment[i]!,
        page.from_ms[i]!,
        toMs == null ? Number.POSITIVE_INFINITY : toMs,
        page.blocked[i]!,
      );
    }
    if (count < LOAD_PAGE_ROWS) break;
    after = { prefix: page.prefix[count - 1]!, fromMs: page.from_ms[count - 1]! };
  }
  const index = builder.build();
  return { card, index, buildMs: performance.now() - started };
}

const UNITS_PER_ONE = 100_000_000;

/**
 * numeric(15,8) text as PostgreSQL prints it ("0.12345000") in text[start, end) → integer 1e-8
 * units, read digit by digit (exact: the bound keeps it under 2^53).
 */
function unitsAt(text: string, start: number, end: number): number {
  let whole = 0;
  let i = start;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) break; // '.'
    whole = whole * 10 + c - 48;
  }
  let fraction = 0;
  let scale = UNITS_PER_ONE;
  for (i++; i < end && scale > 1; i++) {
    scale /= 10;
    fraction += (text.charCodeAt(i) - 48) * scale;
  }
  return whole * UNITS_PER_ONE + fraction;
}

/** A non-negative integer in text[start, end). */
function integerAt(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

const COPY_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
/** COPY text format's escapes (it writes \\, \n, \t, … for those bytes in a value). */
const uncopyText = (text: string) =>
  text.includes('\\') ? text.replace(/\\(.)/g, (_, c: string) => COPY_ESCAPES[c] ?? c) : text;

/** Where the COPY text field starting at `from` ends (its tab, or the line's end). */
function fieldEnd(text: string, from: number, lineEnd: number): number {
  const tab = text.indexOf('\t', from);
  return tab < 0 || tab > lineEnd ? lineEnd : tab;
}

/**
 * The card in one `COPY (select …) TO STDOUT`: no pages (each keyset page was an index range
 * scan, or, with stale statistics right after a big import, a scan and sort of the whole card
 * per page), no ORDER BY (the builder sorts; PostgreSQL sorting a million rows cost more), and
 * plain columns, so PostgreSQL only scans and prints. Lines are cut out of the stream's text
 * with indexOf; a rate is read as digits, not through a Decimal.
 */
async function copyCardIndex(databaseUrl: string, card: Ratecard): Promise<LoadedCard> {
  const started = performance.now();
  const builder = new PrefixIndexBuilder();
  await withDedicatedConnection(databaseUrl, async (_db, client) => {
    const query = `copy (select prefix, destination, rate, connection_fee, initial_increment, increment,
        date_part('epoch', effective_from), date_part('epoch', effective_to), blocked
      from rates where ratecard_id = ${pg.escapeLiteral(card.id)}) to stdout`;
    const stream = client.query(copyTo(query));
    const decoder = new StringDecoder('utf8');
    let rest = '';
    // Most rows share effective_from (and destination, in prefix order): compare in place and
    // make a string or a number only when it changes.
    let lastFromText = '';
    let lastFromMs = 0;
    let lastDestinationText = ''; // as COPY wrote it
    let lastDestination = '';
    const row = (text: string, start: number, end: number) => {
      const t1 = fieldEnd(text, start, end);
      const t2 = fieldEnd(text, t1 + 1, end);
      const t3 = fieldEnd(text, t2 + 1, end);
      const t4 = fieldEnd(text, t3 + 1, end);
      const t5 = fieldEnd(text, t4 + 1, end);
      const t6 = fieldEnd(text, t5 + 1, end);
      const t7 = fieldEnd(text, t6 + 1, end);
      const t8 = fieldEnd(text, t7 + 1, end);
      if (t7 - t6 - 1 !== lastFromText.length || !text.startsWith(lastFromText, t6 + 1)) {
        lastFromText = text.slice(t6 + 1, t7);
        lastFromMs = Math.round(Number(lastFromText) * 1000);
      }
      if (t2 - t1 - 1 !== lastDestinationText.length || !text.startsWith(lastDestinationText, t1 + 1)) {
        lastDestinationText = text.slice(t1 + 1, t2);
        lastDestination = uncopyText(lastDestinationText);
      }
      builder.pushPrefixOf(text, start, t1, lastFromMs);
      builder.pushValues(
        lastDestination,
        unitsAt(text, t2 + 1, t3),
        unitsAt(text, t3 + 1, t4),
        integerAt(text, t4 + 1, t5),
        integerAt(text, t5 + 1, t6),
        lastFromMs,
        text.charCodeAt(t7 + 1) === 92 // '\\N'
          ? Number.POSITIVE_INFINITY
          : Math.round(Number(text.slice(t7 + 1, t8)) * 1000),
        text.charCodeAt(t8 + 1) === 116, // 't'
      );
    };
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = rest + decoder.write(chunk);
      let start = 0;
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
        row(text, start, end);
        start = end + 1;
      }
      rest = text.slice(start);
    }
  });
  const index = builder.build();
  return { card, index, buildMs: performance.now() - started };
}

/**
 * The in-memory indexes of all cards, loaded on first use and rebuilt after every change. A
 * rebuild makes a whole new index and then replaces the map entry in one assignment, so a
 * lookup sees the old card or the new one, never a mix. Rebuilds of one card run one after
 * another, so the last change always wins.
 */
export class RatingIndex {
  private readonly loaded = new Map<string, LoadedCard>();
  private readonly building = new Map<string, Promise<LoadedCard>>();
  private routes: Promise<CarrierRoute[]> | null = null;
  private readonly routesByCurrency = new Map<string, Promise<CarrierSelection>>();
  /** The same selections once settled, for callers that answer without a promise. */
  private readonly settledRoutesByCurrency = new Map<string, CarrierSelection>();
  /** Notifications this process sent and has not received back yet, per card (see received()). */
  private readonly ownNotices = new Map<string, number>();

  /**
   * `announce`: tell other processes about changes (PostgreSQL, where several may share the
   * data). `databaseUrl`: load cards with COPY on a connection of their own (PostgreSQL).
   */
  constructor(
    private readonly db: Db,
    private readonly options: { announce?: boolean; databaseUrl?: string | undefined } = {},
  ) {}

  /** The card's index when it is loaded (what get() would answer at once), else undefined. */
  peek(cardId: string): LoadedCard | undefined {
    return this.loaded.get(cardId);
  }

  /** The card's index, loading it when this process has not yet. */
  async get(cardId: string): Promise<LoadedCard> {
    return this.loaded.get(cardId) ?? this.building.get(cardId) ?? this.reload(cardId);
  }

  /** Rebuilds from the database and swaps the new index in; call after any change to the card. */
  reload(cardId: string): Promise<LoadedCard> {
    const previous = this.building.get(cardId) ?? Promise.resolve(null);
    const next = previous
      .catch(() => null)
      .then(async () => {
        const loaded = await loadCardIndex(this.db, await getRatecard(this.db, cardId), {
          databaseUrl: this.options.databaseUrl,
        });
        this.loaded.set(cardId, loaded);
        this.forgetCarriers();
        return loaded;
      })
      .finally(() => {
        if (this.building.get(cardId) === next) this.building.delete(cardId);
      });
    this.building.set(cardId, next);
    return next;
  }

  /** After a committed change to these cards: rebuilds each one's index here, then tells the others. */
  async changed(cardIds: readonly string[]): Promise<void> {
    await Promise.all(cardIds.map((id) => this.reload(id)));
    await this.announce(cardIds);
  }

  /** After a carrier is created or changed (its card id): LCR's carrier list is rebuilt everywhere. */
  async carriersChanged(cardIds: readonly string[]): Promise<void> {
    this.forgetCarriers();
    await this.announce(cardIds);
  }

  private async announce(cardIds: readonly string[]): Promise<void> {
    if (!this.options.announce) return;
    for (const id of cardIds) this.ownNotices.set(id, (this.ownNotices.get(id) ?? 0) + 1);
    try {
      await announceCardChanges(this.db, cardIds);
    } catch (error) {
      for (const id of cardIds) this.dropOwnNotice(id);
      throw error;
    }
  }

  private dropOwnNotice(cardId: string): boolean {
    const pending = this.ownNotices.get(cardId) ?? 0;
    if (pending === 0) return false;
    if (pending === 1) this.ownNotices.delete(cardId);
    else this.ownNotices.set(cardId, pending - 1);
    return true;
  }

  /**
   * A change notification. One this process sent was rebuilt before it was sent, so one notice
   * per own announcement is skipped. Skipping a foreign notice in its place is safe: notices
   * arrive in commit order, so ours comes later and its rebuild sees both changes. Cards this
   * process has not loaded are left to load on first use.
   */
  async received(cardId: string): Promise<void> {
    if (this.dropOwnNotice(cardId)) return;
    this.forgetCarriers();
    if (this.loaded.has(cardId) || this.building.has(cardId)) await this.reload(cardId);
  }

  /** Rebuilds every card this process holds (after notifications may have been missed). */
  async reloadLoaded(): Promise<void> {
    this.ownNotices.clear();
    this.forgetCarriers();
    for (const id of [...this.loaded.keys()]) await this.reload(id);
  }

  /** A listener applying other processes' changes to this index (start it, stop it on close). */
  listener(databaseUrl: string, log: FastifyBaseLogger): CardChangeListener {
    const failed = (err: unknown) => log.error({ err }, 'rebuilding a changed rate card failed');
    return new CardChangeListener(
      databaseUrl,
      {
        changed: (cardId) => void this.received(cardId).catch(failed),
        resync: () => void this.reloadLoaded().catch(failed),
      },
      log,
    );
  }

  /**
   * Loads every card (at server start), so the first lookups do not pay for it. A card that a
   * request has already loaded (or is loading) meanwhile is not loaded a second time: with a
   * million-rate card and several carrier cards that doubled the start-up work, and the server
   * spent its first minute building indexes while answering.
   */
  async loadAll(): Promise<void> {
    const cards = await this.db.selectFrom('ratecards').select('id').execute();
    for (const { id } of cards) await this.get(id);
  }

  /** Active carriers with their loaded buy cards (LCR), cached until a carrier or card changes. */
  carrierRoutes(): Promise<CarrierRoute[]> {
    this.routes ??= activeCarriers(this.db).then((carriers) =>
      Promise.all(
        carriers.map(async (carrier) => ({ carrier, loaded: await this.get(carrier.ratecard_id) })),
      ),
    );
    const routes = this.routes;
    routes.catch(() => {
      if (this.routes === routes) this.routes = null;
    });
    return routes;
  }

  /**
   * The carriers LCR may rank for a price in `currency` (carriersInCurrency), cached like
   * carrierRoutes: call authorization asks on every call, and a cached answer costs one Map lookup.
   */
  carrierRoutesIn(currency: string): Promise<CarrierSelection> {
    let selection = this.routesByCurrency.get(currency);
    if (!selection) {
      const made = this.carrierRoutes().then((routes) => carriersInCurrency(routes, currency));
      made.then(
        (settled) => {
          if (this.routesByCurrency.get(currency) === made)
            this.settledRoutesByCurrency.set(currency, settled);
        },
        () => {
          if (this.routesByCurrency.get(currency) === made) this.routesByCurrency.delete(currency);
        },
      );
      this.routesByCurrency.set(currency, made);
      selection = made;
    }
    return selection;
  }

  /** carrierRoutesIn's answer when it is settled; otherwise undefined (ask carrierRoutesIn). */
  peekCarrierRoutesIn(currency: string): CarrierSelection | undefined {
    return this.settledRoutesByCurrency.get(currency);
  }

  /** Call after a carrier is created or changed. */
  forgetCarriers(): void {
    this.routes = null;
    this.routesByCurrency.clear();
    this.settledRoutesByCurrency.clear();
  }
}
