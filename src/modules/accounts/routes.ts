import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '../../db/index.js';
import { DomainError, notFound } from '../../errors.js';
import { principalOf } from '../../http/auth.js';
import { ok, okList, toPage } from '../../http/envelope.js';
import { Envelope, IdOf, IdParams, ListEnvelope, PageQuery } from '../../http/schemas.js';
import { answerFromVersion } from '../../http/serialized-answer.js';
import { registerVisibility } from '../../http/visibility.js';
import { moneyView, moneyViews } from '../ledger/accounts.js';
import { createApiKey, getApiKey, listApiKeys, revokeApiKey, updateApiKey } from './api-keys.js';
import type { CustomerCache, CustomerSnapshot } from './customer-cache.js';
import { createCustomer, deleteCustomer, listCustomers, updateCustomer } from './customers.js';
import { createPartner, deletePartner, getPartner, listPartners, updatePartner } from './partners.js';
import {
  ApiKeyCreateBody,
  ApiKeyCreatedSchema,
  ApiKeySchema,
  ApiKeyUpdateBody,
  CustomerCreateBody,
  CustomerSchema,
  CustomerUpdateBody,
  PartnerCreateBody,
  PartnerSchema,
  PartnerUpdateBody,
  presentApiKey,
  presentCustomer,
  presentCustomerFields,
  presentPartner,
} from './representations.js';

const StatusFilter = Type.Optional(
  Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]),
);
const Deleted = Envelope(Type.Object({ id: Type.String(), deleted: Type.Literal(true) }));

export interface AccountsRoutesOptions {
  db: Db;
}

/** A found object is visible; a domain not_found means it is not; anything else is a real error. */
export const visible = (lookup: Promise<unknown>) =>
  lookup.then(
    () => true,
    (error) => {
      if (error instanceof DomainError && error.kind === 'not_found') return false;
      throw error;
    },
  );

export const partnerRoutes: FastifyPluginAsyncTypebox<AccountsRoutesOptions> = async (app, { db }) => {
  const tags = ['Partners'];
  registerVisibility(app, 'par', (principal, id) => visible(getPartner(db, principal, id)));
  app.get('/partners', {
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'List partners (a partner key sees itself)',
      querystring: Type.Object(
        { ...PageQuery('par'), status: StatusFilter },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(PartnerSchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, status } = request.query;
      const rows = await listPartners(db, principalOf(request), {
        limit,
        startingAfter: starting_after,
        status,
      });
      const page = toPage(rows, limit);
      const money = await moneyViews(db, page.items);
      return okList(request, page, (row) => presentPartner(request, row, money.get(row.id)!));
    },
  });

  app.post('/partners', {
    config: { roles: ['admin'] },
    schema: {
      tags,
      summary: 'Create a partner (reseller)',
      body: PartnerCreateBody,
      response: { 201: Envelope(PartnerSchema) },
    },
    handler: async (request, reply) => {
      const partner = await createPartner(db, request.body);
      reply.code(201);
      return ok(request, presentPartner(request, partner, await moneyView(db, partner)), {}, 201);
    },
  });

  app.get('/partners/:id', {
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'Get a partner',
      params: IdParams('par'),
      response: { 200: Envelope(PartnerSchema) },
    },
    handler: async (request) => {
      const partner = await getPartner(db, principalOf(request), request.params.id);
      return ok(request, presentPartner(request, partner, await moneyView(db, partner)));
    },
  });

  app.patch('/partners/:id', {
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'Update a partner (a partner key may change its contact fields)',
      params: IdParams('par'),
      body: PartnerUpdateBody,
      response: { 200: Envelope(PartnerSchema) },
    },
    handler: async (request) => {
      const partner = await updatePartner(db, principalOf(request), request.params.id, request.body);
      return ok(request, presentPartner(request, partner, await moneyView(db, partner)));
    },
  });

  app.delete('/partners/:id', {
    config: { roles: ['admin'] },
    schema: {
      tags,
      summary: 'Delete a partner without customers or money history',
      params: IdParams('par'),
      response: { 200: Deleted },
    },
    handler: async (request) => {
      await deletePartner(db, principalOf(request), request.params.id);
      return ok(request, { id: request.params.id, deleted: true as const });
    },
  });
};

export interface CustomerRoutesOptions extends AccountsRoutesOptions {
  /** Single-customer reads and `cus_` visibility come from memory (customer-cache.ts). */
  customers: CustomerCache;
}

export const customerRoutes: FastifyPluginAsyncTypebox<CustomerRoutesOptions> = async (
  app,
  { db, customers },
) => {
  const tags = ['Customers'];
  registerVisibility(
    app,
    'cus',
    async (principal, id) => (await customers.getVisible(principal, id)) !== null,
  );
  app.get('/customers', {
    schema: {
      tags,
      summary: 'List customers visible to the caller',
      querystring: Type.Object(
        {
          ...PageQuery('cus'),
          status: StatusFilter,
          partner_id: Type.Optional(IdOf('par')),
        },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(CustomerSchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, status, partner_id } = request.query;
      const rows = await listCustomers(db, principalOf(request), {
        limit,
        startingAfter: starting_after,
        status,
        partnerId: partner_id,
      });
      const page = toPage(rows, limit);
      const money = await moneyViews(db, page.items);
      return okList(request, page, (row) => presentCustomer(request, row, money.get(row.id)!));
    },
  });

  app.post('/customers', {
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'Create a customer',
      body: CustomerCreateBody,
      response: { 201: Envelope(CustomerSchema) },
    },
    handler: async (request, reply) => {
      const customer = await createCustomer(db, principalOf(request), request.body);
      reply.code(201);
      return ok(request, presentCustomer(request, customer, await moneyView(db, customer)), {}, 201);
    },
  });

  app.get('/customers/:id', {
    schema: {
      tags,
      summary: 'Get a customer',
      params: IdParams('cus'),
      response: { 200: Envelope(CustomerSchema) },
    },
    // Not async: a cached customer (nearly every read) is answered without a promise.
    handler: (request, reply) => {
      const principal = principalOf(request);
      // A snapshot is one committed version: its JSON answer is serialized once per URL.
      const present = (customer: CustomerSnapshot | null) => {
        if (!customer) throw notFound('Customer');
        answerFromVersion(request, reply, customer, () =>
          ok(request, presentCustomerFields(request, customer.fields)),
        );
      };
      const cached = customers.peekVisible(principal, request.params.id);
      if (cached !== undefined) return present(cached);
      return customers.getVisible(principal, request.params.id).then(present);
    },
  });

  app.patch('/customers/:id', {
    schema: {
      tags,
      summary: 'Update a customer (a customer key may change its contact fields)',
      params: IdParams('cus'),
      body: CustomerUpdateBody,
      response: { 200: Envelope(CustomerSchema) },
    },
    handler: async (request) => {
      const customer = await updateCustomer(db, principalOf(request), request.params.id, request.body);
      return ok(request, presentCustomer(request, customer, await moneyView(db, customer)));
    },
  });

  app.delete('/customers/:id', {
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'Delete a customer without money history',
      params: IdParams('cus'),
      response: { 200: Deleted },
    },
    handler: async (request) => {
      await deleteCustomer(db, principalOf(request), request.params.id);
      return ok(request, { id: request.params.id, deleted: true as const });
    },
  });
};

export const apiKeyRoutes: FastifyPluginAsyncTypebox<AccountsRoutesOptions> = async (app, { db }) => {
  const tags = ['API keys'];
  registerVisibility(app, 'key', (principal, id) => visible(getApiKey(db, principal, id)));
  app.get('/api-keys', {
    schema: {
      tags,
      summary: 'List API keys visible to the caller (never their secrets)',
      querystring: Type.Object(
        {
          ...PageQuery('key'),
          partner_id: Type.Optional(IdOf('par')),
          customer_id: Type.Optional(IdOf('cus')),
        },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(ApiKeySchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, partner_id, customer_id } = request.query;
      const rows = await listApiKeys(db, principalOf(request), {
        limit,
        startingAfter: starting_after,
        partnerId: partner_id,
        customerId: customer_id,
      });
      return okList(request, toPage(rows, limit), (row) => presentApiKey(request, row));
    },
  });

  app.post('/api-keys', {
    schema: {
      tags,
      summary: 'Create an API key; data.key is the secret, shown this once',
      body: ApiKeyCreateBody,
      response: { 201: Envelope(ApiKeyCreatedSchema) },
    },
    config: { answerShownOnce: true },
    handler: async (request, reply) => {
      const { key, secret } = await createApiKey(db, principalOf(request), request.body);
      reply.code(201);
      return ok(request, { ...presentApiKey(request, key), key: secret }, {}, 201);
    },
  });

  app.get('/api-keys/:id', {
    schema: {
      tags,
      summary: 'Get an API key',
      params: IdParams('key'),
      response: { 200: Envelope(ApiKeySchema) },
    },
    handler: async (request) =>
      ok(request, presentApiKey(request, await getApiKey(db, principalOf(request), request.params.id))),
  });

  app.patch('/api-keys/:id', {
    schema: {
      tags,
      summary: 'Change a key’s description, IP allow-list or expiry',
      params: IdParams('key'),
      body: ApiKeyUpdateBody,
      response: { 200: Envelope(ApiKeySchema) },
    },
    handler: async (request) => {
      const key = await updateApiKey(db, principalOf(request), request.params.id, request.body);
      return ok(request, presentApiKey(request, key));
    },
  });

  app.delete('/api-keys/:id', {
    schema: {
      tags,
      summary: 'Revoke an API key',
      params: IdParams('key'),
      response: { 200: Envelope(ApiKeySchema) },
    },
    handler: async (request) => {
      const key = await revokeApiKey(db, principalOf(request), request.params.id);
      return ok(request, presentApiKey(request, key));
    },
  });
};
