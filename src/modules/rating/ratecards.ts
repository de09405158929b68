import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import { conflict, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import { isCurrencyCode, type RoundingMode } from '../../money/index.js';
import type { RatecardDirection, RatecardsTable } from './schema.js';
import { requireAmount, requireIncrement } from './values.js';

export type Ratecard = Selectable<RatecardsTable>;

export interface RatecardInput {
  name?: string;
  currency?: string;
  direction?: RatecardDirection;
  connection_fee?: string;
  initial_increment?: number;
  increment?: number;
  rounding_decimals?: number;
  rounding_mode?: RoundingMode;
}

export interface RatecardListFilter {
  direction?: RatecardDirection;
  limit: number;
  startingAfter?: string;
}

function normalise(input: RatecardInput) {
  const currency = input.currency?.toUpperCase();
  if (currency !== undefined && !isCurrencyCode(currency)) {
    throw invalid(`'${input.currency}' is not an ISO 4217 currency code`, 'currency');
  }
  if (
    input.rounding_decimals !== undefined &&
    !(
      Number.isInteger(input.rounding_decimals) &&
      input.rounding_decimals >= 0 &&
      input.rounding_decimals <= 8
    )
  ) {
    throw invalid('rounding_decimals must be a whole number from 0 to 8', 'rounding_decimals');
  }
  return {
    ...(input.name !== undefined ? { name: input.name.trim() } : {}),
    ...(currency !== undefined ? { currency } : {}),
    ...(input.direction !== undefined ? { direction: input.direction } : {}),
    ...(input.connection_fee !== undefined
      ? { connection_fee: requireAmount(input.connection_fee, 'connection_fee') }
      : {}),
    ...(input.initial_increment !== undefined
      ? { initial_increment: requireIncrement(input.initial_increment, 'initial_increment') }
      : {}),
    ...(input.increment !== undefined ? { increment: requireIncrement(input.increment, 'increment') } : {}),
    ...(input.rounding_decimals !== undefined ? { rounding_decimals: input.rounding_decimals } : {}),
    ...(input.rounding_mode !== undefined ? { rounding_mode: input.rounding_mode } : {}),
  };
}

export async function createRatecard(
  db: Db,
  input: RatecardInput & { name: string; currency: string; direction: RatecardDirection },
): Promise<Ratecard> {
  const fields = normalise(input);
  if (!fields.name) throw invalid("Missing required parameter 'name'", 'name');
  return db
    .insertInto('ratecards')
    .values({
      ...fields,
      id: newId('ratecard'),
      name: fields.name,
      currency: fields.currency!,
      direction: input.direction,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function getRatecard(db: Db, id: string): Promise<Ratecard> {
  const card = await db.selectFrom('ratecards').selectAll().where('id', '=', id).executeTakeFirst();
  if (!card) throw notFound('Rate card');
  return card;
}

export async function listRatecards(db: Db, filter: RatecardListFilter): Promise<Ratecard[]> {
  let query = db.selectFrom('ratecards').selectAll();
  if (filter.direction) query = query.where('direction', '=', filter.direction);
  if (filter.startingAfter) query = query.where('id', '>', filter.startingAfter);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}

/**
 * Currency and direction are fixed at creation: rates were priced in that currency, and
 * customers and carriers were attached for that direction.
 */
export async function updateRatecard(db: Db, id: string, input: RatecardInput): Promise<Ratecard> {
  const current = await getRatecard(db, id);
  const fields = normalise(input);
  if (fields.currency && fields.currency !== current.currency)
    throw invalid('currency cannot be changed', 'currency');
  if (fields.direction && fields.direction !== current.direction)
    throw invalid('direction cannot be changed', 'direction');
  if (fields.name === '') throw invalid('name must not be empty', 'name');
  if (Object.keys(fields).length === 0) return current;
  return db
    .updateTable('ratecards')
    .set({ ...fields, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A customer's card (accounts module): it must exist and be a sell card in the customer's currency. */
export async function assertSellRatecard(db: Db, id: string, currency: string): Promise<void> {
  const card = await db
    .selectFrom('ratecards')
    .select(['direction', 'currency'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!card) throw invalid(`ratecard_id '${id}' does not name a rate card`, 'ratecard_id');
  if (card.direction !== 'sell')
    throw invalid('ratecard_id must name a sell card (what customers pay)', 'ratecard_id');
  if (card.currency !== currency) {
    throw conflict(`Rate card is in ${card.currency} but the customer pays in ${currency}`, 'ratecard_id');
  }
}
