import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { lazyChildLogger, logDirectAccess, millisecondsText, OneLineRequestLog } from './request-log.js';

function appLogging(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  const app = Fastify({
    logger: { level, stream },
    logController: new OneLineRequestLog(),
    childLoggerFactory: lazyChildLogger,
    genReqId: () => 'req-1',
  });
  app.get('/quiet', async () => ({ ok: true }));
  app.get('/warns', async (request) => {
    request.log.warn({ detail: 42 }, 'something odd');
    request.log.debug('not at this level');
    return { ok: true };
  });
  return { app, lines };
}

test('at info the one access line per request carries the request id', async () => {
  const { app, lines } = appLogging('info');
  await app.inject({ method: 'GET', url: '/quiet' });
  const access = lines.filter((line) => line.msg === 'request completed');
  assert.equal(access.length, 1);
  assert.equal(access[0]!.reqId, 'req-1');
  assert.deepEqual(access[0]!.res, { statusCode: 200 });
  const req = access[0]!.req as Record<string, unknown>;
  assert.equal(req.method, 'GET');
  assert.equal(req.url, '/quiet');
  assert.equal(req.remoteAddress, '127.0.0.1');
  assert.equal(typeof access[0]!.responseTime, 'number');
  await app.close();
});

test('at warn a quiet request writes nothing; a warning from a handler carries the request id', async () => {
  const { app, lines } = appLogging('warn');
  await app.inject({ method: 'GET', url: '/quiet' });
  assert.equal(lines.length, 0);
  await app.inject({ method: 'GET', url: '/warns' });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.msg, 'something odd');
  assert.equal(lines[0]!.reqId, 'req-1');
  assert.equal(lines[0]!.detail, 42);
  await app.close();
});

test('a per-route log level gets a real child at that level', async () => {
  const { app, lines } = appLogging('warn');
  app.get('/verbose', { logLevel: 'debug' }, async (request) => {
    request.log.debug('debugging');
    return { ok: true };
  });
  await app.inject({ method: 'GET', url: '/verbose' });
  const debug = lines.find((line) => line.msg === 'debugging');
  assert.equal(debug?.reqId, 'req-1');
  await app.close();
});

test('the access line is the line pino writes itself for the same fields, escaping included', async () => {
  const { app, lines } = appLogging('info');
  // The same fields through pino's own path, for comparison (Fastify's serializers apply).
  app.addHook('onResponse', (request, reply, done) => {
    app.log.info({ reqId: request.id, req: request, res: reply, responseTime: 0 }, 'through pino');
    done();
  });
  await app.inject({
    method: 'GET',
    url: '/quiet?q=%22quoted%22&x=\\',
    headers: { 'accept-version': '1.x', host: 'api.example "test"' },
  });
  const ours = lines.find((line) => line.msg === 'request completed');
  const pinos = lines.find((line) => line.msg === 'through pino');
  assert.ok(ours && pinos, JSON.stringify(lines));
  assert.equal(typeof ours.time, 'number');
  assert.ok((ours.responseTime as number) >= 0);
  const comparable = (line: Record<string, unknown>) => ({ ...line, time: 0, responseTime: 0, msg: '' });
  assert.deepEqual(comparable(ours), comparable(pinos));
  assert.deepEqual(Object.keys(ours), Object.keys(pinos));
  assert.equal((ours.req as { version: string }).version, '1.x');
  await app.close();
});

test('a request the direct lane answers gets the same access line as one Fastify answers', async () => {
  const { app, lines } = appLogging('info');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: false });
  await new Promise<void>((resolve, reject) => {
    request({ port, path: '/quiet?number=%2B44', agent }, (response) => {
      response.resume();
      response.on('end', resolve);
    })
      .on('error', reject)
      .end();
  });
  const fastifys = lines.find((line) => line.msg === 'request completed');
  assert.ok(fastifys, JSON.stringify(lines));
  const req = fastifys.req as { url: string; host: string; remoteAddress: string; remotePort: number };
  logDirectAccess(app.log, 'req-1', {
    method: 'GET',
    url: req.url,
    version: undefined,
    host: req.host,
    ip: req.remoteAddress,
    port: req.remotePort,
    statusCode: 200,
    elapsedMs: fastifys.responseTime as number,
  });
  const lanes = lines.at(-1)!;
  assert.notEqual(lanes, fastifys);
  assert.deepEqual({ ...lanes, time: 0 }, { ...fastifys, time: 0 });
  assert.deepEqual(Object.keys(lanes), Object.keys(fastifys), 'the same fields in the same order');
  await app.close();
});

test('the response time is written in milliseconds to the microsecond, as a JSON number', () => {
  const cases: Array<[number, string]> = [
    [0, '0.000'],
    [0.0197, '0.020'],
    [0.0004, '0.000'],
    [1, '1.000'],
    [12.5, '12.500'],
    [999.9996, '1000.000'],
    [1234.567891, '1234.568'],
  ];
  for (const [milliseconds, text] of cases) {
    assert.equal(millisecondsText(milliseconds), text);
    assert.ok(Math.abs(JSON.parse(text) - milliseconds) <= 0.0005);
  }
  // Out of the integer path's range: V8's own text.
  assert.equal(millisecondsText(-1), '-1');
  assert.equal(millisecondsText(2e9), '2000000000');
});

test('requests on one keep-alive connection each log their own Host header, and the same port', async () => {
  const { app, lines } = appLogging('info');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (host: string) =>
    new Promise<void>((resolve, reject) => {
      request({ port, host: '127.0.0.1', path: '/quiet', agent, headers: { host } }, (response) => {
        response.resume();
        response.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
  try {
    for (const host of ['one.example', 'one.example', 'two "quoted".example']) await get(host);
  } finally {
    agent.destroy();
    await app.close();
  }
  const access = lines.filter((line) => line.msg === 'request completed');
  const reqs = access.map((line) => line.req as { host: string; remotePort: number; remoteAddress: string });
  assert.deepEqual(
    reqs.map((req) => req.host),
    ['one.example', 'one.example', 'two "quoted".example'],
  );
  assert.equal(new Set(reqs.map((req) => req.remotePort)).size, 1);
  assert.ok(reqs.every((req) => req.remoteAddress === '127.0.0.1'));
});
