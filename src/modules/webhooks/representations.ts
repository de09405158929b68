import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { absoluteUrl } from '../../http/envelope.js';
import { Links, Nullable, Timestamp } from '../../http/schemas.js';
import type { Delivery } from './delivery-log.js';
import type { Endpoint } from './endpoints.js';
import { EVENT_TYPES } from './events.js';

/** How webhook endpoints and deliveries look on the wire. */

const EndpointStatus = Type.Union([Type.Literal('active'), Type.Literal('disabled')]);
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'http or https URL events are POSTed to',
});
const Events = Type.Array(Type.String({ maxLength: 64 }), {
  minItems: 1,
  maxItems: 16,
  description: `Event types (${EVENT_TYPES.join(', ')}), or ["*"] for all`,
});
const Description = Type.String({ maxLength: 500 });

export const EndpointSchema = Type.Object({
  object: Type.Literal('webhook_endpoint'),
  id: Type.String(),
  owner_kind: Type.Union([Type.Literal('operator'), Type.Literal('partner'), Type.Literal('customer')]),
  partner_id: Nullable(Type.String()),
  customer_id: Nullable(Type.String()),
  url: Type.String(),
  description: Nullable(Type.String()),
  events: Type.Array(Type.String()),
  status: EndpointStatus,
  created_at: Timestamp,
  updated_at: Timestamp,
  links: Links,
});

export const EndpointWithSecretSchema = Type.Object({
  ...EndpointSchema.properties,
  secret: Type.String({ description: 'Signing secret (whsec_…): shown this once' }),
});

export const EndpointCreateBody = Type.Object(
  {
    url: Url,
    events: Events,
    description: Type.Optional(Nullable(Description)),
    status: Type.Optional(EndpointStatus),
    partner_id: Type.Optional(Type.String({ maxLength: 64, description: 'Operator: a partner’s endpoint' })),
    customer_id: Type.Optional(
      Type.String({ maxLength: 64, description: 'Operator or partner: a customer’s endpoint' }),
    ),
  },
  { additionalProperties: false },
);

export const EndpointUpdateBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    description: Type.Optional(Nullable(Description)),
    status: Type.Optional(EndpointStatus),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const DeliverySchema = Type.Object({
  object: Type.Literal('webhook_delivery'),
  id: Type.String({ description: 'The event id: one delivery per event and endpoint' }),
  endpoint_id: Type.String(),
  event_type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  next_attempt_at: Nullable(Timestamp),
  last_attempt_at: Nullable(Timestamp),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  delivered_at: Nullable(Timestamp),
  created_at: Timestamp,
  event: Type.Record(Type.String(), Type.Unknown(), {
    description: 'The body sent: { id, type, created_at, data }',
  }),
});

const endpointPath = (id: string) => `/api/v1/webhook-endpoints/${id}`;

export function presentEndpoint(request: FastifyRequest, endpoint: Endpoint) {
  return {
    object: 'webhook_endpoint' as const,
    id: endpoint.id,
    owner_kind: endpoint.owner_kind,
    partner_id: endpoint.partner_id,
    customer_id: endpoint.customer_id,
    url: endpoint.url,
    description: endpoint.description,
    events: endpoint.events,
    status: endpoint.status,
    created_at: endpoint.created_at.toISOString(),
    updated_at: endpoint.updated_at.toISOString(),
    links: {
      self: absoluteUrl(request, endpointPath(endpoint.id)),
      deliveries: absoluteUrl(request, `${endpointPath(endpoint.id)}/deliveries`),
    },
  };
}

export function presentDelivery(delivery: Delivery) {
  return {
    object: 'webhook_delivery' as const,
    id: delivery.event_id,
    endpoint_id: delivery.endpoint_id,
    event_type: delivery.event_type,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.status === 'pending' ? delivery.next_attempt_at.toISOString() : null,
    last_attempt_at: delivery.last_attempt_at?.toISOString() ?? null,
    last_status_code: delivery.last_status_code,
    last_error: delivery.last_error,
    delivered_at: delivery.delivered_at?.toISOString() ?? null,
    created_at: delivery.created_at.toISOString(),
    event: JSON.parse(delivery.payload) as Record<string, unknown>,
  };
}
