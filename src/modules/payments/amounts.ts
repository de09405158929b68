import { invalid } from '../../errors.js';
import {
  currencyMinorUnits,
  type Decimal,
  InvalidAmountError,
  isCurrencyCode,
  parseAmount,
} from '../../money/index.js';

/** A payment amount: positive, and no finer than the currency's minor unit (no 10.001 USD on a card). */
export function paymentAmount(text: string | number, currency: string): Decimal {
  let amount: Decimal;
  try {
    amount = parseAmount(String(text));
  } catch (error) {
    if (error instanceof InvalidAmountError) throw invalid(`amount: ${error.message}`, 'amount');
    throw error;
  }
  if (!amount.greaterThan(0)) throw invalid('amount must be greater than 0', 'amount');
  const minor = currencyMinorUnits(currency);
  if (amount.decimalPlaces() > minor) {
    throw invalid(`amount has more than ${minor} decimal places, the smallest unit of ${currency}`, 'amount');
  }
  return amount;
}

export function currencyCode(text: string): string {
  const code = text.toUpperCase();
  if (!isCurrencyCode(code)) throw invalid(`'${text}' is not an ISO 4217 currency code`, 'currency');
  return code;
}
