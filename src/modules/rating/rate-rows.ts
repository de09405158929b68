import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { newId } from '../../ids.js';
import type { DeckRate } from './deck-row.js';

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
 * straight into `rates` for a card (an empty card, or a derived card being recompiled).
 */
export type RowsTarget = { kind: 'staging' } | { kind: 'rates'; cardId: string };

export async function insertRateRows(trx: Db, rows: RateRows, target: RowsTarget): Promise<void> {
  const values = sql`select * from unnest(${rows.ids}::text[], ${rows.prefixes}::text[], ${rows.destinations}::text[],
      ${rows.rates}::numeric[], ${rows.fees}::numeric[], ${rows.initials}::int[], ${rows.increments}::int[],
      ${rows.froms}::timestamptz[], ${rows.tos}::timestamptz[], ${rows.blocked}::bool[])
      as s (id, prefix, destination, rate, connection_fee, initial_increment, increment, effective_from, effective_to, blocked)`;
  if (target.kind === 'staging') return void (await sql`insert into rate_import ${values}`.execute(trx));
  await sql`insert into rates (id, ratecard_id, prefix, destination, rate, connection_fee, initial_increment, increment,
      effective_from, effective_to, blocked)
    select s.id, ${target.cardId}, s.prefix, s.destination, s.rate, s.connection_fee, s.initial_increment, s.increment,
      s.effective_from, s.effective_to, s.blocked from (${values}) s`.execute(trx);
}
