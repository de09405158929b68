import type { IncomingMessage } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { Counter } from 'prom-client';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { Authenticator, type KeyResolver, registerAuth } from './auth.js';
import { registerBodyParsers } from './body.js';
import type { DirectLane } from './direct-lane.js';
import { registerErrorHandling } from './errors.js';
import { renderResponseFormat } from './formats.js';
import { registerIdempotency } from './idempotency.js';
import { trackInFlight } from './in-flight.js';
import { registerMetrics } from './metrics.js';
import { RateLimiter, registerRateLimit } from './rate-limit.js';
import { ErrorEnvelope } from './schemas.js';
import { installVisibility } from './visibility.js';

export interface HttpOptions {
  config: Config;
  db: Db;
  keys: KeyResolver;
  /** Answers the hottest reads with the parts registered here (direct-lane.ts). */
  lane: DirectLane;
  /** Fastify's genReqId: the lane's requests get their ids the same way. */
  requestId(req: IncomingMessage): string;
}

/**
 * The API conventions, registered once for every route (api-conventions.md). Order matters:
 * errors and parsers first, then hooks in the order a request meets them: request id → auth →
 * object visibility (404 for another tenant's ids) →
 * rate limit (after auth: it counts per key) → validation → idempotency → handler → (idempotency store → format rendering).
 */
export async function registerHttpConventions(app: FastifyInstance, options: HttpOptions) {
  registerErrorHandling(app);
  await registerBodyParsers(app, options.config.bodyLimitBytes);
  requireSchemasAndDocumentErrors(app);

  // Counts requests in flight and answers X-Request-Id (request.id, from genReqId in app.ts).
  const inFlight = trackInFlight(app);
  const authenticator = new Authenticator(options.keys, options.config.authFailuresPerMinute);
  registerAuth(app, authenticator);
  installVisibility(app);
  // In process and synchronous (decision 0011): @fastify/rate-limit's async hook was a few
  // percent of a cached read.
  const limiter = new RateLimiter({
    max: options.config.rateLimitMax,
    windowMs: options.config.rateLimitWindowMs,
  });
  registerRateLimit(app, limiter);
  registerIdempotency(
    app,
    options.db,
    options.config.idempotencyTtlHours,
    options.config.idempotencyAbandonSeconds,
  );
  app.addHook('onSend', (request, reply, payload, done) => {
    // Synchronous: JSON (nearly every answer) passes through without a promise.
    try {
      done(null, renderResponseFormat(request, reply, payload));
    } catch (error) {
      done(error as Error);
    }
  });
  const metrics = registerMetrics(app);
  options.lane.attach(app, {
    authenticator,
    limiter,
    inFlight,
    metrics: metrics.requests,
    logger: app.log,
    requestId: options.requestId,
  });
  const lane = options.lane;
  new Counter({
    name: 'tollgate_http_direct_lane_requests_total',
    help: 'Requests answered by the direct lane (also counted in tollgate_http_requests_total)',
    registers: [metrics.registry],
    collect() {
      this.reset();
      this.inc(lane.answered);
    },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tollgate API',
        version: '1.0.0',
        description:
          'Billing, rating and customer management for telecom operators, VoIP carriers, resellers and ISPs. ' +
          'Every answer uses one envelope; see docs/api.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <key>' },
          token: { type: 'apiKey', in: 'header', name: 'token', description: 'token: <key> (seed 002)' },
          xAuthToken: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Auth-Token',
            description: 'X-Auth-Token: <key>',
          },
        },
      },
      security: [{ bearer: [] }, { token: [] }, { xAuthToken: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  return { metrics: metrics.registry, inFlight };
}

/**
 * A route under /api/v1 without a response schema is a defect (it would be undocumented and
 * serialised without a contract), so registering one fails at start. Every route documents the
 * error envelope for 4xx and 5xx.
 */
function requireSchemasAndDocumentErrors(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith('/api/v1') || route.config?.auth === false) return;
    if (!route.schema?.response) {
      throw new Error(`route ${String(route.method)} ${route.url} has no response schema`);
    }
    route.schema.response = {
      ...(route.schema.response as object),
      '4xx': ErrorEnvelope,
      '5xx': ErrorEnvelope,
    };
  });
}
