import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { absoluteUrl, type RequestOrigin } from '../../http/envelope.js';
import {
  CurrencyCode,
  DecimalString,
  ErrorEnvelope,
  Links,
  Nullable,
  PatternString,
  Timestamp,
  TimestampInput,
} from '../../http/schemas.js';
import { isoTimestamp } from '../../iso-time.js';
import { formatAmount } from '../../money/index.js';
import type { Carrier } from './carriers.js';
import type { Derivation } from './derivation.js';
import type { LcrAnswer, Match } from './lookup.js';
import type { CardMatch, NumberLookup } from './numbers.js';
import type { RateVersion } from './prefix-index.js';
import type { Ratecard } from './ratecards.js';
import type { Rate } from './rates.js';
import type { LoadedCard } from './rating-index.js';
import { unitsDifference } from './units.js';
import { MAX_DESTINATION_LENGTH } from './values.js';

/** How rating looks on the wire: schemas (validation and OpenAPI) and presenters. */

const Direction = Type.Union([Type.Literal('sell'), Type.Literal('buy')]);
const RoundingMode = Type.Union([
  Type.Literal('half_up'),
  Type.Literal('half_even'),
  Type.Literal('up'),
  Type.Literal('down'),
]);
const Seconds = (description: string) => Type.Integer({ minimum: 1, maximum: 86_400, description });
const Prefix = PatternString('^[0-9]{1,16}$', 'must be 1 to 16 digits', {
  description: 'Digits only, 1 to 16',
});
const Name = Type.String({ minLength: 1, maxLength: 200 });

export const RatecardSchema = Type.Object({
  object: Type.Literal('ratecard'),
  id: Type.String(),
  name: Type.String(),
  currency: Type.String(),
  direction: Direction,
  connection_fee: DecimalString(),
  initial_increment: Type.Integer(),
  increment: Type.Integer(),
  rounding_decimals: Type.Integer(),
  rounding_mode: RoundingMode,
  created_at: Timestamp,
  updated_at: Timestamp,
  links: Links,
});

const ratecardWritable = {
  connection_fee: Type.Optional(DecimalString('Default connection fee of new rates')),
  initial_increment: Type.Optional(Seconds('Default minimum billed seconds')),
  increment: Type.Optional(Seconds('Default pulse in seconds')),
  rounding_decimals: Type.Optional(Type.Integer({ minimum: 0, maximum: 8 })),
  rounding_mode: Type.Optional(RoundingMode),
};
export const RatecardCreateBody = Type.Object(
  { name: Name, currency: CurrencyCode, direction: Direction, ...ratecardWritable },
  { additionalProperties: false },
);
export const RatecardUpdateBody = Type.Object(
  {
    name: Type.Optional(Name),
    currency: Type.Optional(CurrencyCode),
    direction: Type.Optional(Direction),
    ...ratecardWritable,
  },
  { additionalProperties: false, minProperties: 1 },
);

export const RateSchema = Type.Object({
  object: Type.Literal('rate'),
  id: Type.String(),
  ratecard_id: Type.String(),
  prefix: Type.String(),
  destination: Type.String(),
  rate: DecimalString('Price per minute'),
  connection_fee: DecimalString(),
  initial_increment: Type.Integer(),
  increment: Type.Integer(),
  effective_from: Timestamp,
  effective_to: Nullable(Timestamp),
  blocked: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
  links: Links,
});

const rateWritable = {
  destination: Type.Optional(Type.String({ maxLength: MAX_DESTINATION_LENGTH })),
  connection_fee: Type.Optional(DecimalString()),
  initial_increment: Type.Optional(Seconds('Minimum billed seconds')),
  increment: Type.Optional(Seconds('Pulse in seconds')),
  effective_from: Type.Optional(TimestampInput),
  effective_to: Type.Optional(Nullable(TimestampInput)),
  blocked: Type.Optional(Type.Boolean()),
};
export const RateCreateBody = Type.Object(
  { prefix: Prefix, rate: DecimalString('Price per minute'), ...rateWritable },
  { additionalProperties: false },
);
export const RateUpdateBody = Type.Object(
  { prefix: Type.Optional(Prefix), rate: Type.Optional(DecimalString('Price per minute')), ...rateWritable },
  { additionalProperties: false, minProperties: 1 },
);

export const CarrierSchema = Type.Object({
  object: Type.Literal('carrier'),
  id: Type.String(),
  name: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  ratecard_id: Type.String(),
  priority: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
  links: Links,
});
const carrierWritable = {
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive')])),
  priority: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Lower is preferred on equal cost' }),
  ),
};
export const CarrierCreateBody = Type.Object(
  {
    name: Name,
    ratecard_id: Type.String({ maxLength: 64, description: 'The carrier’s buy card' }),
    ...carrierWritable,
  },
  { additionalProperties: false },
);
export const CarrierUpdateBody = Type.Object(
  {
    name: Type.Optional(Name),
    ratecard_id: Type.Optional(Type.String({ maxLength: 64 })),
    ...carrierWritable,
  },
  { additionalProperties: false, minProperties: 1 },
);

const matchedFields = {
  prefix: Type.String(),
  destination: Type.String(),
  rate: DecimalString('Price per minute'),
  connection_fee: DecimalString(),
  initial_increment: Type.Integer(),
  increment: Type.Integer(),
  effective_from: Timestamp,
  effective_to: Nullable(Timestamp),
  blocked: Type.Boolean(),
  currency: Type.String(),
  ratecard_id: Type.String(),
};
export const RateLookupSchema = Type.Object({
  object: Type.Literal('rate_lookup'),
  number: Type.String(),
  at: Timestamp,
  ...matchedFields,
  links: Links,
});

export const LcrSchema = Type.Object({
  object: Type.Literal('lcr'),
  number: Type.String(),
  at: Timestamp,
  strategy: Type.String(),
  sell: Type.Object(matchedFields),
  routes: Type.Array(
    Type.Object({
      carrier_id: Type.String(),
      carrier_name: Type.String(),
      priority: Type.Integer(),
      ...matchedFields,
      margin: DecimalString('Sell rate minus this buy rate, per minute'),
    }),
  ),
  excluded_other_currency: Type.Array(Type.String(), {
    description: 'Carriers whose buy card is in another currency',
  }),
  links: Links,
});

export const ImportResultSchema = Type.Object({
  object: Type.Literal('deck_import'),
  ratecard_id: Type.String(),
  mode: Type.String(),
  rows: Type.Integer(),
  added: Type.Integer(),
  changed: Type.Integer(),
  unchanged: Type.Integer(),
  closed: Type.Integer(),
  duration_ms: Type.Integer(),
});

/** The error envelope plus every bad row of a rejected deck. */
export const ImportRejectedSchema = Type.Object({
  ...ErrorEnvelope.properties,
  errors: Type.Optional(
    Type.Array(Type.Object({ line: Type.Integer(), column: Nullable(Type.String()), reason: Type.String() })),
  ),
  errors_truncated: Type.Optional(Type.Boolean()),
});

const iso = (date: Date | null) => (date ? date.toISOString() : null);
const amount = (text: string) => formatAmount(text);

export function presentRatecard(request: FastifyRequest, card: Ratecard) {
  const self = `/api/v1/ratecards/${card.id}`;
  return {
    object: 'ratecard' as const,
    id: card.id,
    name: card.name,
    currency: card.currency,
    direction: card.direction,
    connection_fee: amount(card.connection_fee),
    initial_increment: card.initial_increment,
    increment: card.increment,
    rounding_decimals: card.rounding_decimals,
    rounding_mode: card.rounding_mode,
    created_at: card.created_at.toISOString(),
    updated_at: card.updated_at.toISOString(),
    links: {
      self: absoluteUrl(request, self),
      rates: absoluteUrl(request, `${self}/rates`),
      import: absoluteUrl(request, `${self}/import`),
      export: absoluteUrl(request, `${self}/export.csv`),
    },
  };
}

export function presentRate(request: FastifyRequest, rate: Rate) {
  return {
    object: 'rate' as const,
    id: rate.id,
    ratecard_id: rate.ratecard_id,
    prefix: rate.prefix,
    destination: rate.destination,
    rate: amount(rate.rate),
    connection_fee: amount(rate.connection_fee),
    initial_increment: rate.initial_increment,
    increment: rate.increment,
    effective_from: rate.effective_from.toISOString(),
    effective_to: iso(rate.effective_to),
    blocked: rate.blocked,
    created_at: rate.created_at.toISOString(),
    updated_at: rate.updated_at.toISOString(),
    links: {
      self: absoluteUrl(request, `/api/v1/rates/${rate.id}`),
      ratecard: absoluteUrl(request, `/api/v1/ratecards/${rate.ratecard_id}`),
    },
  };
}

export function presentCarrier(request: FastifyRequest, carrier: Carrier) {
  return {
    object: 'carrier' as const,
    id: carrier.id,
    name: carrier.name,
    status: carrier.status,
    ratecard_id: carrier.ratecard_id,
    priority: carrier.priority,
    created_at: carrier.created_at.toISOString(),
    updated_at: carrier.updated_at.toISOString(),
    links: {
      self: absoluteUrl(request, `/api/v1/carriers/${carrier.id}`),
      ratecard: absoluteUrl(request, `/api/v1/ratecards/${carrier.ratecard_id}`),
    },
  };
}

function matched(version: RateVersion, card: Ratecard) {
  return {
    prefix: version.prefix,
    destination: version.destination,
    rate: version.rate,
    connection_fee: version.connectionFee,
    initial_increment: version.initialIncrementSeconds,
    increment: version.incrementSeconds,
    effective_from: version.effectiveFrom.toISOString(),
    effective_to: iso(version.effectiveTo),
    blocked: version.blocked,
    currency: card.currency,
    ratecard_id: card.id,
  };
}

type MatchedFields = Readonly<ReturnType<typeof matched>>;

/** Versions presented per loaded card; beyond this many the card's memo starts again. */
const PRESENTED_VERSIONS_PER_CARD = 4096;
const presentedVersions = new WeakMap<LoadedCard, Map<number, MatchedFields>>();

/**
 * A version's fields as lookups and LCR answer them, built once per loaded card and version: a
 * loaded card never changes (a change loads a new one), and building them (decimal text from
 * the index's units, ISO dates) was about a twentieth of a rate lookup's CPU. Bounded per card,
 * since a card can hold a million versions.
 */
function versionFields(loaded: LoadedCard, version: number): MatchedFields {
  let memo = presentedVersions.get(loaded);
  if (memo === undefined) {
    memo = new Map();
    presentedVersions.set(loaded, memo);
  }
  let fields = memo.get(version);
  if (fields === undefined) {
    if (memo.size >= PRESENTED_VERSIONS_PER_CARD) memo.clear();
    fields = matched(loaded.index.version(version), loaded.card);
    memo.set(version, fields);
  }
  return fields;
}

export function presentLookup(request: RequestOrigin, match: Match) {
  return {
    object: 'rate_lookup' as const,
    number: match.number,
    at: isoTimestamp(match.at),
    ...versionFields(match.loaded, match.version),
    links: { ratecard: absoluteUrl(request, `/api/v1/ratecards/${match.loaded.card.id}`) },
  };
}

export function presentLcr(request: RequestOrigin, answer: LcrAnswer, strategy: string) {
  const sellUnits = answer.sell.loaded.index.rateUnitsOf(answer.sell.version);
  return {
    object: 'lcr' as const,
    number: answer.sell.number,
    at: isoTimestamp(answer.sell.at),
    strategy,
    sell: versionFields(answer.sell.loaded, answer.sell.version),
    routes: answer.routes.map(({ route, version, rateUnits }) => ({
      carrier_id: route.carrier.id,
      carrier_name: route.carrier.name,
      priority: route.carrier.priority,
      ...versionFields(route.loaded, version),
      margin: unitsDifference(sellUnits, rateUnits),
    })),
    excluded_other_currency: answer.otherCurrency,
    links: { customer_card: absoluteUrl(request, `/api/v1/ratecards/${answer.sell.loaded.card.id}`) },
  };
}

const Percentage = PatternString(
  '^\\d{1,5}(\\.\\d{1,4})?$',
  'must be a percentage of 0 or more such as 12.5 (up to 5 digits, 4 decimals)',
  { description: 'Markup in percent of the cost, e.g. "12.5"' },
);
const profitFields = {
  percentage: Type.Optional(Percentage),
  absolute: Type.Optional(DecimalString('Added to the marked-up cost, per minute')),
  min_margin: Type.Optional(DecimalString('The price is never below cost + this, per minute')),
};
const ProfitOverride = Type.Object(
  { prefix: Prefix, ...profitFields },
  { additionalProperties: false, description: 'Replaces the named fields for rates under prefix' },
);
export const DerivationBody = Type.Object(
  {
    source_ids: Type.Array(Type.String({ maxLength: 64 }), {
      minItems: 1,
      maxItems: 16,
      description: 'Buy cards to price from; per prefix the cheapest (not blocked) cost is used',
    }),
    ...profitFields,
    rounding_decimals: Type.Optional(Type.Integer({ minimum: 0, maximum: 8, default: 4 })),
    rounding_mode: Type.Optional(RoundingMode),
    overrides: Type.Optional(Type.Array(ProfitOverride, { maxItems: 10_000 })),
  },
  { additionalProperties: false },
);
export const DerivationSchema = Type.Object({
  object: Type.Literal('ratecard_derivation'),
  ratecard_id: Type.String(),
  source_ids: Type.Array(Type.String()),
  percentage: DecimalString(),
  absolute: DecimalString(),
  min_margin: DecimalString(),
  rounding_decimals: Type.Integer(),
  rounding_mode: RoundingMode,
  overrides: Type.Array(
    Type.Object({
      prefix: Type.String(),
      percentage: Type.Optional(DecimalString()),
      absolute: Type.Optional(DecimalString()),
      min_margin: Type.Optional(DecimalString()),
    }),
  ),
  compiled_at: Nullable(Timestamp),
  compiled_rates: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
  links: Links,
});

export function presentDerivation(request: FastifyRequest, derivation: Derivation) {
  const card = `/api/v1/ratecards/${derivation.ratecard_id}`;
  return {
    object: 'ratecard_derivation' as const,
    ratecard_id: derivation.ratecard_id,
    source_ids: derivation.source_ids,
    percentage: amount(derivation.percentage),
    absolute: amount(derivation.absolute),
    min_margin: amount(derivation.min_margin),
    rounding_decimals: derivation.rounding_decimals,
    rounding_mode: derivation.rounding_mode,
    overrides: derivation.overrides,
    compiled_at: iso(derivation.compiled_at),
    compiled_rates: derivation.compiled_rates,
    created_at: derivation.created_at.toISOString(),
    updated_at: derivation.updated_at.toISOString(),
    links: {
      self: absoluteUrl(request, `${card}/derivation`),
      ratecard: absoluteUrl(request, card),
      rates: absoluteUrl(request, `${card}/rates`),
    },
  };
}

export const NumberLookupSchema = Type.Object({
  object: Type.Literal('number_lookup'),
  number: Type.String({ description: 'As given' }),
  e164: Type.String(),
  international_format: Type.String(),
  country: Nullable(Type.String({ description: 'ISO 3166-1 alpha-2, when one country owns the range' })),
  country_calling_code: Type.String(),
  national_number: Type.String(),
  type: Nullable(Type.String({ description: 'MOBILE, FIXED_LINE, TOLL_FREE, … when known' })),
  valid: Type.Boolean({ description: 'An assigned range in libphonenumber’s metadata' }),
  at: Timestamp,
  rate: Type.Optional(
    Nullable(Type.Object(matchedFields, { description: 'The caller’s card; null when it has no rate' })),
  ),
  carriers: Type.Optional(
    Type.Array(
      Type.Object({
        carrier_id: Type.String(),
        carrier_name: Type.String(),
        prefix: Type.String(),
        destination: Type.String(),
        blocked: Type.Boolean(),
      }),
      { description: 'Operator only: carriers whose buy card covers the number' },
    ),
  ),
  links: Links,
});

export function presentNumberLookup(request: FastifyRequest, lookup: NumberLookup) {
  const onCard = ({ loaded, version }: CardMatch) => versionFields(loaded, version);
  return {
    object: 'number_lookup' as const,
    number: lookup.number,
    e164: lookup.e164,
    international_format: lookup.international,
    country: lookup.country,
    country_calling_code: lookup.countryCallingCode,
    national_number: lookup.nationalNumber,
    type: lookup.type,
    valid: lookup.valid,
    at: lookup.at.toISOString(),
    ...(lookup.rate !== undefined ? { rate: lookup.rate ? onCard(lookup.rate) : null } : {}),
    ...(lookup.carriers
      ? {
          carriers: lookup.carriers.map(({ carrierId, carrierName, match }) => ({
            carrier_id: carrierId,
            carrier_name: carrierName,
            prefix: match.loaded.index.prefixOf(match.version),
            destination: match.loaded.index.destinationName(match.version),
            blocked: match.loaded.index.isBlocked(match.version),
          })),
        }
      : {}),
    links: { rate_lookup: absoluteUrl(request, `/api/v1/rates/lookup?number=${lookup.e164.slice(1)}`) },
  };
}
