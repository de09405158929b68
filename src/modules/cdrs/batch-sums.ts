import { unitsText } from './call-rating.js';
import type { PricedCdr } from './cdr-pricing.js';
import { copyValue } from './copy-ingest.js';

/**
 * What a batch stored, per customer, currency and rating state: what the ledger charges
 * (ingest.ts). Summed in SQL over the rows an insert stored, or by batchSums when all of a
 * batch was stored.
 */
export interface StoredGroup {
  customer_id: string | null;
  currency: string | null;
  rating_state: string;
  stored: number;
  charged: string;
}

/** One cdr_stats_hourly row's sums (stats-rollup.ts, `contributions`), in exact units. */
interface RollupSums {
  hour: string;
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

/** The NER numerator's dispositions: the call reached the callee's side. */
const REACHED = new Set(['answered', 'busy', 'no_answer']);

/** Columns of the rollup staging table, in rollupLines' order. */
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

/**
 * A batch's per-customer groups and its statistics rollup sums, computed from the priced CDRs
 * when ALL of them were stored (COPY straight into `cdrs` succeeded, so none was a duplicate).
 * The values are the ones copyLine wrote, so the sums equal the SQL GROUP BYs over the stored
 * rows (storedGroups and stats-rollup's `contributions`, which the other paths use; the rollup
 * test checks the rollup against the CDRs over random batches), without reading 10,000 rows back.
 */
export function batchSums(priced: readonly PricedCdr[]) {
  const groups = new Map<string, StoredGroup & { units: bigint }>();
  const rollup = new Map<string, RollupSums>();
  for (const entry of priced) {
    const { cdr, sell, buy } = entry;
    const state = entry.unratedReason ? 'unrated' : 'rated';
    const groupKey = `${entry.customerId}\u0000${entry.currency}\u0000${state}`;
    let group = groups.get(groupKey);
    if (!group) {
      group = {
        customer_id: entry.customerId,
        currency: entry.currency,
        rating_state: state,
        stored: 0,
        charged: '',
        units: 0n,
      };
      groups.set(groupKey, group);
    }
    group.stored++;
    if (sell) group.units += sell.cost;

    const hour = new Date(Math.floor(cdr.startTime.getTime() / HOUR_MS) * HOUR_MS).toISOString();
    const rollupKey = `${hour}\u0000${entry.customerId}\u0000${entry.partnerId}\u0000${cdr.carrierId}`;
    let sums = rollup.get(rollupKey);
    if (!sums) {
      sums = {
        hour,
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
      rollup.set(rollupKey, sums);
    }
    sums.attempts++;
    if (cdr.disposition === 'answered') {
      sums.answered++;
      sums.answeredSeconds += cdr.billsec;
    }
    if (REACHED.has(cdr.disposition)) sums.reached++;
    if (cdr.pddMs !== null) {
      sums.pddSum += cdr.pddMs;
      sums.pddCount++;
    }
    if (sell) sums.revenue += sell.cost;
    if (buy) sums.cost += buy.cost;
    if (entry.margin !== null) sums.margin += entry.margin;
  }
  const stored: StoredGroup[] = [...groups.values()].map(({ units, ...group }) => ({
    ...group,
    charged: unitsText(units),
  }));
  return { stored, rollupText: rollupText(rollup.values()) };
}

/** The rollup sums as one chunk of COPY text (a batch has a few thousand groups at most). */
function rollupText(rows: Iterable<RollupSums>): string {
  let out = '';
  for (const row of rows) {
    out += `${row.hour}\t${copyValue(row.customerId)}\t${copyValue(row.partnerId)}\t${copyValue(row.carrierId)}\t${row.attempts}\t${
      row.answered
    }\t${row.reached}\t${row.answeredSeconds}\t${row.pddSum}\t${row.pddCount}\t${unitsText(row.revenue)}\t${unitsText(
      row.cost,
    )}\t${unitsText(row.margin)}\n`;
  }
  return out;
}
