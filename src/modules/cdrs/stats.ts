import { type RawBuilder, sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { forbidden, invalid } from '../../errors.js';
import type { Principal } from '../../tenancy.js';
import { cdrSums } from './stats-rollup.js';

/**
 * Quality statistics carriers are judged by, computed in SQL from the hourly rollup
 * (cdr_stats_hourly, stats-rollup.ts) for whole hours and from the CDRs over indexed columns
 * (cdrs_start (BRIN), cdrs_customer_start, cdrs_partner_start, cdrs_carrier_start) otherwise:
 *   ASR = answered / attempts; NER = (answered + busy + no_answer) / attempts;
 *   ACD = answered seconds / answered calls (seconds); PDD = mean post-dial delay (ms).
 * Ratios are exact decimals rounded to 4 places; money sums are exact and never add currencies:
 * each row is one group's calls in one currency (the CDRs' sell currency), with the counts of
 * those calls; cost counts only buy legs in that currency (stats-rollup.ts, migration 0031).
 */
export type StatsGroup = 'customer' | 'carrier' | 'destination' | 'prefix';
export type StatsInterval = 'hour' | 'day';

const GROUP_COLUMN: Record<StatsGroup, string> = {
  customer: 'customer_id',
  carrier: 'carrier_id',
  destination: 'destination',
  prefix: 'sell_prefix',
};

/** The groupings the hourly rollup keeps (its key: hour, customer, partner, carrier). */
const ROLLUP_GROUPS: ReadonlySet<StatsGroup> = new Set(['customer', 'carrier']);

/** A window longer than this would scan more than a stats page should; export CDRs instead. */
const MAX_WINDOW_DAYS = 366;

export interface StatsRow {
  group: string | null;
  interval_start: string | null;
  /** Of revenue, cost and margin; null for calls that were not rated (they carry no money). */
  currency: string | null;
  attempts: number;
  answered: number;
  asr: string;
  ner: string;
  acd_seconds: string;
  avg_pdd_ms: string | null;
  minutes: string;
  revenue: string;
  cost: string;
  margin: string;
}

const HOUR_MS = 3_600_000;

/**
 * Where the sums come from: `auto` reads the hourly rollup (cdr_stats_hourly) for the whole hours
 * of the period and the CDRs only for the partial hours at its edges (and for group_by
 * destination or prefix, which the rollup does not keep); `raw` reads only the CDRs (tests
 * compare the two).
 */
export type StatsSource = 'auto' | 'raw';

/** One set of sums per group and bucket, from CDRs in [from, to). */
function rawSums(
  from: Date,
  to: Date,
  group: string,
  bucket: RawBuilder<unknown>,
  tenancy: RawBuilder<unknown>,
) {
  return sql`
    select ${sql.ref(group)} as grp, ${bucket} as bucket, currency, ${cdrSums(1)}
    from cdrs
    where start_time >= ${from} and start_time < ${to} ${tenancy}
    group by 1, 2, 3`;
}

/** The same sums from the rollup, for whole hours [from, to). */
function rollupSums(
  from: Date,
  to: Date,
  group: string,
  bucket: RawBuilder<unknown>,
  tenancy: RawBuilder<unknown>,
) {
  return sql`
    select ${sql.ref(group)} as grp, ${bucket} as bucket, currency,
      sum(attempts) as attempts, sum(answered) as answered, sum(reached) as reached,
      sum(answered_seconds) as answered_seconds, sum(pdd_sum) as pdd_sum, sum(pdd_count) as pdd_count,
      sum(revenue) as revenue, sum(cost) as cost, sum(margin) as margin
    from cdr_stats_hourly
    where hour >= ${from} and hour < ${to} ${tenancy}
    group by 1, 2, 3`;
}

export async function callStats(
  db: Db,
  principal: Principal,
  query: { from: Date; to: Date; groupBy: StatsGroup; interval?: StatsInterval; source?: StatsSource },
): Promise<StatsRow[]> {
  if (query.from >= query.to) throw invalid('from must be before to', 'from');
  // Which carriers the operator routes over, and how each performs, is the operator's business,
  // as carrier_id on a CDR is (representations.ts): customers and resellers never see them.
  if (query.groupBy === 'carrier' && principal.role !== 'admin')
    throw forbidden('Only the operator sees calls by carrier (group_by=carrier)');
  if (query.to.getTime() - query.from.getTime() > MAX_WINDOW_DAYS * 86_400_000) {
    throw invalid(`the period may span at most ${MAX_WINDOW_DAYS} days`, 'to');
  }
  const group = GROUP_COLUMN[query.groupBy];
  const tenancy =
    principal.role === 'partner'
      ? sql`and partner_id = ${principal.partnerId}`
      : principal.role === 'customer'
        ? sql`and customer_id = ${principal.customerId}`
        : sql``;
  const rawBucket = query.interval
    ? sql`date_trunc(${query.interval}, start_time, 'UTC')`
    : sql`null::timestamptz`;
  const rollupBucket = query.interval
    ? sql`date_trunc(${query.interval}, hour, 'UTC')`
    : sql`null::timestamptz`;
  // Whole hours inside the period come from the rollup; the partial hours at the edges from CDRs.
  const firstHour = new Date(Math.ceil(query.from.getTime() / HOUR_MS) * HOUR_MS);
  const endHour = new Date(Math.floor(query.to.getTime() / HOUR_MS) * HOUR_MS);
  const useRollup =
    (query.source ?? 'auto') === 'auto' && ROLLUP_GROUPS.has(query.groupBy) && firstHour < endHour;
  const parts = useRollup
    ? [
        ...(query.from < firstHour ? [rawSums(query.from, firstHour, group, rawBucket, tenancy)] : []),
        rollupSums(firstHour, endHour, group, rollupBucket, tenancy),
        ...(endHour < query.to ? [rawSums(endHour, query.to, group, rawBucket, tenancy)] : []),
      ]
    : [rawSums(query.from, query.to, group, rawBucket, tenancy)];
  const result = await sql<Omit<StatsRow, 'interval_start'> & { interval_start: Date | null }>`
    select grp as "group", bucket as interval_start, currency,
      sum(attempts)::int as attempts,
      sum(answered)::int as answered,
      round(sum(answered)::numeric / sum(attempts), 4)::text as asr,
      round(sum(reached)::numeric / sum(attempts), 4)::text as ner,
      coalesce(round(sum(answered_seconds)::numeric / nullif(sum(answered), 0), 4), 0)::text as acd_seconds,
      round(sum(pdd_sum)::numeric / nullif(sum(pdd_count), 0), 1)::text as avg_pdd_ms,
      round(sum(answered_seconds)::numeric / 60, 4)::text as minutes,
      trim_scale(sum(revenue))::text as revenue,
      trim_scale(sum(cost))::text as cost,
      trim_scale(sum(margin))::text as margin
    from (${sql.join(parts, sql` union all `)}) as sums
    group by 1, 2, 3
    -- Rollup rows whose CDRs were all re-rated away sum to nothing: no group, as in the CDRs.
    having sum(attempts) > 0
    order by 2 nulls first, 1 nulls last, 3 nulls last
    limit 10000`.execute(db);
  return result.rows.map((row) => ({ ...row, interval_start: row.interval_start?.toISOString() ?? null }));
}
