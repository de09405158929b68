import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { conflict, invalid, notFound } from '../../errors.js';
import { Decimal, InvalidAmountError, parseAmount, type RoundingMode } from '../../money/index.js';
import { NO_MATCH, type PrefixIndex } from './prefix-index.js';
import { ProfitRules } from './profit-rules.js';
import { insertRateRows, RateRows } from './rate-rows.js';
import { getRatecard } from './ratecards.js';
import { lockRatesForWriting } from './rates-lock.js';
import { loadCardIndex } from './rating-index.js';
import type { ProfitOverrideRow, RatecardDerivationsTable } from './schema.js';
import { fromUnits } from './units.js';
import { prefixProblem, requireAmount } from './values.js';

/**
 * Derived sell cards: a sell card whose rates are compiled from one or more buy cards and profit
 * rules. The compiled rates are ordinary `rates` rows (so lookup, export and the index need
 * nothing special), rewritten in the same transaction as every change to a source card, so a
 * derived card is never stale and never prices below cost + min_margin.
 *
 * Which cost: for each prefix in any source card, each source's longest-prefix match for it (the
 * rate that source would charge for numbers under it), and the cheapest of those that is not
 * blocked — exactly what least-cost routing would pay. Increments and connection fee are those
 * of that cheapest cost, so a sell price never bills fewer seconds or a smaller fee than the
 * cost it came from. Effective dates are followed: a prefix gets one derived version per period
 * in which its cheapest source rate stays the same.
 */
export type Derivation = Selectable<RatecardDerivationsTable>;

export const DERIVATION_LIMITS = { maxSources: 16, maxOverrides: 10_000 } as const;
/** Rows written per insert while storing a compiled card. */
const WRITE_CHUNK_ROWS = 5_000;

export interface ProfitOverrideInput {
  prefix: string;
  percentage?: string;
  absolute?: string;
  min_margin?: string;
}

export interface DerivationInput {
  source_ids: string[];
  percentage?: string;
  absolute?: string;
  min_margin?: string;
  rounding_decimals?: number;
  rounding_mode?: RoundingMode;
  overrides?: ProfitOverrideInput[];
}

/** A percentage: ≥ 0, at most 4 decimals, below 100,000 (numeric(9,4)). */
function requirePercentage(text: string, param: string): string {
  try {
    const value = parseAmount(text, 4);
    if (value.isNegative() || value.gte(100_000)) throw new InvalidAmountError('out of range');
    return value.toFixed();
  } catch (error) {
    if (!(error instanceof InvalidAmountError)) throw error;
    throw invalid(`${param} must be a percentage from 0 to 99999.9999 (at most 4 decimals)`, param);
  }
}

function normaliseOverrides(overrides: ProfitOverrideInput[]): ProfitOverrideRow[] {
  if (overrides.length > DERIVATION_LIMITS.maxOverrides)
    throw invalid(`at most ${DERIVATION_LIMITS.maxOverrides} overrides`, 'overrides');
  const seen = new Set<string>();
  return overrides.map((override, i) => {
    const param = `overrides[${i}]`;
    const problem = prefixProblem(override.prefix);
    if (problem) throw invalid(`${param}.prefix: ${problem}`, `${param}.prefix`);
    if (seen.has(override.prefix))
      throw invalid(`${param}.prefix ${override.prefix} is listed twice`, `${param}.prefix`);
    seen.add(override.prefix);
    return {
      prefix: override.prefix,
      ...(override.percentage !== undefined
        ? { percentage: requirePercentage(override.percentage, `${param}.percentage`) }
        : {}),
      ...(override.absolute !== undefined
        ? { absolute: requireAmount(override.absolute, `${param}.absolute`) }
        : {}),
      ...(override.min_margin !== undefined
        ? { min_margin: requireAmount(override.min_margin, `${param}.min_margin`) }
        : {}),
    };
  });
}

async function checkSources(db: Db, cardId: string, sourceIds: string[]): Promise<string[]> {
  const card = await getRatecard(db, cardId);
  if (card.direction !== 'sell')
    throw invalid('only a sell card can be derived (from buy cards)', 'ratecard_id');
  const ids = [...new Set(sourceIds)];
  if (ids.length === 0 || ids.length > DERIVATION_LIMITS.maxSources)
    throw invalid(`source_ids must name 1 to ${DERIVATION_LIMITS.maxSources} buy cards`, 'source_ids');
  const sources = await db
    .selectFrom('ratecards')
    .select(['id', 'direction', 'currency'])
    .where('id', 'in', ids)
    .execute();
  for (const id of ids) {
    const source = sources.find((s) => s.id === id);
    if (!source) throw invalid(`source_ids: '${id}' does not name a rate card`, 'source_ids');
    if (source.direction !== 'buy') throw invalid(`source_ids: '${id}' is not a buy card`, 'source_ids');
    if (source.currency !== card.currency)
      throw conflict(
        `source_ids: '${id}' is in ${source.currency}, the derived card in ${card.currency}`,
        'source_ids',
      );
  }
  return ids;
}

export async function getDerivation(db: Db, cardId: string): Promise<Derivation> {
  const derivation = await db
    .selectFrom('ratecard_derivations')
    .selectAll()
    .where('ratecard_id', '=', cardId)
    .executeTakeFirst();
  if (!derivation) throw notFound('Derivation');
  return derivation;
}

/** Creates or replaces a card's derivation and compiles it, in one transaction. */
export async function setDerivation(db: Db, cardId: string, input: DerivationInput): Promise<Derivation> {
  const fields = {
    percentage: input.percentage === undefined ? '0' : requirePercentage(input.percentage, 'percentage'),
    absolute: input.absolute === undefined ? '0' : requireAmount(input.absolute, 'absolute'),
    min_margin: input.min_margin === undefined ? '0' : requireAmount(input.min_margin, 'min_margin'),
    rounding_decimals: input.rounding_decimals ?? 4,
    rounding_mode: input.rounding_mode ?? 'up',
    overrides: JSON.stringify(normaliseOverrides(input.overrides ?? [])),
  };
  if (
    !(
      Number.isInteger(fields.rounding_decimals) &&
      fields.rounding_decimals >= 0 &&
      fields.rounding_decimals <= 8
    )
  )
    throw invalid('rounding_decimals must be a whole number from 0 to 8', 'rounding_decimals');
  return db.transaction().execute(async (trx) => {
    await lockRatesForWriting(trx);
    const sourceIds = await checkSources(trx, cardId, input.source_ids);
    await trx
      .insertInto('ratecard_derivations')
      .values({ ratecard_id: cardId, source_ids: sourceIds, ...fields })
      .onConflict((oc) =>
        oc.column('ratecard_id').doUpdateSet({ source_ids: sourceIds, ...fields, updated_at: new Date() }),
      )
      .execute();
    const derivation = await lockDerivation(trx, cardId);
    return compile(trx, derivation);
  });
}

/** Stops deriving: the card keeps its last compiled rates as ordinary, editable rates. */
export async function removeDerivation(db: Db, cardId: string): Promise<Derivation> {
  const removed = await db
    .deleteFrom('ratecard_derivations')
    .where('ratecard_id', '=', cardId)
    .returningAll()
    .executeTakeFirst();
  if (!removed) throw notFound('Derivation');
  return removed;
}

/** Refuses direct rate writes (CRUD, import) on a derived card: its rates are compiled. */
export async function assertNotDerived(db: Db, cardId: string): Promise<void> {
  const derived = await db
    .selectFrom('ratecard_derivations')
    .select('ratecard_id')
    .where('ratecard_id', '=', cardId)
    .executeTakeFirst();
  if (derived)
    throw conflict(
      `Rate card ${cardId} is derived from buy cards: its rates are compiled; change its derivation or its source cards`,
      'ratecard_id',
    );
}

/** The derived cards built from `sourceId`. */
export async function derivedCardsOf(db: Db, sourceId: string): Promise<string[]> {
  const { rows } = await sql<{ ratecard_id: string }>`
    select ratecard_id from ratecard_derivations where source_ids @> array[${sourceId}]::text[]
    order by ratecard_id`.execute(db);
  return rows.map((row) => row.ratecard_id);
}

async function lockDerivation(trx: Db, cardId: string): Promise<Derivation> {
  const { rows } = await sql<Derivation>`
    select * from ratecard_derivations where ratecard_id = ${cardId} for update`.execute(trx);
  return rows[0]!;
}

/**
 * Recompiles every card derived from `sourceId`; call inside the transaction that changed the
 * source. Each derived row is locked first (in id order, so two writers cannot deadlock): a
 * concurrent change to another source of the same card waits, and then compiles from a fresh
 * view that includes this change. Returns the recompiled card ids.
 */
export async function recompileDerivedFrom(trx: Db, sourceId: string): Promise<string[]> {
  const ids = await derivedCardsOf(trx, sourceId);
  for (const id of ids) await compile(trx, await lockDerivation(trx, id));
  return ids;
}

function profitRules(derivation: Derivation): ProfitRules {
  const overrides = (derivation.overrides ?? []).map((o) => ({
    prefix: o.prefix,
    ...(o.percentage !== undefined ? { percentage: new Decimal(o.percentage) } : {}),
    ...(o.absolute !== undefined ? { absolute: new Decimal(o.absolute) } : {}),
    ...(o.min_margin !== undefined ? { minMargin: new Decimal(o.min_margin) } : {}),
  }));
  return new ProfitRules(
    {
      percentage: new Decimal(derivation.percentage),
      absolute: new Decimal(derivation.absolute),
      minMargin: new Decimal(derivation.min_margin),
    },
    derivation.rounding_decimals,
    derivation.rounding_mode,
    overrides,
  );
}

/** Every prefix of any of the sorted indexes, once, in byte order (a k-way merge). */
function* unionPrefixes(indexes: readonly PrefixIndex[]): Generator<string> {
  const cursors = indexes.map(() => 0);
  const heads = indexes.map((index) => (index.prefixCount > 0 ? index.prefixText(0) : null));
  for (;;) {
    let next: string | null = null;
    for (const head of heads) if (head !== null && (next === null || head < next)) next = head;
    if (next === null) return;
    for (let i = 0; i < indexes.length; i++) {
      if (heads[i] !== next) continue;
      const cursor = ++cursors[i]!;
      heads[i] = cursor < indexes[i]!.prefixCount ? indexes[i]!.prefixText(cursor) : null;
    }
    yield next;
  }
}

/**
 * The prefixes a derived card prices, in byte order: its sources' and its overrides'. An override
 * narrower than every source prefix under it (4479 over a source's 44) gets rates of its own,
 * priced from the source's longest match, or the operator's +50% for 4479 would never apply.
 */
function* pricedPrefixes(sources: readonly PrefixIndex[], overrides: readonly string[]): Generator<string> {
  const extra = [...overrides].sort();
  let next = 0;
  for (const prefix of unionPrefixes(sources)) {
    while (next < extra.length && extra[next]! < prefix) yield extra[next++]!;
    if (extra[next] === prefix) next++;
    yield prefix;
  }
  while (next < extra.length) yield extra[next++]!;
}

/** The cheapest source version for `prefix` at `atMs`: not blocked first, then lowest rate. */
function cheapest(sources: readonly PrefixIndex[], prefix: string, atMs: number) {
  let best: { source: PrefixIndex; version: number } | null = null;
  for (const source of sources) {
    const version = source.match(prefix, atMs);
    if (version === NO_MATCH) continue;
    if (best === null) {
      best = { source, version };
      continue;
    }
    const blocked = source.isBlocked(version);
    const bestBlocked = best.source.isBlocked(best.version);
    if (
      blocked !== bestBlocked ? !blocked : source.rateUnitsOf(version) < best.source.rateUnitsOf(best.version)
    )
      best = { source, version };
  }
  return best;
}

interface Compiled {
  prefix: string;
  destination: string;
  rateUnits: number;
  feeUnits: number;
  initialIncrement: number;
  increment: number;
  blocked: boolean;
  fromMs: number;
  toMs: number;
}

const sameTerms = (a: Compiled, b: Compiled) =>
  a.rateUnits === b.rateUnits &&
  a.feeUnits === b.feeUnits &&
  a.initialIncrement === b.initialIncrement &&
  a.increment === b.increment &&
  a.blocked === b.blocked &&
  a.destination === b.destination;

/** The derived versions of one prefix, oldest first, adjacent equal periods merged. */
function derivePrefix(
  prefix: string,
  sources: readonly PrefixIndex[],
  rules: ProfitRules,
  cardId: string,
): Compiled[] {
  const bounds: number[] = [];
  for (const source of sources) source.collectBoundaries(prefix, bounds);
  bounds.sort((a, b) => a - b);
  const out: Compiled[] = [];
  for (let i = 0; i < bounds.length; i++) {
    const fromMs = bounds[i]!;
    if (i > 0 && bounds[i - 1] === fromMs) continue;
    let toMs = Number.POSITIVE_INFINITY;
    for (let j = i + 1; j < bounds.length; j++)
      if (bounds[j]! > fromMs) {
        toMs = bounds[j]!;
        break;
      }
    const pick = cheapest(sources, prefix, fromMs);
    if (!pick) continue;
    const { source, version } = pick;
    const rateUnits = rules.priceUnits(source.rateUnitsOf(version), prefix);
    if (rateUnits === null)
      throw invalid(`derived card ${cardId}: the price for prefix ${prefix} would exceed the largest rate`);
    const next: Compiled = {
      prefix,
      destination: source.destinationName(version),
      rateUnits,
      feeUnits: source.feeUnitsOf(version),
      initialIncrement: source.initialIncrementOf(version),
      increment: source.incrementOf(version),
      blocked: source.isBlocked(version),
      fromMs,
      toMs,
    };
    const last = out.at(-1);
    if (last && last.toMs === fromMs && sameTerms(last, next)) last.toMs = toMs;
    else out.push(next);
  }
  return out;
}

/** Rewrites the derived card's rates from its sources; `derivation` must be locked by `trx`. */
async function compile(trx: Db, derivation: Derivation): Promise<Derivation> {
  const sources: PrefixIndex[] = [];
  for (const id of derivation.source_ids)
    sources.push((await loadCardIndex(trx, await getRatecard(trx, id))).index);
  const rules = profitRules(derivation);
  const cardId = derivation.ratecard_id;
  await trx.deleteFrom('rates').where('ratecard_id', '=', cardId).execute();
  let rows = new RateRows();
  let written = 0;
  const overridePrefixes = (derivation.overrides ?? []).map((override) => override.prefix);
  for (const prefix of pricedPrefixes(sources, overridePrefixes)) {
    for (const version of derivePrefix(prefix, sources, rules, cardId)) {
      rows.push({
        prefix,
        destination: version.destination,
        rate: fromUnits(version.rateUnits),
        connectionFee: fromUnits(version.feeUnits),
        initialIncrement: version.initialIncrement,
        increment: version.increment,
        effectiveFrom: new Date(version.fromMs),
        effectiveTo: Number.isFinite(version.toMs) ? new Date(version.toMs) : null,
        blocked: version.blocked,
      });
    }
    if (rows.size >= WRITE_CHUNK_ROWS) {
      written += rows.size;
      await insertRateRows(trx, rows, { kind: 'rates', cardId });
      rows = new RateRows();
    }
  }
  if (rows.size) {
    written += rows.size;
    await insertRateRows(trx, rows, { kind: 'rates', cardId });
  }
  return trx
    .updateTable('ratecard_derivations')
    .set({ compiled_at: new Date(), compiled_rates: written })
    .where('ratecard_id', '=', cardId)
    .returningAll()
    .executeTakeFirstOrThrow();
}
