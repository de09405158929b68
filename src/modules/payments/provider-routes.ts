import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { notFound } from '../../errors.js';
import { principalOf } from '../../http/auth.js';
import { ok } from '../../http/envelope.js';
import { Envelope, IdOf, PatternString } from '../../http/schemas.js';
import { type GatewayRow, getGateway, soleActiveGateway } from './gateway-configs.js';
import { processIpnInbox, receiveIpn } from './ipn-inbox.js';
import { capturePaypalOrder } from './paypal.js';
import { CustomerRefFields, presentTransaction, TransactionSchema } from './representations.js';
import { contextOf, type PaymentRoutesOptions } from './routes.js';
import { handleStripeEvent } from './stripe-events.js';

/** Provider messages are small; anything bigger is not one. */
const WEBHOOK_BODY_LIMIT_BYTES = 256 * 1024;
const GatewayParams = Type.Object(
  {
    gateway_id: IdOf('gw', 'The gateway configuration the provider was given this URL for'),
  },
  { additionalProperties: false },
);

/**
 * Signatures (Stripe) and post-backs (PayPal, whose IPN may be windows-1252) work on the exact
 * bytes received: keep the body as a raw Buffer.
 */
function keepRawBodies(app: FastifyInstance, types: string[]) {
  for (const type of types) {
    app.removeContentTypeParser(type);
    app.addContentTypeParser(
      type,
      { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, body),
    );
  }
}

const rawBodyOf = (body: unknown) => (Buffer.isBuffer(body) ? body : Buffer.alloc(0));

/**
 * Incoming provider notifications: public routes (the providers hold no API key), each
 * authenticated its provider's way — Stripe's signature, PayPal's post-back verification.
 */
export const webhookRoutes: FastifyPluginAsyncTypebox<PaymentRoutesOptions> = async (app, { db, config }) => {
  const ctx = contextOf(db, config);
  keepRawBodies(app, ['application/json', 'application/x-www-form-urlencoded']);
  const tags = ['Payment webhooks'];

  const StripeAnswer = Envelope(
    Type.Object({
      event_id: Type.String(),
      type: Type.String(),
      duplicate: Type.Boolean(),
      settled: Type.Integer(),
    }),
  );
  const stripeEvent = async (request: FastifyRequest, gateway: GatewayRow) => {
    const signature = request.headers['stripe-signature'];
    const body = rawBodyOf(request.body);
    return ok(
      request,
      await handleStripeEvent(ctx, gateway, body, typeof signature === 'string' ? signature : undefined),
    );
  };
  const stripeGateway = async (id: string) => {
    const gateway = await getGateway(db, id);
    if (gateway.type !== 'stripe') throw notFound('Stripe gateway');
    return gateway;
  };

  app.post('/webhooks/stripe', {
    config: { auth: false },
    schema: {
      tags,
      summary:
        'Stripe events for the one active stripe gateway (verified by Stripe-Signature with its webhook secret)',
      response: { 200: StripeAnswer },
    },
    handler: async (request) => stripeEvent(request, await soleActiveGateway(db, 'stripe')),
  });

  app.post('/webhooks/stripe/:gateway_id', {
    config: { auth: false },
    schema: {
      tags,
      summary:
        "Stripe events for a stripe gateway (verified by Stripe-Signature with the gateway's webhook secret)",
      params: GatewayParams,
      response: { 200: StripeAnswer },
    },
    handler: async (request) => stripeEvent(request, await stripeGateway(request.params.gateway_id)),
  });

  const IpnAnswer = Envelope(Type.Object({ received: Type.Literal(true), ipn_id: Type.String() }));
  // PayPal's protocol: store the message and answer 200 at once; verification (posting it back)
  // and the top-up run right after the answer, and are retried from the inbox if PayPal is down.
  const paypalIpn = async (request: FastifyRequest, gatewayId: string) => {
    const id = await receiveIpn(db, gatewayId, rawBodyOf(request.body));
    setImmediate(() => {
      processIpnInbox(ctx, { onlyId: id })
        .then((outcomes) => request.log.info({ ipn: id, outcome: outcomes.get(id) }, 'paypal ipn'))
        .catch((err: unknown) =>
          request.log.error({ err, ipn: id }, 'paypal ipn processing failed; the jobs retry it'),
        );
    });
    return ok(request, { received: true as const, ipn_id: id });
  };

  app.post('/webhooks/paypal/ipn', {
    config: { auth: false },
    schema: {
      tags,
      summary:
        'PayPal IPN for the one active paypal gateway: stored, answered 200, then verified by posting it back',
      response: { 200: IpnAnswer },
    },
    handler: async (request) => paypalIpn(request, (await soleActiveGateway(db, 'paypal')).id),
  });

  app.post('/webhooks/paypal/ipn/:gateway_id', {
    config: { auth: false },
    schema: {
      tags,
      summary: 'PayPal IPN for a paypal gateway: stored, answered 200, then verified by posting it back',
      params: GatewayParams,
      response: { 200: IpnAnswer },
    },
    handler: async (request) => paypalIpn(request, request.params.gateway_id),
  });
};

/** PayPal Instant Checkout: capture an order the customer approved in PayPal's checkout. */
export const paypalRoutes: FastifyPluginAsyncTypebox<PaymentRoutesOptions> = async (app, { db, config }) => {
  const ctx = contextOf(db, config);
  app.post('/payments/paypal/capture', {
    schema: {
      tags: ['PayPal'],
      summary: "Capture an approved PayPal order and top up the customer's balance",
      body: Type.Object(
        {
          ...CustomerRefFields,
          gateway_id: IdOf('gw'),
          order_id: PatternString(
            '^[A-Za-z0-9-]{1,64}$',
            'must be a PayPal order id: 1 to 64 letters, digits or -',
            {
              description: "PayPal's order id",
            },
          ),
        },
        { additionalProperties: false },
      ),
      response: { 201: Envelope(TransactionSchema) },
    },
    handler: async (request, reply) => {
      const row = await capturePaypalOrder(ctx, principalOf(request), request.body);
      reply.code(201);
      return ok(request, presentTransaction(request, row), {}, 201);
    },
  });
};
