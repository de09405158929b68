import { parsePhoneNumberFromString, validatePhoneNumberLength } from 'libphonenumber-js/max';
import { invalid } from '../../errors.js';
import type { Principal } from '../../tenancy.js';
import { type CardSelector, type Customers, sellCardIndex } from './lookup.js';
import { NO_MATCH } from './prefix-index.js';
import type { LoadedCard, RatingIndex } from './rating-index.js';
import { normaliseNumber, requireTimestamp } from './values.js';

/**
 * Number lookup ("Smart Lookup", seed 001): what libphonenumber-js knows about a number in
 * international form, plus the destination names the caller's card (and, for the operator, each
 * carrier's card) gives it.
 *
 * A number that cannot be a phone number (not digits, unknown country code, wrong length) is a
 * 400. A number of a possible length that libphonenumber's metadata does not know as assigned
 * answers with `valid: false`: new ranges are dialled (and rated) before the metadata has them.
 */
export interface NumberQuery extends CardSelector {
  number: string;
  at?: string;
}

export interface CardMatch {
  loaded: LoadedCard;
  version: number;
}

export interface NumberLookup {
  number: string;
  e164: string;
  country: string | null;
  countryCallingCode: string;
  nationalNumber: string;
  international: string;
  type: string | null;
  valid: boolean;
  at: Date;
  /** On the caller's card, when there is one (null: the card has no rate for it). */
  rate: CardMatch | null | undefined;
  /** Operator only: each active carrier whose buy card covers the number. */
  carriers: { carrierId: string; carrierName: string; match: CardMatch }[] | undefined;
}

const LENGTH_REASONS: Record<string, string> = {
  INVALID_COUNTRY: 'does not start with a known country calling code',
  TOO_SHORT: 'is too short for its country',
  TOO_LONG: 'is too long for its country',
  INVALID_LENGTH: 'has a length no number of its country has',
  NOT_A_NUMBER: 'is not a phone number',
};

/** E.164 facts about a number (digits, optionally with + and spaces/dashes/dots/brackets). */
export function describeNumber(text: string) {
  const digits = normaliseNumber(text);
  const fail = (why: string) =>
    invalid(`number '${text}' ${why} (give it in international form, e.g. +447911123456)`, 'number');
  if (!digits) throw fail('is not a phone number (digits, optionally with a leading +)');
  const e164 = `+${digits}`;
  const lengthProblem = validatePhoneNumberLength(e164);
  if (lengthProblem) throw fail(LENGTH_REASONS[lengthProblem] ?? 'is not a phone number');
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed?.isPossible()) throw fail('is not a possible phone number');
  return {
    e164: parsed.number,
    country: parsed.country ?? null,
    countryCallingCode: parsed.countryCallingCode,
    nationalNumber: parsed.nationalNumber,
    international: parsed.formatInternational(),
    type: parsed.getType() ?? null,
    valid: parsed.isValid(),
  };
}

function matchOn(loaded: LoadedCard, number: string, atMs: number): CardMatch | null {
  const version = loaded.index.match(number, atMs);
  return version === NO_MATCH ? null : { loaded, version };
}

export async function lookupNumber(
  index: RatingIndex,
  customers: Customers,
  principal: Principal,
  query: NumberQuery,
): Promise<NumberLookup> {
  const facts = describeNumber(query.number);
  const digits = facts.e164.slice(1);
  const at = query.at ? requireTimestamp(query.at, 'at') : new Date();
  const hasCard = query.customer_id || query.ratecard_id || principal.customerId;
  const rate = hasCard
    ? matchOn(await sellCardIndex(index, customers, principal, query), digits, at.getTime())
    : undefined;
  const carriers =
    principal.role === 'admin'
      ? (await index.carrierRoutes()).flatMap((route) => {
          const match = matchOn(route.loaded, digits, at.getTime());
          return match ? [{ carrierId: route.carrier.id, carrierName: route.carrier.name, match }] : [];
        })
      : undefined;
  return { number: query.number, ...facts, at, rate, carriers };
}
