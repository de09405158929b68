import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { absoluteUrl } from '../../http/envelope.js';
import {
  CurrencyCode,
  DecimalString,
  Links,
  Nullable,
  PatternString,
  Timestamp,
  TimestampInput,
} from '../../http/schemas.js';
import { formatAmount } from '../../money/index.js';
import type { ApiKey } from './api-keys.js';
import type { Customer } from './customers.js';
import type { Partner } from './partners.js';

/** How accounts look on the wire: schemas (for validation and OpenAPI) and presenters. */

const Status = Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]);

const Email = Type.String({ format: 'email', maxLength: 254 });
const Phone = PatternString(
  '^\\+?[0-9 ().\\/-]{3,32}$',
  'must be a phone number: 3 to 32 digits, spaces and ( ) . / -, after an optional +',
  { description: 'Phone number, E.164 preferred' },
);
const Address = Type.String({ maxLength: 500 });
const AccountNumber = PatternString(
  '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$',
  'must be 1 to 32 letters, digits, _ or -, starting with a letter or digit',
  { description: 'Unique human account number; generated when absent' },
);
const Name = Type.String({ minLength: 1, maxLength: 200 });

const accountFields = {
  id: Type.String(),
  account_number: Type.String(),
  name: Type.String(),
  status: Status,
  currency: Type.String(),
  credit_limit: DecimalString('Lowest balance allowed: 0 is prepaid, -55 allows going down to -55'),
  balance: DecimalString('Current balance in the ledger (positive: money held)'),
  available: DecimalString('balance − credit_limit: what can still be spent'),
  email: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  address: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  links: Links,
};

export const PartnerSchema = Type.Object({ object: Type.Literal('partner'), ...accountFields });
export const CustomerSchema = Type.Object({
  object: Type.Literal('customer'),
  ...accountFields,
  partner_id: Nullable(Type.String()),
  ratecard_id: Nullable(Type.String({ description: 'Sell rate card' })),
  concurrent_call_limit: Nullable(
    Type.Integer({ description: 'Calls in progress allowed at once; null: unlimited' }),
  ),
});

const writableAccountFields = {
  account_number: Type.Optional(AccountNumber),
  currency: Type.Optional(CurrencyCode),
  credit_limit: Type.Optional(DecimalString()),
  email: Type.Optional(Nullable(Email)),
  phone: Type.Optional(Nullable(Phone)),
  address: Type.Optional(Nullable(Address)),
  status: Type.Optional(Status),
};

export const PartnerCreateBody = Type.Object(
  { name: Name, ...writableAccountFields, currency: CurrencyCode },
  { additionalProperties: false },
);
export const PartnerUpdateBody = Type.Object(
  { name: Type.Optional(Name), ...writableAccountFields },
  { additionalProperties: false, minProperties: 1 },
);
export const CustomerCreateBody = Type.Object(
  {
    name: Name,
    ...writableAccountFields,
    partner_id: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    ratecard_id: Type.Optional(Nullable(Type.String({ maxLength: 64, description: 'Sell rate card' }))),
    concurrent_call_limit: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000 }))),
  },
  { additionalProperties: false },
);
export const CustomerUpdateBody = Type.Object(
  {
    name: Type.Optional(Name),
    ...writableAccountFields,
    partner_id: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    ratecard_id: Type.Optional(Nullable(Type.String({ maxLength: 64, description: 'Sell rate card' }))),
    concurrent_call_limit: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000 }))),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ApiKeySchema = Type.Object({
  object: Type.Literal('api_key'),
  id: Type.String(),
  key_prefix: Type.String({ description: 'First characters of the secret, to tell keys apart' }),
  description: Nullable(Type.String()),
  role: Type.String(),
  partner_id: Nullable(Type.String()),
  customer_id: Nullable(Type.String()),
  allowed_ips: Type.Array(Type.String()),
  status: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired')]),
  expires_at: Nullable(Timestamp),
  revoked_at: Nullable(Timestamp),
  last_used_at: Nullable(Timestamp),
  created_at: Timestamp,
  links: Links,
});

export const ApiKeyCreatedSchema = Type.Object({
  ...ApiKeySchema.properties,
  key: Type.String({ description: 'The secret. Shown this once; store it now.' }),
});

export const ApiKeyCreateBody = Type.Object(
  {
    description: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
    role: Type.Union([Type.Literal('admin'), Type.Literal('partner'), Type.Literal('customer')]),
    partner_id: Type.Optional(Type.String({ maxLength: 64 })),
    customer_id: Type.Optional(Type.String({ maxLength: 64 })),
    allowed_ips: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
    expires_at: Type.Optional(Nullable(TimestampInput)),
  },
  { additionalProperties: false },
);

export const ApiKeyUpdateBody = Type.Object(
  {
    description: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
    allowed_ips: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
    expires_at: Type.Optional(Nullable(TimestampInput)),
  },
  { additionalProperties: false, minProperties: 1 },
);

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function accountView(request: FastifyRequest, row: Partner | Customer, path: string) {
  return {
    id: row.id,
    account_number: row.account_number,
    name: row.name,
    status: row.status,
    currency: row.currency,
    credit_limit: row.credit_limit,
    email: row.email,
    phone: row.phone,
    address: row.address,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    links: { self: absoluteUrl(request, `${path}/${row.id}`) } as Record<string, string>,
  };
}

/** The ledger's view of an account's money (src/modules/ledger: moneyView). */
type Money = { balance: string; available: string };

export function presentPartner(request: FastifyRequest, partner: Partner, money: Money) {
  const view = accountView(request, partner, '/api/v1/partners');
  view.links = {
    ...view.links,
    customers: absoluteUrl(request, `/api/v1/customers?partner_id=${partner.id}`),
    api_keys: absoluteUrl(request, `/api/v1/api-keys?partner_id=${partner.id}`),
  };
  return {
    object: 'partner' as const,
    ...view,
    credit_limit: formatLimit(partner.credit_limit),
    balance: money.balance,
    available: money.available,
  };
}

/**
 * A customer's representation without its links: nothing in it depends on the request, so the
 * customer cache computes it once per committed version (CustomerSnapshot.fields).
 */
export function customerFields(customer: Customer, money: Money) {
  return {
    object: 'customer' as const,
    id: customer.id,
    account_number: customer.account_number,
    name: customer.name,
    status: customer.status,
    currency: customer.currency,
    credit_limit: formatLimit(customer.credit_limit),
    email: customer.email,
    phone: customer.phone,
    address: customer.address,
    created_at: customer.created_at.toISOString(),
    updated_at: customer.updated_at.toISOString(),
    partner_id: customer.partner_id,
    ratecard_id: customer.ratecard_id,
    concurrent_call_limit: customer.concurrent_call_limit,
    balance: money.balance,
    available: money.available,
  };
}

export type CustomerFields = ReturnType<typeof customerFields>;

/** A customer's representation from its request-independent fields plus this request's links. */
export function presentCustomerFields(request: FastifyRequest, fields: CustomerFields) {
  const links: Record<string, string> = {
    self: absoluteUrl(request, `/api/v1/customers/${fields.id}`),
    api_keys: absoluteUrl(request, `/api/v1/api-keys?customer_id=${fields.id}`),
  };
  if (fields.partner_id) links.partner = absoluteUrl(request, `/api/v1/partners/${fields.partner_id}`);
  return { ...fields, links };
}

export function presentCustomer(request: FastifyRequest, customer: Customer, money: Money) {
  return presentCustomerFields(request, customerFields(customer, money));
}

/** numeric(28,8) comes back as "-55.00000000"; the API shows "-55". */
const formatLimit = (stored: string) => formatAmount(stored);

function keyStatus(key: ApiKey): 'active' | 'revoked' | 'expired' {
  if (key.revoked_at) return 'revoked';
  if (key.expires_at && key.expires_at.getTime() <= Date.now()) return 'expired';
  return 'active';
}

export function presentApiKey(request: FastifyRequest, key: ApiKey) {
  return {
    object: 'api_key' as const,
    id: key.id,
    key_prefix: key.key_prefix,
    description: key.description,
    role: key.role,
    partner_id: key.partner_id,
    customer_id: key.customer_id,
    allowed_ips: key.allowed_ips,
    status: keyStatus(key),
    expires_at: iso(key.expires_at),
    revoked_at: iso(key.revoked_at),
    last_used_at: iso(key.last_used_at),
    created_at: key.created_at.toISOString(),
    links: {
      self: absoluteUrl(request, `/api/v1/api-keys/${key.id}`),
      ...(key.customer_id ? { customer: absoluteUrl(request, `/api/v1/customers/${key.customer_id}`) } : {}),
      ...(key.partner_id ? { partner: absoluteUrl(request, `/api/v1/partners/${key.partner_id}`) } : {}),
    },
  };
}
