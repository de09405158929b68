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

/** The RateLimit-* answer headers of one counted request, and whether it is within the limit. */
export interface RateLimitCount {
  allowed: boolean;
  remaining: string;
  resetSeconds: number;
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
 *
 * The windows are shared by the hook below and the direct lane (direct-lane.ts), so a key's
 * requests are counted once whichever path answers them.
 */
export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  readonly limitHeader: string;
  private readonly maxTracked: number;

  constructor(readonly options: RateLimitOptions) {
    this.limitHeader = String(options.max);
    this.maxTracked = options.maxTrackedKeys ?? 100_000;
  }

  /** Whether one more request of this key now would be within the limit (counts nothing). */
  wouldAllow(key: string, now: number): boolean {
    const window = this.windows.get(key);
    return (
      window === undefined ||
      now - window.startedAt >= this.options.windowMs ||
      window.count < this.options.max
    );
  }

  /** Counts one request of this key. */
  take(key: string, now: number): RateLimitCount {
    const { max, windowMs } = this.options;
    let window = this.windows.get(key);
    if (window === undefined) {
      if (this.windows.size >= this.maxTracked) this.sweep(now);
      window = { startedAt: now, count: 0 };
      this.windows.set(key, window);
    } else if (now - window.startedAt >= windowMs) {
      window.startedAt = now;
      window.count = 0;
    }
    window.count++;
    const resetSeconds = Math.ceil((window.startedAt + windowMs - now) / 1000);
    const allowed = window.count <= max;
    return { allowed, remaining: allowed ? String(max - window.count) : '0', resetSeconds };
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows)
      if (now - window.startedAt >= this.options.windowMs) this.windows.delete(key);
    // Every window still live: forgetting them all errs on the caller's side, never blocks one.
    if (this.windows.size >= this.maxTracked) this.windows.clear();
  }
}

export function registerRateLimit(app: FastifyInstance, limiter: RateLimiter): void {
  const { max, windowMs } = limiter.options;
  app.addHook('onRequest', (request, reply, done) => {
    // routeOptions builds a new object on every access: read it once (config.url is its url).
    const config = request.routeOptions.config;
    if (config?.url === undefined || config.rateLimit === false) return done();
    const count = limiter.take(request.principal?.keyId ?? request.ip, Date.now());
    const reset = String(count.resetSeconds);
    reply.header('ratelimit-limit', limiter.limitHeader);
    reply.header('ratelimit-remaining', count.remaining);
    reply.header('ratelimit-reset', reset);
    if (count.allowed) return done();
    done(
      new ApiError(
        429,
        'rate_limited',
        `Rate limit of ${max} requests per ${windowMs / 1000} s exceeded; retry in ${reset} s`,
        undefined,
        { 'retry-after': reset },
      ),
    );
  });
}
