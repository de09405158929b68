/**
 * ISO 4217 currency codes, from the ICU data built into Node (no table of our own to keep up to
 * date). The list includes historic codes ICU still knows; it never includes a made-up code.
 */
const CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

export function isCurrencyCode(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && CURRENCIES.has(code);
}

/** Minor units of a currency (2 for USD, 0 for JPY, 3 for KWD). */
export function currencyMinorUnits(code: string): number {
  return (
    new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions()
      .maximumFractionDigits ?? 2
  );
}
