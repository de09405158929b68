/**
 * Rates and fees inside the in-memory index are exact integer counts of 1e-8 units held in
 * float64 slots. The database bounds them to numeric(15,8) (< 10,000,000), so every value is an
 * integer below 10^15 < 2^53: exact, comparable without allocating a Decimal, and converted back
 * to decimal text losslessly. Arithmetic on money still happens in Decimal (charging.ts).
 */
export const UNIT_DECIMALS = 8;
const UNITS_PER_ONE = 100_000_000;
/** Largest accepted value: the numeric(15,8) column bound. */
export const MAX_RATE_TEXT = '9999999.99999999';

const UNIT_TEXT = /^(\d{1,7})(?:\.(\d{1,8}))?$/;

/** "0.0123" → 1230000. Null when the text is not a non-negative decimal within the bound. */
export function toUnits(text: string): number | null {
  const match = UNIT_TEXT.exec(text);
  if (!match) return null;
  const fraction = (match[2] ?? '').padEnd(UNIT_DECIMALS, '0');
  return Number(match[1]) * UNITS_PER_ONE + Number(fraction);
}

/**
 * The difference of two unit counts as canonical decimal text ("-0.0012"): both are integers
 * below 10^15, so the subtraction is exact in float64.
 */
export function unitsDifference(minuend: number, subtrahend: number): string {
  const difference = minuend - subtrahend;
  return difference < 0 ? `-${fromUnits(-difference)}` : fromUnits(difference);
}

/** 1230000 → "0.0123" (canonical: no trailing fractional zeros). */
export function fromUnits(units: number): string {
  const whole = Math.floor(units / UNITS_PER_ONE);
  const fraction = String(units % UNITS_PER_ONE)
    .padStart(UNIT_DECIMALS, '0')
    .replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : String(whole);
}
