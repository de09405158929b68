import { Decimal as DecimalJs } from 'decimal.js';

/**
 * Exact decimal arithmetic for every amount and rate. A private decimal.js constructor with
 * enough precision that no sum or product we make is ever rounded implicitly: rounding happens
 * only through the named helpers below, at a scale the caller chooses.
 */
export const Decimal = DecimalJs.clone({
  precision: 60,
  rounding: DecimalJs.ROUND_HALF_UP,
  toExpNeg: -40,
  toExpPos: 60,
});
export type Decimal = InstanceType<typeof Decimal>;

/** Largest scale (fractional digits) stored for an amount or a credit limit. */
export const AMOUNT_SCALE = 8;
/** Largest number of integer digits accepted for an amount (NUMERIC(28,8) in the database). */
export const AMOUNT_INTEGER_DIGITS = 20;

const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

export class InvalidAmountError extends Error {}

/**
 * Parses an amount given as text (the API accepts strings, and JSON numbers that were parsed
 * without loss). Rejects exponents, too many fractional digits and oversize values rather than
 * rounding them, because a billing system must not quietly change what it was told.
 */
export function parseAmount(text: string, maxScale = AMOUNT_SCALE): Decimal {
  const trimmed = text.trim();
  if (!DECIMAL_TEXT.test(trimmed)) throw new InvalidAmountError(`'${text}' is not a decimal number`);
  const [integerPart = '', fraction = ''] = trimmed.replace('-', '').split('.');
  if (fraction.length > maxScale) {
    throw new InvalidAmountError(`'${text}' has more than ${maxScale} decimal places`);
  }
  if (integerPart.replace(/^0+/, '').length > AMOUNT_INTEGER_DIGITS) {
    throw new InvalidAmountError(`'${text}' is too large`);
  }
  return new Decimal(trimmed);
}

/** Canonical text of an amount: plain notation, no trailing fractional zeros ("-55", "245.71293"). */
export function formatAmount(value: Decimal | string): string {
  const decimal = typeof value === 'string' ? new Decimal(value) : value;
  const text = decimal.toFixed();
  return text === '-0' ? '0' : text;
}

export const roundHalfUp = (value: Decimal, scale: number): Decimal =>
  value.toDecimalPlaces(scale, Decimal.ROUND_HALF_UP);
export const roundHalfEven = (value: Decimal, scale: number): Decimal =>
  value.toDecimalPlaces(scale, Decimal.ROUND_HALF_EVEN);
/** Away from zero: the customer never pays less than the exact amount. */
export const roundUp = (value: Decimal, scale: number): Decimal =>
  value.toDecimalPlaces(scale, Decimal.ROUND_UP);
export const roundDown = (value: Decimal, scale: number): Decimal =>
  value.toDecimalPlaces(scale, Decimal.ROUND_DOWN);

export type RoundingMode = 'half_up' | 'half_even' | 'up' | 'down';

export function roundTo(value: Decimal, scale: number, mode: RoundingMode): Decimal {
  switch (mode) {
    case 'half_up':
      return roundHalfUp(value, scale);
    case 'half_even':
      return roundHalfEven(value, scale);
    case 'up':
      return roundUp(value, scale);
    case 'down':
      return roundDown(value, scale);
    default: {
      const unknown: never = mode;
      throw new Error(`unknown rounding mode ${String(unknown)}`);
    }
  }
}
