import type { FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { absoluteUrl } from '../../http/envelope.js';
import {
  CurrencyCode,
  DecimalString,
  IdOf,
  Links,
  Nullable,
  PatternString,
  Timestamp,
} from '../../http/schemas.js';
import { formatAmount } from '../../money/index.js';
import type { GatewayRow } from './gateway-configs.js';
import type { Profile } from './profiles.js';
import type { RecurringRow } from './recurring.js';
import type { TransactionRow } from './settle.js';
import { TRANSACTION_KINDS, TRANSACTION_STATUSES } from './state-machine.js';

/** How payments look on the wire: request bodies, response schemas and presenters. */

export const CustomerRefFields = {
  customer_id: Type.Optional(IdOf('cus')),
  account_number: Type.Optional(
    Type.String({ maxLength: 32, description: 'The customer’s account number, instead of customer_id' }),
  ),
};

export const CardFields = {
  card_number: Type.Optional(
    Type.String({ minLength: 12, maxLength: 23, description: 'Never stored; Luhn-checked' }),
  ),
  exp_month: Type.Optional(Type.Integer({ minimum: 1, maximum: 12 })),
  exp_year: Type.Optional(Type.Integer({ minimum: 2000, maximum: 2100 })),
  cvv: Type.Optional(Type.String({ maxLength: 4, description: 'Never stored' })),
  cardholder_name: Type.Optional(Type.String({ maxLength: 200 })),
};

export const BankFields = {
  bank_account_number: Type.Optional(
    Type.String({ maxLength: 17, description: 'Never stored; last 4 kept' }),
  ),
  routing_number: Type.Optional(Type.String({ maxLength: 9 })),
  account_holder: Type.Optional(Type.String({ maxLength: 200 })),
};

export const BillingFields = {
  billing_address: Type.Optional(Type.String({ maxLength: 500 })),
  billing_city: Type.Optional(Type.String({ maxLength: 100 })),
  billing_state: Type.Optional(Type.String({ maxLength: 100 })),
  billing_postal_code: Type.Optional(Type.String({ maxLength: 20 })),
  billing_country: Type.Optional(
    PatternString('^[A-Za-z]{2}$', 'must be a two-letter ISO 3166 country code', {
      description: 'ISO 3166 alpha-2',
    }),
  ),
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
};

export const Amount = DecimalString('Amount in the currency, no finer than its minor unit');

export const TransactionSchema = Type.Object({
  object: Type.Literal('payment_transaction'),
  id: Type.String(),
  transaction_id: Type.String(),
  payment_id: Type.String(),
  customer_id: Type.String(),
  type: Type.Enum(TRANSACTION_KINDS),
  status: Type.Enum(TRANSACTION_STATUSES),
  amount: DecimalString(),
  currency: Type.String(),
  gateway: Type.String({
    description: "'test' (built in), 'thirdparty', 'paypal', or a gateway configuration id",
  }),
  gateway_reference: Nullable(Type.String()),
  error_code: Nullable(Type.String()),
  message: Nullable(Type.String()),
  reference: Nullable(Type.String()),
  description: Nullable(Type.String()),
  ledger_transaction_id: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  links: Links,
});

export function presentTransaction(request: FastifyRequest, row: TransactionRow) {
  return {
    object: 'payment_transaction' as const,
    id: row.id,
    transaction_id: row.id,
    payment_id: row.payment_id,
    customer_id: row.customer_id,
    type: row.kind,
    status: row.status,
    amount: formatAmount(row.amount),
    currency: row.currency,
    gateway: row.gateway_key,
    gateway_reference: row.gateway_reference,
    error_code: row.error_code,
    message: row.error_message,
    reference: row.reference,
    description: row.description,
    ledger_transaction_id: row.ledger_transaction_id,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    links: {
      self: absoluteUrl(request, `/api/v1/transactions?payment_id=${row.payment_id}`),
      customer: absoluteUrl(request, `/api/v1/customers/${row.customer_id}`),
    },
  };
}

export const ProfileSchema = Type.Object({
  object: Type.Literal('payment_profile'),
  id: Type.String(),
  profile_id: Type.String(),
  customer_id: Type.String(),
  kind: Type.Enum(['card', 'bank'] as const),
  brand: Nullable(Type.String()),
  last4: Type.String(),
  exp_month: Nullable(Type.Integer()),
  exp_year: Nullable(Type.Integer()),
  holder_name: Type.String(),
  currency: Type.String(),
  is_default: Type.Boolean(),
  status: Type.Enum(['active', 'removed'] as const),
  gateway: Type.String(),
  billing_address: Type.Optional(Nullable(Type.String())),
  billing_city: Type.Optional(Nullable(Type.String())),
  billing_state: Type.Optional(Nullable(Type.String())),
  billing_postal_code: Type.Optional(Nullable(Type.String())),
  billing_country: Type.Optional(Nullable(Type.String())),
  email: Type.Optional(Nullable(Type.String())),
  created_at: Type.Optional(Timestamp),
  updated_at: Type.Optional(Timestamp),
});

/** The short form (customer/profiles) or the full one (customer/profiles/full, with the billing address). */
export function presentProfile(profile: Profile, full = true) {
  const summary = {
    object: 'payment_profile' as const,
    id: profile.id,
    profile_id: profile.id,
    customer_id: profile.customer_id,
    kind: profile.kind,
    brand: profile.brand,
    last4: profile.last4,
    exp_month: profile.exp_month,
    exp_year: profile.exp_year,
    holder_name: profile.holder_name,
    currency: profile.currency,
    is_default: profile.is_default,
    status: profile.status,
    gateway: profile.gateway_id ?? 'test',
  };
  if (!full) return summary;
  return {
    ...summary,
    billing_address: profile.billing_address,
    billing_city: profile.billing_city,
    billing_state: profile.billing_state,
    billing_postal_code: profile.billing_postal_code,
    billing_country: profile.billing_country,
    email: profile.email,
    created_at: profile.created_at.toISOString(),
    updated_at: profile.updated_at.toISOString(),
  };
}

/** Answers of the profile write routes: seed 004 style, with a status and no money moved. */
export const ProfileResultSchema = Type.Object({
  status: Type.Literal('success'),
  transaction_id: Type.Null({ description: 'No money moves when a profile is written' }),
  customer_id: Type.String(),
  profile: ProfileSchema,
});

export const GatewaySchema = Type.Object({
  object: Type.Literal('gateway'),
  id: Type.String(),
  type: Type.Enum(['test', 'stripe', 'paypal', 'moneris'] as const),
  name: Type.String(),
  mode: Type.Enum(['test', 'live'] as const),
  currency: Type.String(),
  settings: Type.Record(Type.String(), Type.String()),
  credentials: Type.String({ description: 'Always "sealed": credentials are write-only' }),
  is_default: Type.Boolean(),
  status: Type.Enum(['active', 'disabled'] as const),
  created_at: Timestamp,
  updated_at: Timestamp,
  links: Links,
});

export function presentGateway(request: FastifyRequest, row: GatewayRow) {
  return {
    object: 'gateway' as const,
    id: row.id,
    type: row.type,
    name: row.name,
    mode: row.mode,
    currency: row.currency,
    settings: row.settings,
    credentials: 'sealed',
    is_default: row.is_default,
    status: row.status,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    links: { self: absoluteUrl(request, `/api/v1/gateways/${row.id}`) },
  };
}

const GatewayWritable = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  mode: Type.Optional(Type.Enum(['test', 'live'] as const)),
  credentials: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 4096 }))),
  settings: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 2048 }))),
  is_default: Type.Optional(Type.Boolean()),
};
export const GatewayCreateBody = Type.Object(
  {
    type: Type.Enum(['test', 'stripe', 'paypal', 'moneris'] as const),
    currency: CurrencyCode,
    ...GatewayWritable,
  },
  { additionalProperties: false },
);
export const GatewayUpdateBody = Type.Object(
  { ...GatewayWritable, status: Type.Optional(Type.Enum(['active', 'disabled'] as const)) },
  { additionalProperties: false, minProperties: 1 },
);

export const RecurringSchema = Type.Object({
  object: Type.Literal('recurring_payment'),
  id: Type.String(),
  recurring_payment_id: Type.String(),
  customer_id: Type.String(),
  profile_id: Type.String(),
  amount: DecimalString(),
  currency: Type.String(),
  interval: Type.Enum(['daily', 'weekly', 'monthly', 'yearly'] as const),
  start_date: Type.String(),
  next_processing_date: Type.String(),
  status: Type.Enum(['active', 'suspended', 'removed'] as const),
  failure_count: Type.Integer(),
  last_error: Nullable(Type.String()),
  description: Nullable(Type.String()),
  transaction_id: Type.Null({ description: 'No money moves when a schedule is written' }),
});

export function presentRecurring(row: RecurringRow) {
  return {
    object: 'recurring_payment' as const,
    id: row.id,
    recurring_payment_id: row.id,
    customer_id: row.customer_id,
    profile_id: row.profile_id,
    amount: formatAmount(row.amount),
    currency: row.currency,
    interval: row.interval,
    start_date: row.start_date,
    next_processing_date: row.next_date,
    status: row.status,
    failure_count: row.failure_count,
    last_error: row.last_error,
    description: row.description,
    transaction_id: null,
  };
}
