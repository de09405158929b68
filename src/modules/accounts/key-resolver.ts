import type { ChangeFeed } from '../../db/change-feed.js';
import type { Db } from '../../db/index.js';
import type { KeyResolver, ResolvedKey } from '../../http/auth.js';
import { API_KEYS_TOPIC } from './account-fields.js';
import { hashKey } from './api-keys.js';
import { allowListMatcher } from './ip-allow-list.js';

/** How long a resolved key is trusted without asking the database again. */
const CACHE_TTL_MS = 5_000;
/**
 * Past its TTL an entry is still answered for this long while one background read refreshes it,
 * so a routine refresh never puts a database round trip (or, after the pool's idle connections
 * closed, a new connection) on a request's path. Only when it is older still does a request wait.
 */
const STALE_GRACE_MS = 5_000;
const CACHE_MAX_ENTRIES = 10_000;
/** last_used_at is written at most this often per key: an audit hint, not a counter. */
const TOUCH_INTERVAL_MS = 60_000;

interface CacheEntry {
  key: ResolvedKey | null;
  fetchedAt: number;
}

/**
 * Resolves API keys for the HTTP layer. A short in-process cache keeps the database off the hot
 * path of every request. A key revoked, changed or deleted (with its account) is announced on the
 * change feed (API_KEYS_TOPIC): this process drops its cache before the write's call returns, and
 * on PostgreSQL the others as soon as the NOTIFY arrives. A lost announcement (a process dying
 * between commit and NOTIFY) is bounded by CACHE_TTL_MS (with STALE_GRACE_MS more only while
 * database reads fail or are slow).
 *
 * The cache is keyed by the secret as the request carried it, so a cached key costs no SHA-256
 * (~3% of a cached read). At rest, in the database, keys are only hashes; this process already
 * sees every secret in its requests' headers, and the cache keeps at most CACHE_MAX_ENTRIES.
 *
 * One read per secret at a time: requests that miss together share it. Measured before this
 * (docs/operations.md, sixth session): at 1,000 requests/s after a burst of load, each request
 * arriving during an expired entry's read started its own, each on a new connection once the
 * pool's idle ones had closed (~13 ms to connect here), and the server stalled for 100-300 ms.
 */
export class DbKeyResolver implements KeyResolver {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly reads = new Map<string, Promise<ResolvedKey | null>>();
  /** Bumped by invalidate(): a read that started before it must not store what it read. */
  private generation = 0;
  private readonly touchedAt = new Map<string, number>();
  private readonly pendingWrites = new Set<Promise<unknown>>();

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  /** Synchronous while the key is cached (nearly every request): no promise on the hot path. */
  resolve(secret: string): ResolvedKey | null | Promise<ResolvedKey | null> {
    const cached = this.cache.get(secret);
    if (cached) {
      const age = this.now() - cached.fetchedAt;
      if (age < CACHE_TTL_MS) return cached.key;
      if (age < CACHE_TTL_MS + STALE_GRACE_MS) {
        // A failed refresh is retried by the next request; it never fails this one.
        this.read(secret).catch(() => undefined);
        return cached.key;
      }
    }
    return this.read(secret);
  }

  private read(secret: string): Promise<ResolvedKey | null> {
    let read = this.reads.get(secret);
    if (read === undefined) {
      read = this.load(secret).finally(() => {
        if (this.reads.get(secret) === read) this.reads.delete(secret);
      });
      this.reads.set(secret, read);
    }
    return read;
  }

  private async load(secret: string): Promise<ResolvedKey | null> {
    const generation = this.generation;
    const hash = hashKey(secret);
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'role', 'partner_id', 'customer_id', 'allowed_ips', 'expires_at', 'revoked_at'])
      .where('key_hash', '=', hash)
      .executeTakeFirst();
    const key: ResolvedKey | null = row
      ? {
          principal: {
            keyId: row.id,
            role: row.role,
            partnerId: row.partner_id,
            customerId: row.customer_id,
          },
          expiresAt: row.expires_at,
          revokedAt: row.revoked_at,
          ipAllowed: allowListMatcher(row.allowed_ips),
        }
      : null;
    if (generation !== this.generation) return key;
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(secret, { key, fetchedAt: this.now() });
    return key;
  }

  /** Drops the cache on every announced key change (and when announcements may have been missed). */
  follow(feed: ChangeFeed): () => void {
    return feed.subscribe(API_KEYS_TOPIC, {
      changed: () => this.invalidate(),
      resync: () => this.invalidate(),
    });
  }

  /** Forget everything cached (after a key changes); reads in flight are not kept. */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
    this.reads.clear();
  }

  touch(keyId: string): void {
    const now = this.now();
    if (now - (this.touchedAt.get(keyId) ?? 0) < TOUCH_INTERVAL_MS) return;
    this.touchedAt.set(keyId, now);
    const write = this.db
      .updateTable('api_keys')
      .set({ last_used_at: new Date(now) })
      .where('id', '=', keyId)
      .execute()
      .catch(() => this.touchedAt.delete(keyId))
      .finally(() => this.pendingWrites.delete(write));
    this.pendingWrites.add(write);
  }

  /** Waits for outstanding last_used_at writes (before the database closes). */
  async flush(): Promise<void> {
    await Promise.all([...this.pendingWrites]);
  }
}
