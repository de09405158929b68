import type { FastifyRequest } from 'fastify';
import type { Selectable } from 'kysely';
import { Type } from 'typebox';
import { absoluteUrl } from '../../http/envelope.js';
import { Links, Nullable, Timestamp } from '../../http/schemas.js';
import { formatAmount } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import type { RateVersion } from '../rating/prefix-index.js';
import type { Cdr } from './cdr-queries.js';
import { DISPOSITIONS, type LiveCallsTable } from './schema.js';

/** How CDRs, batches, call authorizations and stats look on the wire. */

const Decimal = Nullable(Type.String({ description: 'Exact decimal as a string' }));

export const DispositionSchema = Type.Union(DISPOSITIONS.map((value) => Type.Literal(value)));

export const CdrSchema = Type.Object({
  object: Type.Literal('cdr'),
  id: Type.String(),
  switch_id: Type.String(),
  call_id: Type.String(),
  batch_id: Type.String(),
  customer_id: Nullable(Type.String()),
  carrier_id: Nullable(Type.String()),
  caller: Type.String(),
  callee: Type.String(),
  start_time: Timestamp,
  answer_time: Nullable(Timestamp),
  end_time: Timestamp,
  duration: Type.Integer(),
  billsec: Type.Integer(),
  disposition: Type.String(),
  hangup_cause: Nullable(Type.String()),
  pdd_ms: Nullable(Type.Integer()),
  tags: Type.Record(Type.String(), Type.String()),
  rating_state: Type.String(),
  unrated_reason: Nullable(Type.String()),
  currency: Nullable(Type.String()),
  prefix: Nullable(Type.String()),
  destination: Nullable(Type.String()),
  rate: Decimal,
  billed_seconds: Nullable(Type.Integer()),
  cost: Decimal,
  charged: Type.String(),
  buy_rate: Type.Optional(Decimal),
  buy_cost: Type.Optional(Decimal),
  buy_currency: Type.Optional(Nullable(Type.String())),
  margin: Type.Optional(Decimal),
  links: Links,
});

const money = (value: string | null) => (value === null ? null : formatAmount(value));

/** What we pay carriers is the operator's business: only admin keys see buy costs and margins. */
export function presentCdr(request: FastifyRequest, principal: Principal, cdr: Cdr) {
  const operatorView =
    principal.role === 'admin'
      ? {
          buy_rate: money(cdr.buy_rate),
          buy_cost: money(cdr.buy_cost),
          buy_currency: cdr.buy_currency,
          margin: money(cdr.margin),
        }
      : {};
  return {
    object: 'cdr' as const,
    id: cdr.id,
    switch_id: cdr.switch_id,
    call_id: cdr.call_id,
    batch_id: cdr.batch_id,
    customer_id: cdr.customer_id,
    carrier_id: principal.role === 'admin' ? cdr.carrier_id : null,
    caller: cdr.caller,
    callee: cdr.callee,
    start_time: cdr.start_time.toISOString(),
    answer_time: cdr.answer_time?.toISOString() ?? null,
    end_time: cdr.end_time.toISOString(),
    duration: cdr.duration,
    billsec: cdr.billsec,
    disposition: cdr.disposition,
    hangup_cause: cdr.hangup_cause,
    pdd_ms: cdr.pdd_ms,
    tags: cdr.tags,
    rating_state: cdr.rating_state,
    unrated_reason: cdr.unrated_reason,
    currency: cdr.currency,
    prefix: cdr.sell_prefix,
    destination: cdr.destination,
    rate: money(cdr.sell_rate),
    billed_seconds: cdr.billed_seconds,
    cost: money(cdr.sell_cost),
    charged: formatAmount(cdr.charged_amount),
    ...operatorView,
    links: {
      self: absoluteUrl(request, `/api/v1/cdrs/${cdr.id}`),
      ...(cdr.customer_id ? { customer: absoluteUrl(request, `/api/v1/customers/${cdr.customer_id}`) } : {}),
    },
  };
}

export const CSV_COLUMNS = [
  'id',
  'switch_id',
  'call_id',
  'customer_id',
  'caller',
  'callee',
  'start_time',
  'answer_time',
  'end_time',
  'duration',
  'billsec',
  'disposition',
  'hangup_cause',
  'pdd_ms',
  'rating_state',
  'unrated_reason',
  'currency',
  'prefix',
  'destination',
  'rate',
  'billed_seconds',
  'cost',
] as const;

/** The carrier leg, after the columns every key gets: for the operator's export only. */
export const OPERATOR_CSV_COLUMNS = ['carrier_id', 'buy_rate', 'buy_cost', 'buy_currency', 'margin'] as const;

/** The CSV columns a principal gets: carrier legs and margins are the operator's business. */
export const csvColumnsFor = (principal: Principal): readonly string[] =>
  principal.role === 'admin' ? [...CSV_COLUMNS, ...OPERATOR_CSV_COLUMNS] : CSV_COLUMNS;

export function csvRecord(cdr: Cdr, principal: Principal): (string | number | null)[] {
  const record: (string | number | null)[] = [
    cdr.id,
    cdr.switch_id,
    cdr.call_id,
    cdr.customer_id,
    cdr.caller,
    cdr.callee,
    cdr.start_time.toISOString(),
    cdr.answer_time?.toISOString() ?? null,
    cdr.end_time.toISOString(),
    cdr.duration,
    cdr.billsec,
    cdr.disposition,
    cdr.hangup_cause,
    cdr.pdd_ms,
    cdr.rating_state,
    cdr.unrated_reason,
    cdr.currency,
    cdr.sell_prefix,
    cdr.destination,
    money(cdr.sell_rate),
    cdr.billed_seconds,
    money(cdr.sell_cost),
  ];
  if (principal.role === 'admin')
    record.push(
      cdr.carrier_id,
      money(cdr.buy_rate),
      money(cdr.buy_cost),
      cdr.buy_currency,
      money(cdr.margin),
    );
  return record;
}

export const IngestResultSchema = Type.Object({
  batch_id: Type.String(),
  received: Type.Integer(),
  accepted: Type.Integer({ description: 'Stored now (new call ids)' }),
  duplicates: Type.Integer({ description: 'Already stored earlier: not charged again' }),
  rated: Type.Integer(),
  unrated: Type.Integer(),
  charged: Type.Array(
    Type.Object({
      customer_id: Type.String(),
      amount: Type.String(),
      currency: Type.String(),
      transaction_id: Type.String(),
    }),
  ),
  rejected: Type.Array(
    Type.Object({ index: Type.Integer(), reason: Type.String(), param: Type.Optional(Type.String()) }),
  ),
});

const RateSchema = Type.Object({
  prefix: Type.String(),
  destination: Type.String(),
  rate: Type.String(),
  connection_fee: Type.String(),
  initial_increment: Type.Integer(),
  increment: Type.Integer(),
  effective_from: Timestamp,
  effective_to: Nullable(Timestamp),
});

export const CallAuthorizationSchema = Type.Object({
  authorized: Type.Boolean(),
  reason: Nullable(
    Type.String({
      description:
        'Why not (null when authorized): account_suspended (the customer, or the partner it belongs to, is suspended or closed), no_rate, blocked_destination, insufficient_funds, concurrent_limit',
    }),
  ),
  customer_id: Type.String(),
  callee: Type.String(),
  max_duration_seconds: Type.Integer(),
  available: Type.String(),
  currency: Type.String(),
  rate: Nullable(RateSchema),
  carriers: Type.Array(
    Type.Object({
      carrier_id: Type.String(),
      name: Type.String(),
      priority: Type.Integer(),
      prefix: Type.String(),
      rate: Type.String(),
    }),
  ),
});

export const LiveCallSchema = Type.Object({
  object: Type.Literal('live_call'),
  id: Type.String(),
  call_id: Type.String(),
  customer_id: Type.String(),
  callee: Type.String(),
  started_at: Timestamp,
  expires_at: Timestamp,
  links: Links,
});

export function presentLiveCall(request: FastifyRequest, call: Selectable<LiveCallsTable>) {
  return {
    object: 'live_call' as const,
    id: call.id,
    call_id: call.call_id,
    customer_id: call.customer_id,
    callee: call.callee,
    started_at: call.started_at.toISOString(),
    expires_at: call.expires_at.toISOString(),
    links: {
      self: absoluteUrl(request, `/api/v1/calls/${call.id}`),
      customer: absoluteUrl(request, `/api/v1/customers/${call.customer_id}`),
    },
  };
}

export const RerateResultSchema = Type.Object({
  customer_id: Type.String(),
  examined: Type.Integer(),
  changed: Type.Integer({
    description:
      'CDRs rewritten because anything priced changed (prefix, destination, rates, costs…), charged or not',
  }),
  rated: Type.Integer(),
  unrated: Type.Integer(),
  difference: Type.String({ description: 'Charged now minus charged before; posted as one call_charge' }),
  currency: Type.String(),
  transaction_id: Nullable(Type.String()),
});

export const StatsRowSchema = Type.Object({
  group: Nullable(Type.String()),
  interval_start: Nullable(Timestamp),
  currency: Nullable(
    Type.String({
      description:
        'Of revenue, cost and margin: a group is split by currency, counts included. Null for calls that were not rated (no money)',
    }),
  ),
  attempts: Type.Integer(),
  answered: Type.Integer(),
  asr: Type.String(),
  ner: Type.String(),
  acd_seconds: Type.String(),
  avg_pdd_ms: Nullable(Type.String()),
  minutes: Type.String(),
  revenue: Type.String(),
  cost: Type.Optional(
    Type.String({
      description:
        'Admin keys only. Buy costs in this currency; a buy leg in another currency is left out (no exchange rates)',
    }),
  ),
  margin: Type.Optional(
    Type.String({
      description: 'Admin keys only. Sell − buy of the calls whose buy leg is in this currency',
    }),
  ),
});

/** The index's rate version in the API's snake_case. */
export function presentRate(rate: RateVersion | null) {
  return (
    rate && {
      prefix: rate.prefix,
      destination: rate.destination,
      rate: rate.rate,
      connection_fee: rate.connectionFee,
      initial_increment: rate.initialIncrementSeconds,
      increment: rate.incrementSeconds,
      effective_from: rate.effectiveFrom.toISOString(),
      effective_to: rate.effectiveTo?.toISOString() ?? null,
    }
  );
}
