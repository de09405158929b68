import { currencyMinorUnits, Decimal } from '../../../money/index.js';

/**
 * Stripe's wire format counts money in the currency's smallest unit (cents). Payment amounts
 * are never finer than that unit (amounts.ts), so the conversion is exact both ways.
 */
export function toMinorUnits(amount: Decimal, currency: string): number {
  const minor = amount.times(new Decimal(10).pow(currencyMinorUnits(currency)));
  if (!minor.isInteger())
    throw new Error(`${amount.toFixed()} ${currency} is finer than the currency's minor unit`);
  return minor.toNumber();
}

export function fromMinorUnits(minor: number, currency: string): Decimal {
  return new Decimal(minor).dividedBy(new Decimal(10).pow(currencyMinorUnits(currency)));
}
