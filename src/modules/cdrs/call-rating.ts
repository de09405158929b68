import type { RoundingMode } from '../../money/index.js';
import { billedSeconds } from '../rating/charging.js';
import { NO_MATCH, type RateVersion } from '../rating/prefix-index.js';
import type { LoadedCard } from '../rating/rating-index.js';

/**
 * Prices one leg of a call (the customer's sell card or the carrier's buy card) with the one
 * charging rule (rating/charging.ts), in exact integer arithmetic: the index holds rates and fees
 * as integer counts of 1e-8 (rating/units.ts), so a cost is an integer count of 1e-8 too. BigInt
 * keeps every product exact whatever its size; no Decimal is allocated per CDR and no float ever
 * touches money. `cdr-cost.test.ts` checks it against callCost over random inputs.
 */
export type LegRating =
  | {
      rated: true;
      ratecardId: string;
      currency: string;
      prefix: string;
      destination: string;
      ratePerMinute: string;
      billedSeconds: number;
      /** The cost in 1e-8 units (0 when nobody answered). */
      cost: bigint;
    }
  | { rated: false; reason: 'no_rate' };

/** 10^(8 − d): one unit of the d-th decimal, in 1e-8 units, for rounding_decimals d in 0..8. */
const STEP = Array.from({ length: 9 }, (_, decimals) => 10n ** BigInt(8 - decimals));

/**
 * connection_fee + rate_per_minute × billed / 60, rounded once to `decimals` places with `mode`:
 * callCost's result, as 1e-8 units. Rates and fees are never negative (toUnits).
 */
export function costUnits(
  rateUnits: number,
  feeUnits: number,
  billed: number,
  decimals: number,
  mode: RoundingMode,
): bigint {
  const step = STEP[decimals];
  if (step === undefined) throw new RangeError(`rounding decimals must be 0 to 8, got ${decimals}`);
  // The exact cost × 60, in 1e-8 units; the divisor turns it into units of the rounding step.
  const numerator = BigInt(feeUnits) * 60n + BigInt(rateUnits) * BigInt(billed);
  const divisor = 60n * step;
  let quotient = numerator / divisor;
  const twice = (numerator % divisor) * 2n;
  if (twice > 0n) {
    const roundsUp =
      mode === 'up' ||
      (mode === 'half_up' && twice >= divisor) ||
      (mode === 'half_even' && (twice > divisor || (twice === divisor && quotient % 2n === 1n)));
    if (roundsUp) quotient++;
  }
  return quotient * step;
}

/** 1e-8 units as canonical amount text ("-0.0123", "5"), as formatAmount writes it. */
export function unitsText(units: bigint): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(9, '0');
  const whole = digits.slice(0, -8);
  const fraction = digits.slice(-8).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Each matched version's text fields, made once per loaded card rather than once per CDR. */
const versions = new WeakMap<LoadedCard, Map<number, RateVersion>>();

function versionOf(card: LoadedCard, slot: number): RateVersion {
  let known = versions.get(card);
  if (!known) {
    known = new Map();
    versions.set(card, known);
  }
  let version = known.get(slot);
  if (!version) {
    version = card.index.version(slot);
    known.set(slot, version);
  }
  return version;
}

/**
 * `billsec` is the answered time. A call nobody answered costs nothing: the connection fee is
 * for a connected call, so it is not charged when billsec is 0.
 */
export function rateLeg(card: LoadedCard, callee: string, startTime: Date, billsec: number): LegRating {
  const slot = card.index.match(callee, startTime.getTime());
  if (slot === NO_MATCH) return { rated: false, reason: 'no_rate' };
  const version = versionOf(card, slot);
  const billed = billsec === 0 ? 0 : billedSeconds(billsec, version);
  const cost =
    billsec === 0
      ? 0n
      : costUnits(
          card.index.rateUnitsOf(slot),
          card.index.feeUnitsOf(slot),
          billed,
          card.card.rounding_decimals,
          card.card.rounding_mode,
        );
  return {
    rated: true,
    ratecardId: card.card.id,
    currency: card.card.currency,
    prefix: version.prefix,
    destination: version.destination,
    ratePerMinute: version.rate,
    billedSeconds: billed,
    cost,
  };
}
