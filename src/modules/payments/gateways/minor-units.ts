import { Decimal } from '../../../money/index.js';

/**
 * Stripe's wire format counts money in Stripe's own smallest unit of each currency, which is not
 * always ISO 4217's (https://docs.stripe.com/currencies): only the currencies of its zero-decimal
 * list are sent as whole units; ISK and HUF, whole units for ISO and Intl, are two-decimal in its
 * API (5000 ISK is `amount=500000`), as is every currency on neither list; the three-decimal ones
 * keep three (Stripe refuses a last digit other than 0).
 */
const STRIPE_ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);
const STRIPE_THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

function stripeDecimals(currency: string): number {
  if (STRIPE_ZERO_DECIMAL.has(currency)) return 0;
  return STRIPE_THREE_DECIMAL.has(currency) ? 3 : 2;
}

/**
 * An amount in Stripe's smallest unit. Payment amounts are never finer than the ISO minor unit
 * (amounts.ts), which is never finer than Stripe's for a currency Stripe takes, so this is exact.
 */
export function toStripeMinorUnits(amount: Decimal, currency: string): number {
  const minor = amount.times(new Decimal(10).pow(stripeDecimals(currency)));
  if (!minor.isInteger())
    throw new Error(`${amount.toFixed()} ${currency} is finer than Stripe's smallest unit of the currency`);
  return minor.toNumber();
}
