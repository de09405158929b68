import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { performance } from 'node:perf_hooks';
import fastQuerystring from 'fast-querystring';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { Static, TSchema } from 'typebox';
import type { Principal, Role } from '../tenancy.js';
import { type Authenticator, principalOf } from './auth.js';
import type { RequestOrigin } from './envelope.js';
import { formatFromAccept } from './formats.js';
import type { InFlight } from './in-flight.js';
import type { RequestMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import { logDirectAccess } from './request-log.js';

/**
 * The direct lane (docs/decisions/0054-direct-lane.md): the two reads a switch makes before
 * every call, `GET /api/v1/rates/lookup` and `GET /api/v1/routes/lcr`, answered by the HTTP
 * server's own request handler without Fastify's per-request machinery, when the request is the
 * plain successful case. Every part of the answer comes from the same objects the conventions
 * layer uses (authentication, rate-limit windows, the route's compiled validator and
 * serializer, the in-flight count, the request metrics and the access line), so the answer is
 * the one Fastify would give. Anything else (no or a bad key, a key not cached yet, the limit
 * reached, a query the validator refuses, an answer that is an error or needs a database read,
 * another format, a body) touches nothing and goes to Fastify, which answers it as always.
 *
 * A new convention (a header on every answer, a hook with an effect) must be added here too, or
 * make the lane decline; test/direct-lane.test.ts compares the two paths answer for answer.
 */
export interface DirectRoute<Query = never, Answer = unknown> {
  /** The route's full path (`/api/v1/rates/lookup`): static, no parameters. */
  path: string;
  roles: Role[] | undefined;
  querystring: TSchema;
  /** The 200 answer's schema. */
  response: TSchema;
  /** The envelope; may throw or return a promise (then Fastify answers the request). */
  answer(principal: Principal, query: Query, origin: RequestOrigin): Answer | Promise<Answer>;
}

/** The conventions layer's parts the lane answers with. */
export interface LaneParts {
  authenticator: Authenticator;
  limiter: RateLimiter;
  inFlight: InFlight;
  metrics: RequestMetrics;
  logger: FastifyBaseLogger;
  requestId(req: IncomingMessage): string;
}

interface CompiledRoute {
  route: DirectRoute<unknown>;
  validate(query: unknown): boolean;
  serialize(answer: unknown): string;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The server options Fastify applies to a server it makes itself (lib/server.js). */
interface ServerSettings {
  http?: ServerOptions;
  keepAliveTimeout?: number;
  requestTimeout?: number;
  connectionTimeout?: number;
  maxRequestsPerSocket?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    directLane: DirectLane;
  }
}

export class DirectLane {
  private readonly declared: { route: DirectRoute<unknown>; context: FastifyInstance }[] = [];
  private readonly routes = new Map<string, CompiledRoute>();
  private parts: LaneParts | null = null;
  private closing = false;
  private answeredCount = 0;

  /** enabled: false leaves every request to Fastify (DIRECT_LANE=false). */
  constructor(private readonly enabled: boolean) {}

  /**
   * Fastify's `serverFactory`: the server Fastify would make (its timeouts included), whose
   * requests meet the lane first.
   */
  server(fastifyHandler: Handler, options: ServerSettings): Server {
    const server = createServer(options.http ?? {}, (req, res) => {
      if (!this.serve(req, res)) fastifyHandler(req, res);
    });
    if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
    if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
    if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
    if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return server;
  }

  /** Called by the conventions layer once its parts exist; the lane opens when the app is ready. */
  attach(app: FastifyInstance, parts: LaneParts): void {
    app.decorate<DirectLane>('directLane', this);
    app.addHook('onReady', async () => {
      // The compilers Fastify compiled the routes' own schemas with: the same validator (ajv with
      // the app's options and the input guard) and the same serializer.
      for (const { route, context } of this.declared) {
        // The plugin context the route was registered in: compilers belong to a context.
        const { validatorCompiler, serializerCompiler } = context;
        if (!validatorCompiler || !serializerCompiler)
          throw new Error(`no schema compilers for ${route.path}`);
        this.routes.set(route.path, {
          route,
          validate: validatorCompiler({
            schema: route.querystring,
            method: 'GET',
            url: route.path,
            httpPart: 'querystring',
          }) as (query: unknown) => boolean,
          serialize: serializerCompiler({
            schema: route.response,
            method: 'GET',
            url: route.path,
            httpStatus: '200',
          }) as (answer: unknown) => string,
        });
      }
      this.parts = this.enabled ? parts : null;
    });
    // Fastify answers 503 from here on; so must every request, whichever path it takes.
    app.addHook('preClose', async () => {
      this.closing = true;
    });
  }

  /** Requests this lane has answered (tollgate_http_direct_lane_requests_total). */
  get answered(): number {
    return this.answeredCount;
  }

  /** `context`: the (plugin) instance Fastify registered the same route in. */
  add<Query, Answer>(route: DirectRoute<Query, Answer>, context: FastifyInstance): void {
    this.declared.push({ route: route as unknown as DirectRoute<unknown>, context });
  }

  /** Answers the request and returns true, or returns false having changed nothing. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const parts = this.parts;
    if (parts === null || this.closing || req.method !== 'GET') return false;
    const started = performance.now();
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const compiled = this.routes.get(queryAt === -1 ? url : url.slice(0, queryAt));
    if (compiled === undefined || !plainRequest(req, url)) return false;
    const { route } = compiled;
    const ip = req.socket.remoteAddress ?? '';
    const principal = parts.authenticator.admittedWithoutWaiting(ip, req.headers, route.roles);
    if (principal === null) return false;
    const now = Date.now();
    if (!parts.limiter.wouldAllow(principal.keyId, now)) return false;
    // What find-my-way hands Fastify as the query (its querystringParser).
    const query =
      queryAt === -1 || queryAt === url.length - 1 ? {} : fastQuerystring.parse(url.slice(queryAt + 1));
    if (!compiled.validate(query)) return false;
    const host = req.headers.host as string;
    const origin = {
      protocol: (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      host,
      originalUrl: url,
    };
    let body: string;
    try {
      const answer = route.answer(principal, query, origin);
      if (answer instanceof Promise) {
        // Fastify asks again and answers; this promise's outcome is not needed.
        answer.catch(() => {});
        return false;
      }
      body = compiled.serialize(answer);
    } catch {
      return false;
    }

    // From here on the request is this lane's: counted, touched and answered as Fastify would.
    const progress = parts.inFlight.begin(res);
    parts.authenticator.touch(principal);
    const count = parts.limiter.take(principal.keyId, now);
    const requestId = parts.requestId(req);
    res.writeHead(200, {
      'x-request-id': requestId,
      'ratelimit-limit': parts.limiter.limitHeader,
      'ratelimit-remaining': count.remaining,
      'ratelimit-reset': String(count.resetSeconds),
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
    });
    parts.inFlight.answered(progress);
    res.end(body);
    this.answeredCount++;
    const elapsedMs = performance.now() - started;
    parts.metrics.record('GET', route.path, 200, elapsedMs / 1000);
    logDirectAccess(parts.logger, requestId, {
      method: 'GET',
      url,
      version: undefined,
      host,
      ip,
      port: req.socket.remotePort,
      statusCode: 200,
      elapsedMs,
    });
    return true;
  }
}

/**
 * A request the lane may answer: JSON wanted, no body, no version constraint, a Host, and a URL
 * without a fragment. The rest have handling of their own in Fastify.
 */
function plainRequest(req: IncomingMessage, url: string): boolean {
  const headers = req.headers;
  return (
    headers.host !== undefined &&
    headers['content-type'] === undefined &&
    headers['content-length'] === undefined &&
    headers['transfer-encoding'] === undefined &&
    headers['accept-version'] === undefined &&
    (headers.accept === undefined || formatFromAccept(headers.accept) === 'json') &&
    !url.includes('#')
  );
}

/** A GET route under `app`'s prefix that Fastify serves and that the direct lane may answer. */
export interface DirectGetOptions<Query extends TSchema, Answer extends TSchema> {
  url: string;
  roles?: Role[];
  schema: { tags: string[]; summary: string; querystring: Query; response: { 200: Answer } };
  answer(
    principal: Principal,
    query: Static<Query>,
    origin: RequestOrigin,
  ): Static<Answer> | Promise<Static<Answer>>;
}

/** Registers the route with Fastify and with the lane, from one definition. */
export function directGet<Query extends TSchema, Answer extends TSchema>(
  app: FastifyInstance,
  options: DirectGetOptions<Query, Answer>,
): void {
  const { url, roles, schema, answer } = options;
  // Not async: an answer from memory (nearly every one) goes out without a promise.
  const handler = (request: FastifyRequest): unknown =>
    answer(principalOf(request), request.query as Static<Query>, request);
  app.get(url, { ...(roles ? { config: { roles } } : {}), schema: schema as FastifySchema, handler });
  app.directLane.add(
    {
      path: app.prefix + url,
      roles,
      querystring: schema.querystring,
      response: schema.response[200],
      answer,
    },
    app,
  );
}
