import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openDatabase } from '../src/db/index.js';
import { DbKeyResolver } from '../src/modules/accounts/key-resolver.js';
import { ADMIN_KEY, startTestApp, TEST_DB, type TestApp } from './helpers/app.js';

/**
 * The API-key cache (src/modules/accounts/key-resolver.ts) against the real database: one read
 * per secret at a time, a stale entry answered while it is refreshed, nothing read before an
 * invalidation kept after it, and another process's key changes heard through the change feed.
 */
let t: TestApp;
let clock = 0;
const now = () => clock;
before(async () => {
  t = await startTestApp();
});
after(async () => t.close());

const isPromise = (value: unknown): value is Promise<unknown> => value instanceof Promise;

test('requests that miss together share one read, and then the key is answered synchronously', async () => {
  const keys = new DbKeyResolver(t.handle.db, now);
  const misses = Array.from({ length: 20 }, () => keys.resolve(ADMIN_KEY));
  assert.ok(misses.every(isPromise));
  assert.equal(new Set(misses).size, 1, 'one shared read');
  const key = await misses[0];
  assert.equal(key?.principal.role, 'admin');
  const cached = keys.resolve(ADMIN_KEY);
  assert.ok(!isPromise(cached), 'cached: synchronous');
  assert.equal(cached?.principal.keyId, key?.principal.keyId);
});

test('past its TTL an entry is answered while one refresh reads the database; past the grace a request waits', async () => {
  clock = 1_000_000;
  const keys = new DbKeyResolver(t.handle.db, now);
  const created = await t.request('POST', '/api/v1/api-keys', {
    body: { role: 'admin', description: 'stale' },
  });
  assert.equal(created.status, 201, created.text);
  const { key: secret, id } = created.body.data as { key: string; id: string };
  assert.equal((await keys.resolve(secret))?.revokedAt, null);

  // Revoked by another process: this one keeps its entry for the TTL.
  await t.handle.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', id).execute();
  clock += 4_999;
  assert.equal((keys.resolve(secret) as { revokedAt: Date | null }).revokedAt, null);

  // Stale: answered at once, and a refresh starts; when it lands, the revocation is seen.
  clock += 2;
  const stale = keys.resolve(secret);
  assert.ok(!isPromise(stale), 'stale entry answered without waiting');
  assert.equal(stale?.revokedAt, null);
  const revokedNow = () => {
    const answer = keys.resolve(secret);
    return !isPromise(answer) && answer?.revokedAt instanceof Date;
  };
  for (let i = 0; i < 100 && !revokedNow(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  const refreshed = keys.resolve(secret);
  assert.ok(!isPromise(refreshed));
  assert.ok(refreshed?.revokedAt instanceof Date, 'the refresh stored the revocation');

  // Older than TTL + grace: the request waits for the database.
  clock += 10_001;
  const waited = keys.resolve(secret);
  assert.ok(isPromise(waited), 'too old to answer from memory');
  assert.ok((await waited)?.revokedAt instanceof Date);
});

test('a read in flight when the cache is invalidated is not kept', async () => {
  const keys = new DbKeyResolver(t.handle.db, now);
  const inFlight = keys.resolve(ADMIN_KEY);
  assert.ok(isPromise(inFlight));
  keys.invalidate();
  assert.equal((await inFlight)?.principal.role, 'admin', 'the caller still gets its answer');
  const next = keys.resolve(ADMIN_KEY);
  assert.ok(isPromise(next), 'nothing was stored from the read before the invalidation');
  assert.notEqual(next, inFlight, 'a new read');
  await next;
  assert.ok(!isPromise(keys.resolve(ADMIN_KEY)));
});

test('a key revoked through another process is dropped when its announcement arrives, before the TTL', {
  skip: TEST_DB === 'postgres' ? false : 'LISTEN/NOTIFY runs on PostgreSQL only',
}, async () => {
  clock = 5_000_000;
  // The other process: its own database handle, change feed and key cache, with the clock stopped
  // so that only the announcement can make it read the key again.
  const other = await openDatabase({ databaseUrl: t.config.databaseUrl, dataDir: 'memory://' });
  try {
    await other.feed.listen({ warn: () => undefined });
    const keys = new DbKeyResolver(other.db, now);
    const stop = keys.follow(other.feed);
    const created = await t.data('POST', '/api/v1/api-keys', { role: 'admin' });
    assert.equal((await keys.resolve(created.key))?.revokedAt, null);
    assert.equal((await t.request('DELETE', `/api/v1/api-keys/${created.id}`)).status, 200);
    const deadline = Date.now() + 5_000;
    let answer = await keys.resolve(created.key);
    while (!answer?.revokedAt && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      answer = await keys.resolve(created.key);
    }
    assert.ok(answer?.revokedAt instanceof Date, 'the revocation reached the other process');
    stop();
  } finally {
    await other.close();
  }
});
