import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { invalid } from '../../errors.js';
import type { Principal } from '../../tenancy.js';

/**
 * Quality statistics carriers are judged by, computed in SQL over indexed columns
 * (cdrs_start (BRIN), cdrs_customer_start, cdrs_partner_start, cdrs_carrier_start):
 *   ASR = answered / attempts; NER = (answered + busy + no_answer) / attempts;
 *   ACD = answered seconds / answered calls (seconds); PDD = mean post-dial delay (ms).
 * Ratios are exact decimals rounded to 4 places; money sums are exact.
 */
export type StatsGroup = 'customer' | 'carrier' | 'destination' | 'prefix';
export type StatsInterval = 'hour' | 'day';

const GROUP_COLUMN: Record<StatsGroup, string> = {
  customer: 'customer_id',
  carrier: 'carrier_id',
  destination: 'destination',
  prefix: 'sell_prefix',
};

/** A window longer than this would scan more than a stats page should; export CDRs instead. */
const MAX_WINDOW_DAYS = 366;

export interface StatsRow {
  group: string | null;
  interval_start: string | null;
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

export async function callStats(
  db: Db,
  principal: Principal,
  query: { from: Date; to: Date; groupBy: StatsGroup; interval?: StatsInterval },
): Promise<StatsRow[]> {
  if (query.from >= query.to) throw invalid('from must be before to', 'from');
  if (query.to.getTime() - query.from.getTime() > MAX_WINDOW_DAYS * 86_400_000) {
    throw invalid(`the period may span at most ${MAX_WINDOW_DAYS} days`, 'to');
  }
  const group = sql.ref(GROUP_COLUMN[query.groupBy]);
  const bucket = query.interval
    ? sql`date_trunc(${query.interval}, start_time, 'UTC')`
    : sql`null::timestamptz`;
  const tenancy =
    principal.role === 'partner'
      ? sql`and partner_id = ${principal.partnerId}`
      : principal.role === 'customer'
        ? sql`and customer_id = ${principal.customerId}`
        : sql``;
  const result = await sql<Omit<StatsRow, 'interval_start'> & { interval_start: Date | null }>`
    select ${group} as "group", ${bucket} as interval_start,
      count(*)::int as attempts,
      count(*) filter (where disposition = 'answered')::int as answered,
      round(count(*) filter (where disposition = 'answered')::numeric / count(*), 4)::text as asr,
      round(count(*) filter (where disposition in ('answered', 'busy', 'no_answer'))::numeric / count(*), 4)::text as ner,
      coalesce(round(sum(billsec) filter (where disposition = 'answered')::numeric
        / nullif(count(*) filter (where disposition = 'answered'), 0), 4), 0)::text as acd_seconds,
      round(avg(pdd_ms), 1)::text as avg_pdd_ms,
      round(coalesce(sum(billsec) filter (where disposition = 'answered'), 0)::numeric / 60, 4)::text as minutes,
      trim_scale(coalesce(sum(sell_cost), 0))::text as revenue,
      trim_scale(coalesce(sum(buy_cost), 0))::text as cost,
      trim_scale(coalesce(sum(margin), 0))::text as margin
    from cdrs
    where start_time >= ${query.from} and start_time < ${query.to} ${tenancy}
    group by 1, 2
    order by 2 nulls first, 1 nulls last
    limit 10000`.execute(db);
  return result.rows.map((row) => ({ ...row, interval_start: row.interval_start?.toISOString() ?? null }));
}
