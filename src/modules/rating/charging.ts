import { Decimal, type RoundingMode, roundTo } from '../../money/index.js';

/**
 * The charging rule, the one formula every caller uses (issue 4). For a call of `d` seconds
 * with initial increment `I` (minimum billed seconds) and increment `P` (pulse):
 *   billed = 0 when d = 0; I when 0 < d ≤ I; otherwise I + ⌈(d − I) / P⌉ · P.
 *   cost   = connection_fee + rate_per_minute × billed / 60, exact, rounded once at the end.
 * Durations are whole seconds (callers round a measured duration up before charging).
 */
export interface Increments {
  initialIncrementSeconds: number;
  incrementSeconds: number;
}

export interface CostInput extends Increments {
  durationSeconds: number;
  ratePerMinute: Decimal | string;
  connectionFee: Decimal | string;
  roundingDecimals: number;
  roundingMode: RoundingMode;
}

export interface Cost {
  billedSeconds: number;
  cost: Decimal;
}

function assertWholeSeconds(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be a whole number ≥ ${min}, got ${value}`);
}

export function billedSeconds(durationSeconds: number, increments: Increments): number {
  const { initialIncrementSeconds: initial, incrementSeconds: pulse } = increments;
  assertWholeSeconds('durationSeconds', durationSeconds, 0);
  assertWholeSeconds('initialIncrementSeconds', initial, 1);
  assertWholeSeconds('incrementSeconds', pulse, 1);
  if (durationSeconds === 0) return 0;
  if (durationSeconds <= initial) return initial;
  return initial + Math.ceil((durationSeconds - initial) / pulse) * pulse;
}

export function callCost(input: CostInput): Cost {
  const billed = billedSeconds(input.durationSeconds, input);
  // rate × billed / 60 in that order: the division is the only inexact step and Decimal keeps
  // 60 significant digits, far beyond the 8 decimals we round to.
  const usage = new Decimal(input.ratePerMinute).times(billed).dividedBy(60);
  const exact = new Decimal(input.connectionFee).plus(usage);
  return { billedSeconds: billed, cost: roundTo(exact, input.roundingDecimals, input.roundingMode) };
}
