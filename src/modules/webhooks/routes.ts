import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import { principalOf } from '../../http/auth.js';
import { ok, okList, toPage } from '../../http/envelope.js';
import { Envelope, IdOf, IdParams, ListEnvelope, PageQuery } from '../../http/schemas.js';
import { registerVisibility } from '../../http/visibility.js';
import { visible } from '../accounts/routes.js';
import { listDeliveries } from './delivery-log.js';
import { EgressPolicy } from './egress.js';
import {
  createEndpoint,
  deleteEndpoint,
  type EndpointWithSecret,
  getEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from './endpoints.js';
import {
  DeliverySchema,
  EndpointCreateBody,
  EndpointSchema,
  EndpointUpdateBody,
  EndpointWithSecretSchema,
  presentDelivery,
  presentEndpoint,
} from './representations.js';

export interface WebhookEndpointRoutesOptions {
  db: Db;
  config: Config;
}

const Deleted = Envelope(Type.Object({ id: Type.String(), deleted: Type.Literal(true) }));
const Params = IdParams('whe');

/** Outgoing events: endpoints the operator, partners and customers register (docs/webhooks.md). */
export const webhookEndpointRoutes: FastifyPluginAsyncTypebox<WebhookEndpointRoutesOptions> = async (
  app,
  { db, config },
) => {
  const tags = ['Webhook endpoints'];
  const egress = new EgressPolicy(config.webhookAllowedNetworks);
  registerVisibility(app, 'whe', (principal, id) => visible(getEndpoint(db, principal, id)));
  const withSecret = (request: Parameters<typeof presentEndpoint>[0], created: EndpointWithSecret) => ({
    ...presentEndpoint(request, created.endpoint),
    secret: created.secret,
  });

  app.get('/webhook-endpoints', {
    schema: {
      tags,
      summary: 'List the webhook endpoints visible to the caller (never their secrets)',
      querystring: Type.Object(
        {
          ...PageQuery('whe'),
          partner_id: Type.Optional(IdOf('par')),
          customer_id: Type.Optional(IdOf('cus')),
        },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(EndpointSchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, partner_id, customer_id } = request.query;
      const rows = await listEndpoints(db, principalOf(request), {
        limit,
        startingAfter: starting_after,
        partnerId: partner_id,
        customerId: customer_id,
      });
      return okList(request, toPage(rows, limit), (row) => presentEndpoint(request, row));
    },
  });

  app.post('/webhook-endpoints', {
    schema: {
      tags,
      summary: 'Register a webhook endpoint; data.secret is the signing secret, shown this once',
      body: EndpointCreateBody,
      response: { 201: Envelope(EndpointWithSecretSchema) },
    },
    config: { answerShownOnce: true },
    handler: async (request, reply) => {
      const created = await createEndpoint(
        db,
        { secretsKey: config.secretsKey, egress },
        principalOf(request),
        request.body,
      );
      reply.code(201);
      return ok(request, withSecret(request, created), {}, 201);
    },
  });

  app.get('/webhook-endpoints/:id', {
    schema: {
      tags,
      summary: 'Get a webhook endpoint',
      params: Params,
      response: { 200: Envelope(EndpointSchema) },
    },
    handler: async (request) =>
      ok(request, presentEndpoint(request, await getEndpoint(db, principalOf(request), request.params.id))),
  });

  app.patch('/webhook-endpoints/:id', {
    schema: {
      tags,
      summary: 'Change an endpoint’s URL, events, description or status (disabled: nothing is sent)',
      params: Params,
      body: EndpointUpdateBody,
      response: { 200: Envelope(EndpointSchema) },
    },
    handler: async (request) => {
      const endpoint = await updateEndpoint(
        db,
        egress,
        principalOf(request),
        request.params.id,
        request.body,
      );
      return ok(request, presentEndpoint(request, endpoint));
    },
  });

  app.delete('/webhook-endpoints/:id', {
    schema: {
      tags,
      summary: 'Delete an endpoint and its delivery history',
      params: Params,
      response: { 200: Deleted },
    },
    handler: async (request) => {
      await deleteEndpoint(db, principalOf(request), request.params.id);
      return ok(request, { id: request.params.id, deleted: true as const });
    },
  });

  app.post('/webhook-endpoints/:id/rotate-secret', {
    schema: {
      tags,
      summary: 'Replace the signing secret at once; data.secret is the new one, shown this once',
      params: Params,
      response: { 200: Envelope(EndpointWithSecretSchema) },
    },
    config: { answerShownOnce: true },
    handler: async (request) => {
      const rotated = await rotateSecret(db, config.secretsKey, principalOf(request), request.params.id);
      return ok(request, withSecret(request, rotated));
    },
  });

  app.get('/webhook-endpoints/:id/deliveries', {
    schema: {
      tags,
      summary: 'The endpoint’s deliveries, newest event first, with their attempts and last outcome',
      params: Params,
      querystring: Type.Object(
        {
          ...PageQuery('evt'),
          status: Type.Optional(
            Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
          ),
        },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(DeliverySchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, status } = request.query;
      const rows = await listDeliveries(db, principalOf(request), request.params.id, {
        limit,
        startingAfter: starting_after,
        status,
      });
      return okList(request, toPage(rows, limit), presentDelivery);
    },
  });
};
