import { type Static, type TSchema, type TStringOptions, type TUnsafe, Type } from 'typebox';
import { INSTANT_PATTERN } from '../iso-time.js';

/**
 * Reusable schema pieces. Every route composes its params, query, body and response from these,
 * so the OpenAPI document and the validation rules are the same thing.
 */

const PRIMITIVE_TYPES = new Set(['string', 'integer', 'number', 'boolean']);

/**
 * `schema` or null. A string, integer, number or boolean schema becomes one JSON-schema type list
 * (`type: ['string', 'null']`); anything else an anyOf with null. Bodies are validated with type
 * coercion on, and ajv coerces a value only when it matches none of a type list, where in an
 * anyOf of [T, null] null met T's branch first and was coerced to '' or 0 (a cleared call limit
 * became 0, a cleared description ''). A type list is also what fast-json-stringify writes without
 * running a validator per value. One helper for every module, so no schema keeps the old form.
 */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  const type = (schema as { type?: unknown }).type;
  if (typeof type === 'string' && PRIMITIVE_TYPES.has(type)) {
    return Type.Unsafe<Static<T> | null>({ ...schema, type: [type, 'null'] });
  }
  return Type.Unsafe<Static<T> | null>(Type.Union([schema, Type.Null()]));
}

const DECIMAL_PATTERN = '^-?\\d{1,20}(\\.\\d{1,8})?$';
const ID_PATTERN_PREFIX = /^\^([a-z]+)_\[0-9a-z\]/;

/** Each pattern a schema uses, and what a value must look like to match it. */
const PATTERN_EXPECTATIONS = new Map<string, string>();

/**
 * A string schema with a pattern, and the sentence its 400 says when a value does not match
 * (Ajv's own is "must match pattern" and the regular expression, which a client developer
 * should not have to decode). Every patterned string in the API is made here.
 */
export function PatternString(pattern: string, expectation: string, options: TStringOptions = {}) {
  const known = PATTERN_EXPECTATIONS.get(pattern);
  if (known !== undefined && known !== expectation)
    throw new Error(`pattern ${pattern} is described twice: '${known}' and '${expectation}'`);
  PATTERN_EXPECTATIONS.set(pattern, expectation);
  return Type.String({ ...options, pattern });
}

/** What a value failing a schema's pattern should look like, for the 400's message. */
export function patternExpectation(pattern: string): string | null {
  const known = PATTERN_EXPECTATIONS.get(pattern);
  if (known !== undefined) return known;
  const id = ID_PATTERN_PREFIX.exec(pattern);
  return id ? `must be an id starting with ${id[1]}_` : null;
}

/** An exact decimal. Requests may send a JSON number (coerced to text before it is checked). */
export const DecimalString = (description?: string) =>
  PatternString(DECIMAL_PATTERN, 'must be a decimal number such as 12.50 (up to 20 digits, 8 decimals)', {
    description: description ?? 'Exact decimal, as a string (e.g. "245.71293")',
    examples: ['245.71293'],
  });

/** A name a switch chooses: its call ids (a SIP Call-ID, a UUID…) and its own id. */
export const SwitchToken = (description: string) =>
  PatternString('^[\\x21-\\x7e]{1,128}$', 'must be 1 to 128 printable ASCII characters, without spaces', {
    description,
  });

export const CurrencyCode = PatternString('^[A-Za-z]{3}$', 'must be a three-letter ISO 4217 currency code', {
  description: 'ISO 4217 currency code',
  examples: ['USD'],
});

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' });

/** Input timestamp: ISO 8601, or `YYYY-MM-DD HH:MM:SS` (seed 003's form), taken as UTC (decision 0051). */
export const TimestampInput = PatternString(
  INSTANT_PATTERN,
  'must be a date or an ISO 8601 timestamp (YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM])',
  { maxLength: 40, description: 'ISO 8601 timestamp or YYYY-MM-DD HH:MM:SS (UTC when no offset is given)' },
);

export const Links = Type.Record(Type.String(), Type.String({ format: 'uri' }));

/** An id of one kind (src/ids.ts): its prefix, an underscore, then lower-case letters and digits. */
export const IdOf = (prefix: string, description = `Id starting with ${prefix}_`) =>
  Type.String({ pattern: `^${prefix}_[0-9a-z]{1,40}$`, description });

export const IdParams = (prefix: string) =>
  Type.Object({ id: IdOf(prefix) }, { additionalProperties: false });

/**
 * A list's paging parameters. The cursor is an id of the kind listed, so a cursor of another
 * kind (a client's mix-up) is a 400 naming it, not a silently empty page.
 */
export const PageQuery = (prefix: string) => ({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  starting_after: Type.Optional(IdOf(prefix, 'Cursor: the id of the last item of the previous page')),
});

export function Envelope<T extends TSchema>(data: T) {
  return Type.Object({
    success: Type.Literal(true),
    code: Type.Integer(),
    data,
    links: Links,
  });
}

export function ListEnvelope<T extends TSchema>(item: T) {
  return Type.Object({
    success: Type.Literal(true),
    code: Type.Integer(),
    data: Type.Array(item),
    meta: Type.Object({
      has_more: Type.Boolean(),
      next_cursor: Type.Union([Type.String(), Type.Null()]),
      limit: Type.Integer(),
    }),
    links: Links,
  });
}

export const ErrorEnvelope = Type.Object(
  {
    success: Type.Literal(false),
    code: Type.Integer(),
    status: Type.Literal('error'),
    message: Type.String(),
    request_id: Type.String(),
    error: Type.Object({
      code: Type.Integer(),
      reason: Type.String(),
      type: Type.String(),
      param: Type.Optional(Type.String()),
      details: Type.Optional(
        Type.Array(Type.Record(Type.String(), Type.Unknown()), {
          description: 'Item-level problems, e.g. rejected rows',
        }),
      ),
    }),
  },
  { title: 'Error envelope' },
);
