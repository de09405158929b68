import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify';
import type { Config } from './config.js';
import { changeFeedOf } from './db/change-feed.js';
import type { Db } from './db/index.js';
import { DirectLane } from './http/direct-lane.js';
import { answerFrameworkError } from './http/errors.js';
import { rewriteFormatSuffix } from './http/formats.js';
import type { InFlight } from './http/in-flight.js';
import { registerHttpConventions } from './http/index.js';
import { guardedValidatorBuilder } from './http/input-guard.js';
import { type Collection, opsRoutes } from './http/ops-routes.js';
import { lazyChildLogger, OneLineRequestLog } from './http/request-log.js';
import { logDestination } from './logging.js';
import { CustomerCache } from './modules/accounts/customer-cache.js';
import { DbKeyResolver } from './modules/accounts/key-resolver.js';
import { apiKeyRoutes, customerRoutes, partnerRoutes } from './modules/accounts/routes.js';
import { cdrRoutes } from './modules/cdrs/routes.js';
import { ledgerRoutes } from './modules/ledger/routes.js';
import { paymentRoutes } from './modules/payments/payment-routes.js';
import { paypalRoutes, webhookRoutes } from './modules/payments/provider-routes.js';
import { customerPaymentRoutes, gatewayRoutes } from './modules/payments/routes.js';
import { RatingIndex } from './modules/rating/rating-index.js';
import { carrierRoutes, ratecardRoutes, rateRoutes } from './modules/rating/routes.js';
import { webhookEndpointRoutes } from './modules/webhooks/routes.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** A request's id: its X-Request-Id when that is safe to log and echo, otherwise a new one. */
function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Collections announced by GET /api/v1 (seed 003's hypermedia root). */
const COLLECTIONS: Collection[] = [
  { rel: 'list_partners', path: '/api/v1/partners', roles: ['admin', 'partner'] },
  { rel: 'list_customers', path: '/api/v1/customers', roles: ['admin', 'partner', 'customer'] },
  { rel: 'list_api_keys', path: '/api/v1/api-keys', roles: ['admin', 'partner', 'customer'] },
  { rel: 'customer_balance', path: '/api/v1/customer/balance', roles: ['admin', 'partner', 'customer'] },
  { rel: 'partner_balance', path: '/api/v1/partner/balance', roles: ['admin', 'partner'] },
  { rel: 'list_transactions', path: '/api/v1/transactions', roles: ['admin', 'partner', 'customer'] },
  { rel: 'list_gateways', path: '/api/v1/gateways', roles: ['admin'] },
  { rel: 'list_ratecards', path: '/api/v1/ratecards', roles: ['admin'] },
  { rel: 'list_carriers', path: '/api/v1/carriers', roles: ['admin'] },
  { rel: 'rate_lookup', path: '/api/v1/rates/lookup', roles: ['admin', 'partner', 'customer'] },
  { rel: 'number_lookup', path: '/api/v1/numbers/lookup', roles: ['admin', 'partner', 'customer'] },
  { rel: 'list_cdrs', path: '/api/v1/cdrs', roles: ['admin', 'partner', 'customer'] },
  { rel: 'call_stats', path: '/api/v1/stats/calls', roles: ['admin', 'partner', 'customer'] },
  { rel: 'authorize_call', path: '/api/v1/calls/authorize', roles: ['admin', 'partner', 'customer'] },
  { rel: 'list_live_calls', path: '/api/v1/calls', roles: ['admin', 'partner', 'customer'] },
  {
    rel: 'list_webhook_endpoints',
    path: '/api/v1/webhook-endpoints',
    roles: ['admin', 'partner', 'customer'],
  },
];

export interface App {
  app: FastifyInstance;
  keys: DbKeyResolver;
  /** Customers and their balances in memory (GET /customers/{id}, visibility, call authorization, rate lookups). */
  customers: CustomerCache;
  /** Every registered route (the generic cross-tenant test walks them). */
  routes: RouteOptions[];
  /** Resolves when no request is being handled (graceful shutdown waits for it). */
  inFlight: InFlight;
}

/**
 * Builds the HTTP app. The load order is the architecture: the conventions layer (src/http),
 * then operational routes, then each module's routes under /api/v1.
 */
export async function buildApp(config: Config, db: Db): Promise<App> {
  // Behind a trusted proxy a request's address, host and protocol come from its headers, by
  // Fastify's rules; the lane does not repeat them, so it stays off there.
  const lane = new DirectLane(config.directLane && !config.trustProxy);
  const app = Fastify({
    // The server's requests meet the direct lane first (src/http/direct-lane.ts).
    serverFactory: (handler, options) => lane.server(handler, options),
    logger: { level: config.logLevel, stream: logDestination() },
    // One access-log line per request instead of Fastify's two.
    logController: new OneLineRequestLog(),
    // The per-request child logger is made only when the request logs something.
    childLoggerFactory: lazyChildLogger,
    // Fastify accepts a hop count at run time; its typings list only the other forms.
    trustProxy: config.trustProxy as FastifyServerOptions['trustProxy'],
    bodyLimit: config.bodyLimitBytes,
    // genReqId reads X-Request-Id itself so an unsafe incoming id is replaced, not trusted.
    requestIdHeader: false,
    genReqId: requestIdOf,
    rewriteUrl: rewriteFormatSuffix,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
    },
    // Ajv, plus what it lets through and PostgreSQL refuses (src/http/input-guard.ts).
    schemaController: { compilersFactory: { buildValidator: guardedValidatorBuilder() as never } },
    // A malformed or over-long URL is answered in the envelope too, not in Fastify's own shape.
    frameworkErrors: answerFrameworkError,
    forceCloseConnections: false,
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => void routes.push(route));
  // Committed changes reach the in-memory read models here and, on PostgreSQL, from other processes.
  const changes = changeFeedOf(db);
  const keys = new DbKeyResolver(db);
  const stopFollowingKeys = keys.follow(changes);
  const customers = new CustomerCache(db, changes);
  // Rate cards are indexed in memory; every card starts loading once the app is ready.
  const ratingIndex = new RatingIndex(db, {
    announce: Boolean(config.databaseUrl),
    databaseUrl: config.databaseUrl,
  });
  // On PostgreSQL other processes may change cards: their notifications rebuild ours.
  const cardChanges = config.databaseUrl ? ratingIndex.listener(config.databaseUrl, app.log) : null;
  const { metrics, inFlight } = await registerHttpConventions(app, {
    config,
    db,
    keys,
    lane,
    requestId: requestIdOf,
  });
  await app.register(opsRoutes, { db, metrics, collections: COLLECTIONS });
  await app.register(
    async (api) => {
      await api.register(partnerRoutes, { db });
      await api.register(customerRoutes, { db, customers });
      await api.register(apiKeyRoutes, { db });
      await api.register(ledgerRoutes, { db });
      await api.register(gatewayRoutes, { db, config });
      await api.register(customerPaymentRoutes, { db, config });
      await api.register(paymentRoutes, { db, config });
      await api.register(paypalRoutes, { db, config });
      await api.register(webhookRoutes, { db, config });
      await api.register(ratecardRoutes, { db, index: ratingIndex, databaseUrl: config.databaseUrl });
      await api.register(rateRoutes, { db, index: ratingIndex, customers });
      await api.register(carrierRoutes, { db, index: ratingIndex });
      await api.register(cdrRoutes, { db, rating: ratingIndex, customers, config });
      await api.register(webhookEndpointRoutes, { db, config });
    },
    { prefix: '/api/v1' },
  );
  app.addHook('onReady', async () => {
    await changes.listen(app.log);
    await cardChanges?.start();
    // Warm every card in the background: a million-rate deck takes longer than Fastify's hook
    // timeout, and a lookup that arrives first just waits for its own card's build.
    ratingIndex.loadAll().catch((err) => app.log.error({ err }, 'loading rate cards failed'));
  });
  app.addHook('onClose', async () => {
    stopFollowingKeys();
    await keys.flush();
  });
  app.addHook('onClose', async () => cardChanges?.stop());
  app.addHook('onClose', async () => customers.close());
  return { app, keys, customers, routes, inFlight };
}
