import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal, Role } from '../tenancy.js';
import { ApiError } from './errors.js';

export type { Principal, Role };

export interface ResolvedKey {
  principal: Principal;
  expiresAt: Date | null;
  revokedAt: Date | null;
  ipAllowed(ip: string): boolean;
}

/** Implemented by the accounts module; the HTTP layer only knows this interface. */
export interface KeyResolver {
  /** The key, synchronously when the resolver has it at hand (a cache), otherwise a promise. */
  resolve(secret: string): ResolvedKey | null | Promise<ResolvedKey | null>;
  /** Records use (`last_used_at`); never delays the request. */
  touch(keyId: string): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** false: a public route (health, docs). Default: an API key is required. */
    auth?: boolean;
    /** Roles allowed to call the route; default all. */
    roles?: Role[];
  }
}

type RouteConfig = FastifyRequest['routeOptions']['config'];

const NOT_AUTHORISED = 'Not authorised';

function unauthorised(reason: string): ApiError {
  return new ApiError(401, 'authentication', `${NOT_AUTHORISED}: ${reason}`, undefined, {
    'www-authenticate': 'Bearer realm="tollgate"',
  });
}

const SECRET = /^[\x21-\x7e]{8,256}$/;

/**
 * The three accepted headers (api-conventions.md): `Authorization: Bearer <key>` (seed 003),
 * `token: <key>` (seed 002) and `X-Auth-Token: <key>` (seed 003's examples).
 */
export function extractSecret(headers: FastifyRequest['headers']): string | null {
  const authorization = headers.authorization;
  // The commonest request: one Authorization header and nothing to compare it with.
  if (authorization !== undefined && headers.token === undefined && headers['x-auth-token'] === undefined) {
    return validSecret(bearerSecret(authorization));
  }
  const found: string[] = [];
  if (authorization !== undefined) found.push(bearerSecret(authorization));
  for (const name of ['token', 'x-auth-token'] as const) {
    const value = headers[name];
    if (Array.isArray(value)) throw unauthorised(`more than one ${name} header`);
    if (value !== undefined) found.push(value.trim());
  }
  if (found.length === 0) return null;
  if (new Set(found).size > 1) throw unauthorised('different keys sent in different headers');
  return validSecret(found[0]!);
}

const BEARER = /^Bearer +(\S+)\s*$/i;

function bearerSecret(authorization: string): string {
  const match = BEARER.exec(authorization);
  if (!match) throw unauthorised("malformed Authorization header, expected 'Bearer <key>'");
  return match[1]!;
}

function validSecret(secret: string): string {
  if (!SECRET.test(secret)) throw unauthorised('malformed API key');
  return secret;
}

/**
 * Failed authentications per client address, in fixed one-minute windows. The per-key rate
 * limit cannot see a caller without a valid key, so guessing keys is limited here: past the
 * limit an address gets 429 before its key is even looked up.
 */
class AuthFailureLimiter {
  private readonly windows = new Map<string, { startedAt: number; failures: number }>();
  private static readonly WINDOW_MS = 60_000;
  private static readonly MAX_TRACKED = 100_000;

  constructor(private readonly maxFailures: number) {}

  check(ip: string): void {
    // Nearly always nobody has failed lately: no lookup at all.
    if (this.windows.size === 0) return;
    const window = this.windows.get(ip);
    if (!window || Date.now() - window.startedAt >= AuthFailureLimiter.WINDOW_MS) return;
    if (window.failures >= this.maxFailures) {
      const retryAfter = Math.ceil((window.startedAt + AuthFailureLimiter.WINDOW_MS - Date.now()) / 1000);
      throw new ApiError(429, 'rate_limited', `Too many failed authentications from ${ip}`, undefined, {
        'retry-after': String(Math.max(retryAfter, 1)),
      });
    }
  }

  fail(ip: string): void {
    const now = Date.now();
    const window = this.windows.get(ip);
    if (window && now - window.startedAt < AuthFailureLimiter.WINDOW_MS) window.failures++;
    else {
      if (this.windows.size >= AuthFailureLimiter.MAX_TRACKED) this.windows.clear();
      this.windows.set(ip, { startedAt: now, failures: 1 });
    }
  }
}

/** Whether a resolved key may make a request from this address; throws 401 when not. */
function admitKey(ip: string, key: ResolvedKey | null): Principal {
  if (!key) throw unauthorised('unknown API key');
  if (key.revokedAt) throw unauthorised('API key revoked');
  if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) throw unauthorised('API key expired');
  if (!key.ipAllowed(ip)) throw unauthorised(`address ${ip} is not on this key's allow-list`);
  return key.principal;
}

/**
 * Who is calling: the key's secret from the headers, the key from the resolver, its checks (revoked,
 * expired, address) and the route's roles. Used by the onRequest hook below and by the direct
 * lane (direct-lane.ts), so both admit exactly the same requests.
 */
export class Authenticator {
  private readonly failures: AuthFailureLimiter;

  constructor(
    private readonly resolver: KeyResolver,
    maxFailuresPerMinute: number,
  ) {
    this.failures = new AuthFailureLimiter(maxFailuresPerMinute);
  }

  /** Checks that need the key: 401 (counted against the address), 403 or 404 as an ApiError. */
  admit(ip: string, key: ResolvedKey | null, roles: Role[] | undefined, hasParams: boolean): Principal {
    const principal = admitKey(ip, key);
    this.resolver.touch(principal.keyId);
    if (roles && !roles.includes(principal.role)) {
      // An object route the role can never see: its objects do not exist for this caller.
      if (hasParams) throw new ApiError(404, 'not_found', 'Not found');
      throw new ApiError(403, 'permission', `A ${principal.role} key cannot do this`);
    }
    return principal;
  }

  /** The key for a request's headers: synchronously when cached; throws 401 or 429 before looking. */
  keyFor(ip: string, headers: FastifyRequest['headers']): ResolvedKey | null | Promise<ResolvedKey | null> {
    this.failures.check(ip);
    const secret = extractSecret(headers);
    if (!secret) throw unauthorised('no API key; send Authorization: Bearer <key>, token or X-Auth-Token');
    return this.resolver.resolve(secret);
  }

  failed(ip: string, error: unknown): void {
    if (error instanceof ApiError && error.statusCode === 401) this.failures.fail(ip);
  }

  /**
   * The principal of a request that passes every check synchronously (its key cached, allowed,
   * of a permitted role), without recording anything; null for any other request, which the
   * caller then leaves to the full path to answer and count. Whoever serves the request calls
   * touch() for it.
   */
  admittedWithoutWaiting(
    ip: string,
    headers: FastifyRequest['headers'],
    roles: Role[] | undefined,
  ): Principal | null {
    try {
      const key = this.keyFor(ip, headers);
      if (key instanceof Promise) {
        // The resolver shares this read with the full path's own, which comes next.
        key.catch(() => {});
        return null;
      }
      const principal = admitKey(ip, key);
      return roles && !roles.includes(principal.role) ? null : principal;
    } catch {
      return null;
    }
  }

  touch(principal: Principal): void {
    this.resolver.touch(principal.keyId);
  }
}

export function registerAuth(app: FastifyInstance, authenticator: Authenticator): void {
  app.decorateRequest('principal', null);

  const admit = (request: FastifyRequest, config: RouteConfig, key: ResolvedKey | null): void => {
    request.principal = authenticator.admit(
      request.ip,
      key,
      config.roles,
      config.url?.includes(':') ?? false,
    );
  };
  const fail = (request: FastifyRequest, error: unknown, done: (error?: Error) => void) => {
    authenticator.failed(request.ip, error);
    done(error as Error);
  };

  // Callback style: with the key cached (nearly always) the whole check is synchronous.
  app.addHook('onRequest', (request, _reply, done) => {
    // routeOptions builds a new object on every access: read it once (config.url is its url).
    const config = request.routeOptions.config;
    if (!config?.url?.startsWith('/api/') || config.auth === false) return done();
    try {
      const key = authenticator.keyFor(request.ip, request.headers);
      if (!(key instanceof Promise)) {
        admit(request, config, key);
        return done();
      }
      key.then(
        (resolved) => {
          try {
            admit(request, config, resolved);
          } catch (error) {
            return fail(request, error, done);
          }
          done();
        },
        (error) => fail(request, error, done),
      );
    } catch (error) {
      fail(request, error, done);
    }
  });
}

/** The authenticated caller; routes behind auth can rely on it. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('principalOf() on a public route');
  return request.principal;
}
