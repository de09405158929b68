import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import { conflict, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import { assertNotDerived, recompileDerivedFrom } from './derivation.js';
import { getRatecard, type Ratecard } from './ratecards.js';
import { lockRatesForWriting } from './rates-lock.js';
import type { RatesTable } from './schema.js';
import {
  MAX_PREFIX_DIGITS,
  prefixProblem,
  requireAmount,
  requireIncrement,
  requireTimestamp,
} from './values.js';

export type Rate = Selectable<RatesTable>;

export interface RateInput {
  prefix?: string;
  destination?: string;
  rate?: string;
  connection_fee?: string;
  initial_increment?: number;
  increment?: number;
  effective_from?: string;
  effective_to?: string | null;
  blocked?: boolean;
}

export interface RateListFilter {
  prefix?: string;
  /** Every prefix under this one (44 → 44, 441, 4420…). */
  prefix_starts_with?: string;
  /** Only versions in force at this time. */
  at?: string;
  destination?: string;
  /** Destinations holding this text, whatever its case. */
  destination_contains?: string;
  limit: number;
  startingAfter?: string;
}

function requirePrefix(text: string, param = 'prefix'): string {
  const problem = prefixProblem(text);
  if (problem) throw invalid(problem.replace(/^prefix/, param), param);
  return text;
}

/** LIKE's wildcards and its escape character, taken literally. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, '\\$&');

function normalise(input: RateInput) {
  return {
    ...(input.prefix !== undefined ? { prefix: requirePrefix(input.prefix) } : {}),
    ...(input.destination !== undefined ? { destination: input.destination.trim() } : {}),
    ...(input.rate !== undefined ? { rate: requireAmount(input.rate, 'rate') } : {}),
    ...(input.connection_fee !== undefined
      ? { connection_fee: requireAmount(input.connection_fee, 'connection_fee') }
      : {}),
    ...(input.initial_increment !== undefined
      ? { initial_increment: requireIncrement(input.initial_increment, 'initial_increment') }
      : {}),
    ...(input.increment !== undefined ? { increment: requireIncrement(input.increment, 'increment') } : {}),
    ...(input.effective_from !== undefined
      ? { effective_from: requireTimestamp(input.effective_from, 'effective_from') }
      : {}),
    ...(input.effective_to != null
      ? { effective_to: requireTimestamp(input.effective_to, 'effective_to') }
      : {}),
    ...(input.effective_to === null ? { effective_to: null } : {}),
    ...(input.blocked !== undefined ? { blocked: input.blocked } : {}),
  };
}

function checkPeriod(from: Date, to: Date | null): void {
  if (to && to.getTime() <= from.getTime())
    throw invalid('effective_to must be after effective_from', 'effective_to');
}

async function assertFreeVersion(db: Db, cardId: string, prefix: string, from: Date, exceptId?: string) {
  let query = db
    .selectFrom('rates')
    .select('id')
    .where('ratecard_id', '=', cardId)
    .where('prefix', '=', prefix)
    .where('effective_from', '=', from);
  if (exceptId) query = query.where('id', '!=', exceptId);
  const clash = await query.executeTakeFirst();
  if (clash)
    throw conflict(
      `Prefix ${prefix} already has a version from ${from.toISOString()} (${clash.id})`,
      'effective_from',
    );
}

/**
 * Every rate write runs in one transaction with the recompilation of the cards derived from the
 * rate's card, so a derived card never lags behind its sources. Derived cards refuse direct writes.
 */
function writeRates<T>(db: Db, cardId: string, write: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await lockRatesForWriting(trx);
    await assertNotDerived(trx, cardId);
    const result = await write(trx);
    await recompileDerivedFrom(trx, cardId);
    return result;
  });
}

/** A new version of a prefix; fields not given take the card's defaults, effective_from defaults to now. */
export async function createRate(
  db: Db,
  cardId: string,
  input: RateInput & { prefix: string; rate: string },
): Promise<Rate> {
  const card: Ratecard = await getRatecard(db, cardId);
  const fields = normalise(input);
  const values = {
    connection_fee: card.connection_fee,
    initial_increment: card.initial_increment,
    increment: card.increment,
    effective_from: new Date(),
    ...fields,
    id: newId('rate'),
    ratecard_id: card.id,
    prefix: fields.prefix!,
    rate: fields.rate!,
  };
  checkPeriod(values.effective_from, values.effective_to ?? null);
  return writeRates(db, card.id, async (trx) => {
    await assertFreeVersion(trx, card.id, values.prefix, values.effective_from);
    return trx.insertInto('rates').values(values).returningAll().executeTakeFirstOrThrow();
  });
}

export async function getRate(db: Db, id: string): Promise<Rate> {
  const rate = await db.selectFrom('rates').selectAll().where('id', '=', id).executeTakeFirst();
  if (!rate) throw notFound('Rate');
  return rate;
}

export async function listRates(db: Db, cardId: string, filter: RateListFilter): Promise<Rate[]> {
  await getRatecard(db, cardId);
  let query = db.selectFrom('rates').selectAll().where('ratecard_id', '=', cardId);
  if (filter.prefix) query = query.where('prefix', '=', requirePrefix(filter.prefix));
  if (filter.prefix_starts_with) {
    const under = requirePrefix(filter.prefix_starts_with, 'prefix_starts_with');
    // Every prefix under P lies between P and P padded with 9s to the longest a prefix can be:
    // the range lets the (ratecard_id, prefix, …) index serve it; LIKE makes it exact.
    query = query
      .where('prefix', '>=', under)
      .where('prefix', '<=', under.padEnd(MAX_PREFIX_DIGITS, '9'))
      .where('prefix', 'like', `${under}%`);
  }
  if (filter.destination) query = query.where('destination', '=', filter.destination);
  if (filter.destination_contains)
    query = query.where('destination', 'ilike', `%${likeLiteral(filter.destination_contains)}%`);
  if (filter.at) {
    const at = requireTimestamp(filter.at, 'at');
    query = query
      .where('effective_from', '<=', at)
      .where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>', at)]));
  }
  if (filter.startingAfter) {
    const after = await db
      .selectFrom('rates')
      .select(['prefix', 'effective_from'])
      .where('id', '=', filter.startingAfter)
      .where('ratecard_id', '=', cardId)
      .executeTakeFirst();
    if (!after)
      throw invalid(`starting_after '${filter.startingAfter}' is not a rate of this card`, 'starting_after');
    query = query.where(
      (eb) => eb.refTuple('prefix', 'effective_from'),
      '>',
      (eb) => eb.tuple(after.prefix, after.effective_from),
    );
  }
  // Deck order, served by the (ratecard_id, prefix, effective_from) unique index: a stable order
  // without an index of its own on `rates` (bulk loads pay for every index; decision 0030).
  return query
    .orderBy('prefix')
    .orderBy('effective_from')
    .limit(filter.limit + 1)
    .execute();
}

export async function updateRate(db: Db, id: string, input: RateInput): Promise<Rate> {
  const current = await getRate(db, id);
  const fields = normalise(input);
  if (Object.keys(fields).length === 0) return current;
  const from = fields.effective_from ?? current.effective_from;
  checkPeriod(from, fields.effective_to === undefined ? current.effective_to : fields.effective_to);
  return writeRates(db, current.ratecard_id, async (trx) => {
    await assertFreeVersion(trx, current.ratecard_id, fields.prefix ?? current.prefix, from, id);
    return trx
      .updateTable('rates')
      .set({ ...fields, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

export async function deleteRate(db: Db, id: string): Promise<Rate> {
  const rate = await getRate(db, id);
  return writeRates(db, rate.ratecard_id, async (trx) => {
    await trx.deleteFrom('rates').where('id', '=', id).execute();
    return rate;
  });
}
