import { type RawBuilder, sql } from 'kysely';
import type { Db } from '../../db/index.js';

/**
 * The hourly rollup of call statistics (table cdr_stats_hourly, migrations 0014 and 0031): per UTC
 * hour × customer × partner × carrier × currency, the sums the statistics are computed from. Money
 * is never summed across currencies: revenue is in the CDRs' currency, and cost counts only buy
 * legs in that currency (another currency's buy cost has no margin and no exchange rate here).
 * It is maintained in the transaction that changes the CDRs (ingestion adds the new rows' sums;
 * re-rating takes the old sums out and puts the new ones in), so it always equals a GROUP BY over
 * `cdrs`. The statistics read it for whole hours (stats.ts); decision 0041.
 */

/**
 * One order for every writer: concurrent batches lock the rollup rows they share in the same
 * order, so they queue instead of deadlocking. (Positions are the key's: hour, customer, partner,
 * carrier; then currency.)
 */
const KEY_ORDER = sql`order by 1, 2 nulls first, 3 nulls first, 4 nulls first, currency nulls first`;

/**
 * The sums every statistic is computed from, over a group of CDRs (grouped by currency among
 * others), times `sign`: the rollup's columns, and what the statistics read from CDRs directly.
 */
export function cdrSums(sign: 1 | -1) {
  const s = sql.lit(sign);
  return sql`
      ${s} * count(*) as attempts,
      ${s} * count(*) filter (where disposition = 'answered') as answered,
      ${s} * count(*) filter (where disposition in ('answered', 'busy', 'no_answer')) as reached,
      ${s} * coalesce(sum(billsec) filter (where disposition = 'answered'), 0) as answered_seconds,
      ${s} * coalesce(sum(pdd_ms), 0) as pdd_sum,
      ${s} * count(pdd_ms) as pdd_count,
      ${s} * coalesce(sum(sell_cost), 0) as revenue,
      ${s} * coalesce(sum(buy_cost) filter (where buy_currency = currency), 0) as cost,
      ${s} * coalesce(sum(margin), 0) as margin`;
}

/** The sums of one group of CDRs, from `source` (any relation with the cdrs columns), times `sign`. */
function contributions(source: RawBuilder<unknown>, sign: 1 | -1) {
  return sql`
    select date_trunc('hour', start_time, 'UTC') as hour, customer_id, partner_id, carrier_id, ${cdrSums(sign)},
      currency
    from ${source}
    group by 1, 2, 3, 4, currency
    ${KEY_ORDER}`;
}

/** Adds `rows` (cdr_stats_hourly's columns, in its order) to the rollup: one upsert. */
function rollupUpsert(rows: RawBuilder<unknown>) {
  return sql`
    insert into cdr_stats_hourly as r (hour, customer_id, partner_id, carrier_id, attempts, answered, reached,
      answered_seconds, pdd_sum, pdd_count, revenue, cost, margin, currency)
    ${rows}
    on conflict on constraint cdr_stats_hourly_key do update set
      attempts = r.attempts + excluded.attempts,
      answered = r.answered + excluded.answered,
      reached = r.reached + excluded.reached,
      answered_seconds = r.answered_seconds + excluded.answered_seconds,
      pdd_sum = r.pdd_sum + excluded.pdd_sum,
      pdd_count = r.pdd_count + excluded.pdd_count,
      revenue = r.revenue + excluded.revenue,
      cost = r.cost + excluded.cost,
      margin = r.margin + excluded.margin`;
}

/** Adds or takes out the sums of these stored CDRs (re-rating: out before the update, in after). */
export async function rollupCdrs(trx: Db, ids: readonly string[], sign: 1 | -1): Promise<void> {
  if (ids.length === 0) return;
  await rollupUpsert(contributions(sql`cdrs where id = any(${ids}::text[])`, sign)).execute(trx);
}

/**
 * Ingestion on PostgreSQL computes a batch's sums early, into this session table (made by
 * copy-ingest.ts, emptied at commit), and adds them to the rollup after its charges: the batch
 * then holds the ledger and rollup locks, which the next batch waits for, only for the upsert
 * itself, not for reading and grouping its CDRs (decision 0043).
 */
export const ROLLUP_STAGING_TABLE = 'cdr_stats_ingest';

/** A statement (for a WITH clause) that stages the sums of the CDRs in `source`. */
export function stageRollup(source: RawBuilder<unknown>) {
  return sql`insert into ${sql.table(ROLLUP_STAGING_TABLE)} ${contributions(source, 1)}`;
}

/** Adds the staged sums to the rollup (after the charges: the lock order of decision 0041). */
export async function rollupStaged(trx: Db): Promise<void> {
  await rollupUpsert(sql`select * from ${sql.table(ROLLUP_STAGING_TABLE)} ${KEY_ORDER}`).execute(trx);
}
