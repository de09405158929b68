import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route is not rate limited (health, readiness, metrics). */
    rateLimit?: false;
  }
}

export interface RateLimitOptions {
  /** Requests allowed per key and window. */
  max: number;
  windowMs: number;
  /** Keys tracked before expired windows are swept (and, if all are live, forgotten). */
  maxTrackedKeys?: number;
}

interface Window {
  startedAt: number;
  count: number;
}

/**
 * Per-key rate limiting in fixed windows, in process (docs/api.md, decision 0011): each API key
 * (or, on public routes, each client address) may make `max` requests per window; every limited
 * answer carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds until the
 * window ends), and past the limit the answer is 429 `rate_limited` with Retry-After. The same
 * semantics as @fastify/rate-limit's local store with enableDraftSpec, which it replaces: one
 * synchronous hook, one Map lookup, no promise per request.
 *
 * Runs after authentication (the key is the caller's API key id) and only on matched routes
 * whose config does not say `rateLimit: false`; unmatched URLs are not counted.
 */
export function registerRateLimit(app: FastifyInstance, options: RateLimitOptions): void {
  const { max, windowMs } = options;
  const maxTracked = options.maxTrackedKeys ?? 100_000;
  const windows = new Map<string, Window>();
  const limitHeader = String(max);

  const sweep = (now: number) => {
    for (const [key, window] of windows) if (now - window.startedAt >= windowMs) windows.delete(key);
    // Every window still live: forgetting them all errs on the caller's side, never blocks one.
    if (windows.size >= maxTracked) windows.clear();
  };

  app.addHook('onRequest', (request, reply, done) => {
    // routeOptions builds a new object on every access: read it once (config.url is its url).
    const config = request.routeOptions.config;
    if (config?.url === undefined || config.rateLimit === false) return done();
    const key = request.principal?.keyId ?? request.ip;
    const now = Date.now();
    let window = windows.get(key);
    if (window === undefined) {
      if (windows.size >= maxTracked) sweep(now);
      window = { startedAt: now, count: 0 };
      windows.set(key, window);
    } else if (now - window.startedAt >= windowMs) {
      window.startedAt = now;
      window.count = 0;
    }
    window.count++;
    const resetSeconds = Math.ceil((window.startedAt + windowMs - now) / 1000);
    reply.header('ratelimit-limit', limitHeader);
    if (window.count <= max) {
      reply.header('ratelimit-remaining', String(max - window.count));
      reply.header('ratelimit-reset', String(resetSeconds));
      return done();
    }
    reply.header('ratelimit-remaining', '0');
    reply.header('ratelimit-reset', String(resetSeconds));
    done(
      new ApiError(
        429,
        'rate_limited',
        `Rate limit of ${max} requests per ${windowMs / 1000} s exceeded; retry in ${resetSeconds} s`,
        undefined,
        { 'retry-after': String(resetSeconds) },
      ),
    );
  });
}
