import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import type { Db } from '../db/index.js';
import { ping } from '../db/index.js';
import { migrationsUpToDate } from '../db/migrate.js';
import type { Role } from '../tenancy.js';
import { principalOf } from './auth.js';
import { absoluteUrl, ok } from './envelope.js';
import { Envelope } from './schemas.js';

/** A top-level collection announced by the hypermedia root, and who may use it. */
export interface Collection {
  rel: string;
  path: string;
  roles: Role[];
}

export interface OpsOptions {
  db: Db;
  metrics: Registry;
  collections: Collection[];
}

const Health = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
});

/** Health, readiness, metrics, the OpenAPI document and the hypermedia root. */
export const opsRoutes: FastifyPluginAsyncTypebox<OpsOptions> = async (app, { db, metrics, collections }) => {
  const publicRoute = { auth: false, rateLimit: false } as const;
  let migrationsChecked = false;

  app.get('/health', {
    config: publicRoute,
    schema: { tags: ['Operations'], summary: 'The process is up', response: { 200: Health } },
    handler: async () => ({ status: 'ok' }),
  });

  app.get('/ready', {
    config: publicRoute,
    schema: {
      tags: ['Operations'],
      summary: 'Database reachable and migrations applied',
      response: { 200: Health, 503: Health },
    },
    handler: async (_request, reply) => {
      try {
        await ping(db);
        migrationsChecked ||= await migrationsUpToDate(db);
        if (!migrationsChecked)
          return reply.code(503).send({ status: 'not_ready', checks: { migrations: 'pending' } });
        return { status: 'ready', checks: { database: 'ok', migrations: 'ok' } };
      } catch (error) {
        return reply.code(503).send({ status: 'not_ready', checks: { database: (error as Error).message } });
      }
    },
  });

  app.get('/metrics', {
    config: publicRoute,
    schema: { tags: ['Operations'], summary: 'Prometheus metrics', hide: true },
    handler: async (_request, reply) => {
      reply.type(metrics.contentType);
      return metrics.metrics();
    },
  });

  app.get('/api/v1/openapi.json', {
    config: publicRoute,
    schema: { hide: true },
    handler: async () => app.swagger(),
  });

  app.get('/api/v1', {
    schema: {
      tags: ['Discovery'],
      summary: 'Hypermedia root: links to every collection this key may use',
      response: { 200: Envelope(Type.Record(Type.String(), Type.String())) },
    },
    handler: async (request) => {
      const role = principalOf(request).role;
      const links = Object.fromEntries(
        collections
          .filter((collection) => collection.roles.includes(role))
          .map((collection) => [collection.rel, absoluteUrl(request, collection.path)]),
      );
      return ok(request, links, {
        openapi: absoluteUrl(request, '/api/v1/openapi.json'),
        docs: absoluteUrl(request, '/docs'),
      });
    },
  });
};
