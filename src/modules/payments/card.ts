import { invalid } from '../../errors.js';

/**
 * Card checks made before any gateway sees a card: Luhn, expiry, CVV length. The number itself
 * is never stored; a profile keeps only the brand and the last four digits.
 */

export interface CardInput {
  number: string;
  expMonth: number;
  expYear: number;
  cvv: string;
  holderName: string;
}

export function luhnValid(digits: string): boolean {
  if (!/^\d{12,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** The brand from the number's leading digits (IIN ranges of the common networks). */
export function cardBrand(digits: string): string {
  if (/^4/.test(digits)) return 'visa';
  if (/^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/.test(digits)) return 'mastercard';
  if (/^3[47]/.test(digits)) return 'amex';
  if (/^(6011|65|64[4-9])/.test(digits)) return 'discover';
  if (/^35(2[89]|[3-8]\d)/.test(digits)) return 'jcb';
  if (/^3(0[0-5]|[689])/.test(digits)) return 'diners';
  return 'unknown';
}

/** A card is valid through the last day of its expiry month. */
export function isExpired(expMonth: number, expYear: number, now: Date): boolean {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  return expYear < year || (expYear === year && expMonth < month);
}

/** Spaces and dashes people type are dropped; anything else is refused. */
export function normaliseCardNumber(raw: string): string {
  return raw.replace(/[\s-]/g, '');
}

/** Throws 'invalid' naming the field at fault; returns the normalised number. */
export function checkCard(card: CardInput, now: Date): string {
  const digits = normaliseCardNumber(card.number);
  if (!luhnValid(digits))
    throw invalid('card_number is not a valid card number (Luhn check failed)', 'card_number');
  // Zeros alone pass Luhn (their sum is 0) but are no card: a placeholder, never a number to charge.
  if (/^0+$/.test(digits)) throw invalid('card_number is not a valid card number (all zeros)', 'card_number');
  if (card.expMonth < 1 || card.expMonth > 12) throw invalid('exp_month must be 1 to 12', 'exp_month');
  if (isExpired(card.expMonth, card.expYear, now)) throw invalid('The card has expired', 'exp_year');
  const cvvLength = cardBrand(digits) === 'amex' ? 4 : 3;
  if (!new RegExp(`^\\d{${cvvLength}}$`).test(card.cvv)) {
    throw invalid(`cvv must be ${cvvLength} digits for this card`, 'cvv');
  }
  if (card.holderName.trim() === '')
    throw invalid("Missing required parameter 'cardholder_name'", 'cardholder_name');
  return digits;
}
