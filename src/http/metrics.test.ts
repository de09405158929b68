import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { RequestMetrics, registerMetrics } from './metrics.js';

test('request counts and the latency histogram reach /metrics in Prometheus form', async () => {
  const app = Fastify();
  const { registry } = registerMetrics(app);
  app.get('/things/:id', async (request, reply) => {
    if ((request.params as { id: string }).id === 'missing') return reply.code(404).send({ found: false });
    return { found: true };
  });
  await app.ready();
  try {
    for (const id of ['a', 'b', 'missing']) await app.inject({ method: 'GET', url: `/things/${id}` });
    await app.inject({ method: 'GET', url: '/no/such/route' });
    const text = await registry.metrics();
    assert.match(text, /# TYPE tollgate_http_requests_total counter/);
    assert.match(
      text,
      /^tollgate_http_requests_total\{method="GET",route="\/things\/:id",status="200"\} 2$/m,
    );
    assert.match(
      text,
      /^tollgate_http_requests_total\{method="GET",route="\/things\/:id",status="404"\} 1$/m,
    );
    assert.match(text, /^tollgate_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
    assert.match(text, /# TYPE tollgate_http_request_duration_seconds histogram/);
    assert.match(
      text,
      /^tollgate_http_request_duration_seconds_bucket\{method="GET",route="\/things\/:id",le="\+Inf"\} 3$/m,
    );
    assert.match(
      text,
      /^tollgate_http_request_duration_seconds_count\{method="GET",route="\/things\/:id"\} 3$/m,
    );
    assert.match(
      text,
      /^tollgate_http_request_duration_seconds_sum\{method="GET",route="\/things\/:id"\} [\d.e-]+$/m,
    );
    // Buckets are cumulative: each is at least the one before, the last is the count.
    const buckets = [
      ...text.matchAll(
        /^tollgate_http_request_duration_seconds_bucket\{method="GET",route="\/things\/:id",le="[^"]+"\} (\d+)$/gm,
      ),
    ].map((match) => Number(match[1]));
    assert.equal(buckets.length, 13);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]! >= buckets[i - 1]!);
    assert.match(text, /^tollgate_process_cpu_seconds_total /m, 'process defaults are still there');
  } finally {
    await app.close();
  }
});

test('a latency counts in the first bucket whose bound is at least it (le is inclusive)', async () => {
  const metrics = new RequestMetrics();
  metrics.record('GET', '/x', 200, 0.001);
  metrics.record('GET', '/x', 200, 0.0011);
  metrics.record('GET', '/x', 200, 9);
  const [, histogram] = metrics.metricObjects();
  const values = (await histogram!.get()).values;
  const bucket = (le: number | string) => values.find((value) => value.labels.le === le)?.value;
  assert.equal(bucket(0.0005), 0);
  assert.equal(bucket(0.001), 1);
  assert.equal(bucket(0.0025), 2);
  assert.equal(bucket(2.5), 2);
  assert.equal(bucket('+Inf'), 3);
});
