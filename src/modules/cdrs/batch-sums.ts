import { unitsText } from './call-rating.js';
import type { PricedCdr } from './cdr-pricing.js';
import { copyValue } from './copy-ingest.js';

/**
 * A batch's sums computed from its priced CDRs, for the direct COPY path (decision 0043), which
 * stores every CDR of the batch or none: there, what was stored is exactly what was priced, so the
 * per-customer totals that charging needs and the hourly rollup's sums come from the values just
 * written instead of reading the batch's rows back by id (decision 0046). They are the same sums
 * as storedGroups() (ingest.ts) and contributions() (stats-rollup.ts), which the deduplicating
 * path and re-rating still compute in SQL. test/cdrs-stats-rollup.test.ts checks the rollup
 * against a GROUP BY over `cdrs` after every ingestion (it fails if a sum here is left out), the
 * ingestion tests check the charges, and batch-sums.test.ts the edges (nulls, hours, signs).
 */

/** What a batch stored, per customer, currency and rating state. */
export interface StoredGroup {
  customer_id: string | null;
  currency: string | null;
  rating_state: string;
  stored: number;
  /** The sum of the CDRs' charged_amount, as decimal text. */
  charged: string;
}

const ratingState = (priced: PricedCdr) => (priced.unratedReason ? 'unrated' : 'rated');
/** Map keys of nullable ids: PostgreSQL text cannot hold this character, so null never meets an id. */
const NULL_KEY = '\u0000';

export function storedGroupsOf(priced: readonly PricedCdr[]): StoredGroup[] {
  const groups = new Map<string, StoredGroup & { units: bigint }>();
  for (const entry of priced) {
    const state = ratingState(entry);
    const key = `${entry.customerId ?? NULL_KEY}\t${entry.currency ?? NULL_KEY}\t${state}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        customer_id: entry.customerId,
        currency: entry.currency,
        rating_state: state,
        stored: 0,
        charged: '0',
        units: 0n,
      };
      groups.set(key, group);
    }
    group.stored++;
    // charged_amount as copyLine writes it: the sell cost, or 0 without one.
    if (entry.sell) group.units += entry.sell.cost;
  }
  return [...groups.values()].map(({ units, ...group }) => ({ ...group, charged: unitsText(units) }));
}

/** cdr_stats_hourly's columns in the order rollupCopyChunks() writes them. */
export const ROLLUP_COLUMNS = [
  'hour',
  'customer_id',
  'partner_id',
  'carrier_id',
  'attempts',
  'answered',
  'reached',
  'answered_seconds',
  'pdd_sum',
  'pdd_count',
  'revenue',
  'cost',
  'margin',
] as const;

interface HourGroup {
  hourMs: number;
  customerId: string | null;
  partnerId: string | null;
  carrierId: string | null;
  attempts: number;
  answered: number;
  reached: number;
  answeredSeconds: number;
  pddSum: number;
  pddCount: number;
  revenue: bigint;
  cost: bigint;
  margin: bigint;
}

const HOUR_MS = 3_600_000;

/** Lines of COPY text per chunk, as copy-ingest.ts streams the CDRs themselves. */
const CHUNK_LINES = 500;

/**
 * The batch's rollup sums per UTC hour × customer × partner × carrier, as chunks of COPY text
 * lines for cdr_stats_hourly's columns (ROLLUP_COLUMNS).
 */
export function* rollupCopyChunks(priced: readonly PricedCdr[]): Generator<string> {
  const groups = new Map<string, HourGroup>();
  for (const entry of priced) {
    const { cdr } = entry;
    const hourMs = Math.floor(cdr.startTime.getTime() / HOUR_MS) * HOUR_MS;
    const key = `${hourMs}\t${entry.customerId ?? NULL_KEY}\t${entry.partnerId ?? NULL_KEY}\t${cdr.carrierId ?? NULL_KEY}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        hourMs,
        customerId: entry.customerId,
        partnerId: entry.partnerId,
        carrierId: cdr.carrierId,
        attempts: 0,
        answered: 0,
        reached: 0,
        answeredSeconds: 0,
        pddSum: 0,
        pddCount: 0,
        revenue: 0n,
        cost: 0n,
        margin: 0n,
      };
      groups.set(key, group);
    }
    group.attempts++;
    if (cdr.disposition === 'answered') {
      group.answered++;
      group.answeredSeconds += cdr.billsec;
    }
    if (cdr.disposition === 'answered' || cdr.disposition === 'busy' || cdr.disposition === 'no_answer') {
      group.reached++;
    }
    if (cdr.pddMs !== null) {
      group.pddSum += cdr.pddMs;
      group.pddCount++;
    }
    if (entry.sell) group.revenue += entry.sell.cost;
    if (entry.buy) group.cost += entry.buy.cost;
    if (entry.margin !== null) group.margin += entry.margin;
  }
  let text = '';
  let lines = 0;
  for (const g of groups.values()) {
    text +=
      `${new Date(g.hourMs).toISOString()}\t${copyValue(g.customerId)}\t${copyValue(g.partnerId)}\t${copyValue(g.carrierId)}` +
      `\t${g.attempts}\t${g.answered}\t${g.reached}\t${g.answeredSeconds}\t${g.pddSum}\t${g.pddCount}` +
      `\t${unitsText(g.revenue)}\t${unitsText(g.cost)}\t${unitsText(g.margin)}\n`;
    if (++lines % CHUNK_LINES === 0) {
      yield text;
      text = '';
    }
  }
  if (text) yield text;
}
