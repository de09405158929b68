import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerErrorHandling } from './errors.js';
import { RateLimiter, registerRateLimit } from './rate-limit.js';

let app: FastifyInstance;

beforeEach(async () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  app = Fastify();
  registerErrorHandling(app);
  app.decorateRequest('principal', null);
  // Stands in for auth: the key id comes from a header.
  app.addHook('onRequest', (request, _reply, done) => {
    const key = request.headers['x-key'];
    request.principal =
      typeof key === 'string' ? { keyId: key, role: 'customer', partnerId: null, customerId: null } : null;
    done();
  });
  registerRateLimit(app, new RateLimiter({ max: 2, windowMs: 10_000, maxTrackedKeys: 3 }));
  app.get('/limited', async () => ({ ok: true }));
  app.get('/health', { config: { rateLimit: false } }, async () => ({ ok: true }));
  await app.ready();
});

afterEach(async () => {
  await app.close();
  mock.timers.reset();
});

const get = (url: string, key?: string) =>
  app.inject({ method: 'GET', url, headers: key ? { 'x-key': key } : {} });

test('a key gets max requests per window with RateLimit headers, then 429 with Retry-After', async () => {
  const first = await get('/limited', 'k1');
  assert.equal(first.statusCode, 200);
  assert.equal(first.headers['ratelimit-limit'], '2');
  assert.equal(first.headers['ratelimit-remaining'], '1');
  assert.equal(first.headers['ratelimit-reset'], '10');
  mock.timers.tick(3_500);
  const second = await get('/limited', 'k1');
  assert.equal(second.headers['ratelimit-remaining'], '0');
  assert.equal(second.headers['ratelimit-reset'], '7', 'seconds left in the window, rounded up');
  const third = await get('/limited', 'k1');
  assert.equal(third.statusCode, 429);
  assert.equal(third.json().error.type, 'rate_limited');
  assert.equal(third.headers['retry-after'], '7');
  assert.equal(third.headers['ratelimit-remaining'], '0');
  assert.equal(third.headers['ratelimit-limit'], '2');
  // Another key has its own window.
  assert.equal((await get('/limited', 'k2')).statusCode, 200);
  // The window ends: the key starts afresh.
  mock.timers.tick(6_500);
  const fresh = await get('/limited', 'k1');
  assert.equal(fresh.statusCode, 200);
  assert.equal(fresh.headers['ratelimit-remaining'], '1');
});

test('routes with rateLimit: false and unmatched URLs are not counted; callers without a key count by address', async () => {
  for (let i = 0; i < 5; i++) {
    const health = await get('/health', 'k1');
    assert.equal(health.statusCode, 200);
    assert.equal(health.headers['ratelimit-limit'], undefined);
    assert.equal((await get('/nowhere', 'k1')).statusCode, 404);
  }
  assert.equal((await get('/limited', 'k1')).headers['ratelimit-remaining'], '1');
  assert.equal((await get('/limited')).statusCode, 200);
  assert.equal((await get('/limited')).statusCode, 200);
  assert.equal((await get('/limited')).statusCode, 429, 'the anonymous caller is limited by its address');
});

test('past maxTrackedKeys expired windows are swept, live ones kept', async () => {
  await get('/limited', 'a');
  await get('/limited', 'a');
  mock.timers.tick(10_000);
  await get('/limited', 'b');
  await get('/limited', 'b');
  await get('/limited', 'c');
  // 'a' expired and is swept to make room; 'b' is live and still exhausted.
  await get('/limited', 'd');
  assert.equal((await get('/limited', 'b')).statusCode, 429);
  assert.equal((await get('/limited', 'a')).headers['ratelimit-remaining'], '1');
});
