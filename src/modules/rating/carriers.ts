import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import { invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { CarrierStatus, CarriersTable } from './schema.js';

export type Carrier = Selectable<CarriersTable>;

export interface CarrierInput {
  name?: string;
  status?: CarrierStatus;
  ratecard_id?: string;
  priority?: number;
}

async function assertBuyCard(db: Db, id: string): Promise<void> {
  const card = await db.selectFrom('ratecards').select('direction').where('id', '=', id).executeTakeFirst();
  if (!card) throw invalid(`ratecard_id '${id}' does not name a rate card`, 'ratecard_id');
  if (card.direction !== 'buy')
    throw invalid('a carrier needs a buy card (what the carrier charges us)', 'ratecard_id');
}

export async function createCarrier(
  db: Db,
  input: CarrierInput & { name: string; ratecard_id: string },
): Promise<Carrier> {
  await assertBuyCard(db, input.ratecard_id);
  const name = input.name.trim();
  if (!name) throw invalid("Missing required parameter 'name'", 'name');
  return db
    .insertInto('carriers')
    .values({
      id: newId('carrier'),
      name,
      ratecard_id: input.ratecard_id,
      status: input.status,
      priority: input.priority,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function getCarrier(db: Db, id: string): Promise<Carrier> {
  const carrier = await db.selectFrom('carriers').selectAll().where('id', '=', id).executeTakeFirst();
  if (!carrier) throw notFound('Carrier');
  return carrier;
}

export async function listCarriers(
  db: Db,
  filter: { status?: CarrierStatus; limit: number; startingAfter?: string },
) {
  let query = db.selectFrom('carriers').selectAll();
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.startingAfter) query = query.where('id', '>', filter.startingAfter);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}

/** Every active carrier: the candidates LCR ranks. */
export function activeCarriers(db: Db): Promise<Carrier[]> {
  return db.selectFrom('carriers').selectAll().where('status', '=', 'active').orderBy('id').execute();
}

export async function updateCarrier(db: Db, id: string, input: CarrierInput): Promise<Carrier> {
  const current = await getCarrier(db, id);
  if (input.ratecard_id !== undefined) await assertBuyCard(db, input.ratecard_id);
  const name = input.name?.trim();
  if (name === '') throw invalid('name must not be empty', 'name');
  const fields = {
    ...(name !== undefined ? { name } : {}),
    ...(input.status !== undefined ? { status: input.status } : {}),
    ...(input.ratecard_id !== undefined ? { ratecard_id: input.ratecard_id } : {}),
    ...(input.priority !== undefined ? { priority: input.priority } : {}),
  };
  if (Object.keys(fields).length === 0) return current;
  return db
    .updateTable('carriers')
    .set({ ...fields, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}
