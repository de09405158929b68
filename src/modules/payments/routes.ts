import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import { invalid } from '../../errors.js';
import { principalOf } from '../../http/auth.js';
import { ok, okList, toPage } from '../../http/envelope.js';
import { CurrencyCode, Envelope, IdOf, IdParams, ListEnvelope, PageQuery } from '../../http/schemas.js';
import { createCustomer, newCustomerOwnership } from '../accounts/customers.js';
import { CustomerSchema, presentCustomer } from '../accounts/representations.js';
import { moneyView } from '../ledger/accounts.js';
import { resolveCustomer } from './customer-ref.js';
import { createGateway, getGateway, listGateways, updateGateway } from './gateway-configs.js';
import './guards.js';
import {
  defaultProfile,
  insertProfile,
  listProfiles,
  registerProfile,
  removeProfile,
  tokenise,
  updateProfile,
} from './profiles.js';
import {
  BankFields,
  BillingFields,
  CardFields,
  CustomerRefFields,
  GatewayCreateBody,
  GatewaySchema,
  GatewayUpdateBody,
  ProfileResultSchema,
  ProfileSchema,
  presentGateway,
  presentProfile,
} from './representations.js';
import { bankOf, cardOf } from './request-fields.js';
import type { PaymentContext } from './transactions.js';

export interface PaymentRoutesOptions {
  db: Db;
  config: Config;
}

export const contextOf = (db: Db, config: Config): PaymentContext => ({
  db,
  secrets: { key: config.secretsKey, isDefault: config.secretsKeyIsDefault },
  now: () => new Date(),
});

/** Gateway configurations (operator only): seed 000's Setup › Integrations › API. */
export const gatewayRoutes: FastifyPluginAsyncTypebox<PaymentRoutesOptions> = async (app, { db, config }) => {
  const tags = ['Payment gateways'];
  const ctx = contextOf(db, config);
  const config_ = { roles: ['admin' as const] };
  app.get('/gateways', {
    config: config_,
    schema: {
      tags,
      summary: 'List gateway configurations (credentials never shown)',
      querystring: Type.Object({ ...PageQuery('gw') }, { additionalProperties: false }),
      response: { 200: ListEnvelope(GatewaySchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after } = request.query;
      const rows = await listGateways(db, { limit, startingAfter: starting_after });
      return okList(request, toPage(rows, limit), (row) => presentGateway(request, row));
    },
  });
  app.post('/gateways', {
    config: config_,
    schema: {
      tags,
      summary: 'Configure a gateway; credentials are sealed (AES-256-GCM) at rest',
      body: GatewayCreateBody,
      response: { 201: Envelope(GatewaySchema) },
    },
    handler: async (request, reply) => {
      const row = await createGateway(db, ctx.secrets, request.body);
      reply.code(201);
      return ok(request, presentGateway(request, row), {}, 201);
    },
  });
  app.get('/gateways/:id', {
    config: config_,
    schema: {
      tags,
      summary: 'Get a gateway configuration',
      params: IdParams('gw'),
      response: { 200: Envelope(GatewaySchema) },
    },
    handler: async (request) => ok(request, presentGateway(request, await getGateway(db, request.params.id))),
  });
  app.patch('/gateways/:id', {
    config: config_,
    schema: {
      tags,
      summary: 'Change a gateway configuration (credentials are replaced whole)',
      params: IdParams('gw'),
      body: GatewayUpdateBody,
      response: { 200: Envelope(GatewaySchema) },
    },
    handler: async (request) =>
      ok(
        request,
        presentGateway(request, await updateGateway(db, ctx.secrets, request.params.id, request.body)),
      ),
  });
};

const ProfileBody = Type.Object(
  {
    ...CustomerRefFields,
    ...CardFields,
    ...BankFields,
    ...BillingFields,
    is_default: Type.Optional(Type.Boolean()),
    gateway_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
const CustomerRegisterBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    currency: Type.Optional(CurrencyCode),
    partner_id: Type.Optional(Type.String({ maxLength: 64 })),
    account_number: Type.Optional(Type.String({ maxLength: 32 })),
    phone: Type.Optional(Type.String({ maxLength: 32 })),
    ...CardFields,
    ...BankFields,
    ...BillingFields,
    gateway_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
const ProfileId = IdOf('pp');
const ProfileIdBody = Type.Object(
  { ...CustomerRefFields, profile_id: ProfileId },
  { additionalProperties: false },
);
const CustomerQuery = Type.Object({ ...CustomerRefFields }, { additionalProperties: false });
const ProfileList = Envelope(
  Type.Object({
    customer_id: Type.String(),
    status: Type.Literal('success'),
    transaction_id: Type.Null(),
    profiles: Type.Array(ProfileSchema),
  }),
);

/** Seed 004's customer routes: customers with payment profiles. */
export const customerPaymentRoutes: FastifyPluginAsyncTypebox<PaymentRoutesOptions> = async (
  app,
  { db, config },
) => {
  const tags = ['Customer payment profiles'];
  const ctx = contextOf(db, config);
  const result = (customerId: string, profile: Parameters<typeof presentProfile>[0]) => ({
    status: 'success' as const,
    transaction_id: null,
    customer_id: customerId,
    profile: presentProfile(profile),
  });

  app.post('/customer/register', {
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'Register a new customer and payment profile',
      body: CustomerRegisterBody,
      response: { 201: Envelope(ProfileResultSchema) },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const { name, currency, partner_id, account_number, phone, email, ...rest } = request.body;
      const input = { ...rest, email, card: cardOf(rest), bank: bankOf(rest) };
      // The card is checked and tokenised before the customer exists: a bad card creates nothing.
      const { currency: currencyOfCustomer } = await newCustomerOwnership(db, principal, {
        currency,
        partner_id,
      });
      const tokenised = await tokenise(ctx, input, currencyOfCustomer, 'new');
      const customer = await createCustomer(db, principal, {
        name,
        currency: currencyOfCustomer,
        partner_id,
        account_number,
        phone,
        email,
      });
      const profile = await db
        .transaction()
        .execute((trx) => insertProfile(trx, customer.id, customer.currency, input, tokenised));
      reply.code(201);
      return ok(request, result(customer.id, profile), {}, 201);
    },
  });

  app.post('/customer/payments/register', {
    schema: {
      tags,
      summary: 'Register a new payment profile for an existing customer',
      body: ProfileBody,
      response: { 201: Envelope(ProfileResultSchema) },
    },
    handler: async (request, reply) => {
      const body = request.body;
      const { customer, profile } = await registerProfile(ctx, principalOf(request), body, {
        ...body,
        card: cardOf(body),
        bank: bankOf(body),
      });
      reply.code(201);
      return ok(request, result(customer.id, profile), {}, 201);
    },
  });

  const UpdateBody = Type.Object(
    {
      ...CustomerRefFields,
      profile_id: ProfileId,
      ...BillingFields,
      exp_month: CardFields.exp_month,
      exp_year: CardFields.exp_year,
      is_default: Type.Optional(Type.Boolean()),
      card_number: CardFields.card_number,
      cardholder_name: CardFields.cardholder_name,
    },
    { additionalProperties: false },
  );
  app.post('/customer/payments/update', {
    schema: {
      tags,
      summary: 'Update a payment profile: the card number, cardholder name and billing country cannot change',
      body: UpdateBody,
      response: { 200: Envelope(ProfileResultSchema) },
    },
    handler: async (request) => {
      const { customer_id, account_number, profile_id, card_number, cardholder_name, ...update } =
        request.body;
      if (card_number !== undefined)
        throw invalid('card_number cannot be changed; register a new payment profile instead', 'card_number');
      if (cardholder_name !== undefined)
        throw invalid(
          'cardholder_name cannot be changed; register a new payment profile instead',
          'cardholder_name',
        );
      const { customer, profile } = await updateProfile(
        db,
        principalOf(request),
        { customer_id, account_number },
        profile_id,
        update,
        ctx.now(),
      );
      return ok(request, result(customer.id, profile));
    },
  });

  app.post('/customer/payments/remove', {
    schema: {
      tags,
      summary: 'Remove a payment profile (not while a recurring payment uses it)',
      body: ProfileIdBody,
      response: { 200: Envelope(ProfileResultSchema) },
    },
    handler: async (request) => {
      const { profile_id, ...ref } = request.body;
      const { customer, profile } = await removeProfile(ctx, principalOf(request), ref, profile_id);
      return ok(request, result(customer.id, profile));
    },
  });

  const listHandler = (full: boolean) => async (request: FastifyRequest) => {
    const ref = ((request.method === 'GET' ? request.query : request.body) ?? {}) as {
      customer_id?: string;
      account_number?: string;
    };
    const customer = await resolveCustomer(db, principalOf(request), ref);
    const profiles = await listProfiles(db, customer.id);
    return ok(request, {
      customer_id: customer.id,
      status: 'success' as const,
      transaction_id: null,
      profiles: profiles.map((p) => presentProfile(p, full)),
    });
  };
  for (const [path, full] of [
    ['/customer/profiles', false],
    ['/customer/profiles/full', true],
  ] as const) {
    const summary = full
      ? 'List all payment profiles of the customer, with billing details'
      : 'List all payment profiles of the customer';
    app.get(path, {
      schema: { tags, summary, querystring: CustomerQuery, response: { 200: ProfileList } },
      handler: listHandler(full),
    });
    app.post(path, {
      schema: {
        tags,
        summary: `${summary} (POST twin for clients that cannot send a body with a GET)`,
        body: CustomerQuery,
        response: { 200: ProfileList },
      },
      handler: listHandler(full),
    });
  }

  app.get('/customer/profiles/default', {
    schema: {
      tags,
      summary: "Get the customer's default payment profile",
      querystring: CustomerQuery,
      response: { 200: Envelope(ProfileResultSchema) },
    },
    handler: async (request) => {
      const customer = await resolveCustomer(db, principalOf(request), request.query);
      return ok(request, result(customer.id, await defaultProfile(db, customer.id)));
    },
  });

  app.get('/customer', {
    schema: {
      tags,
      summary: 'Get details regarding a customer',
      querystring: CustomerQuery,
      response: { 200: Envelope(CustomerSchema) },
    },
    handler: async (request) => {
      const customer = await resolveCustomer(db, principalOf(request), request.query);
      return ok(request, presentCustomer(request, customer, await moneyView(db, customer)));
    },
  });

  app.get('/customer/profile', {
    schema: {
      tags,
      summary: "Get a customer's profile: the customer and its payment profiles",
      querystring: CustomerQuery,
      response: {
        200: Envelope(
          Type.Object({
            customer: CustomerSchema,
            default_profile_id: Type.Union([Type.String(), Type.Null()]),
            profiles: Type.Array(ProfileSchema),
          }),
        ),
      },
    },
    handler: async (request) => {
      const customer = await resolveCustomer(db, principalOf(request), request.query);
      const profiles = await listProfiles(db, customer.id);
      return ok(request, {
        customer: presentCustomer(request, customer, await moneyView(db, customer)),
        default_profile_id: profiles.find((p) => p.is_default)?.id ?? null,
        profiles: profiles.map((p) => presentProfile(p)),
      });
    },
  });
};
