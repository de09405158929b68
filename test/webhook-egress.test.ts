import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { deliverDueEvents } from '../src/modules/webhooks/delivery.js';
import { EgressPolicy } from '../src/modules/webhooks/egress.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { created, makeTenant } from './ledger-fixtures.js';

/**
 * Webhook deliveries reach public addresses only (decision 0052), on a server with the default
 * WEBHOOK_ALLOWED_NETWORKS (none): a key cannot make Tollgate POST into the operator's network.
 */
let t: TestApp;
let hits = 0;
const receiver = createServer((_request, response) => {
  hits++;
  response.end('ok');
});

before(async () => {
  t = await startTestApp({ WEBHOOK_ALLOWED_NETWORKS: '' });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  receiver.close();
  await t.close();
});

const INTERNAL_URLS = [
  'http://127.0.0.1:9/hooks',
  'http://0x7f.1/hooks', // 127.0.0.1 in another spelling; URL parsing normalises it
  'http://2130706433/hooks',
  'http://[::1]/hooks',
  'http://[::ffff:127.0.0.1]/hooks',
  'http://[::ffff:a00:1]/hooks', // 10.0.0.1, IPv4-mapped, in hex
  'http://localhost:8080/hooks',
  'http://LocalHost./hooks',
  'http://api.localhost/hooks',
  'http://10.1.2.3/hooks',
  'http://172.16.0.1/hooks',
  'http://192.168.1.1/hooks',
  'http://169.254.169.254/latest/meta-data/',
  'http://100.64.0.1/hooks',
  'http://0.0.0.0/hooks',
  'http://[fd00::1]/hooks',
  'http://[fe80::1]/hooks',
  'http://[64:ff9b::a00:1]/hooks', // NAT64 of 10.0.0.1
];

test('an endpoint at a loopback, private, link-local or special address is refused, for every role', async () => {
  const tenant = await makeTenant(t);
  for (const url of INTERNAL_URLS) {
    for (const key of [undefined, tenant.customerKey]) {
      const res = await t.request('POST', '/api/v1/webhook-endpoints', {
        body: { url, events: ['*'] },
        ...(key ? { key } : {}),
      });
      assert.equal(res.status, 400, `${url}: ${res.text}`);
      assert.equal(res.body.error.param, 'url');
      assert.match(res.body.error.reason, /public addresses only/);
    }
  }
  const endpoints = await t.handle.db.selectFrom('webhook_endpoints').select('id').execute();
  assert.equal(endpoints.length, 0, 'nothing was registered');
});

test('a public URL is taken, and cannot be changed to an internal one', async () => {
  const endpoint = await created(t, '/api/v1/webhook-endpoints', {
    url: 'https://hooks.example.com/tollgate',
    events: ['*'],
  });
  const patched = await t.request('PATCH', `/api/v1/webhook-endpoints/${endpoint.id}`, {
    body: { url: 'http://169.254.169.254/latest/meta-data/' },
  });
  assert.equal(patched.status, 400, patched.text);
  assert.equal(patched.body.error.param, 'url');
  await t.request('DELETE', `/api/v1/webhook-endpoints/${endpoint.id}`);
});

test('a name that resolves to an internal address is not connected to when delivering', async () => {
  const tenant = await makeTenant(t, { customerLimit: '-100' });
  const endpoint = await created(
    t,
    '/api/v1/webhook-endpoints',
    { url: 'https://hooks.example.com/rebound', events: ['balance.changed'] },
    tenant.customerKey,
  );
  // What a DNS rebinding achieves after registration: the endpoint's name now leads to loopback.
  const { port } = receiver.address() as AddressInfo;
  await t.handle.db
    .updateTable('webhook_endpoints')
    .set({ url: `http://localhost:${port}/rebound` })
    .where('id', '=', endpoint.id)
    .execute();
  await created(t, `/api/v1/customers/${tenant.customer.id}/adjustments`, { amount: '5', description: 'x' });

  const options = (allowed: string[]) => ({
    secretsKey: t.config.secretsKey,
    egress: new EgressPolicy(allowed),
  });
  const refused = await deliverDueEvents(t.handle.db, new Date(Date.now() + 1000), options([]));
  assert.equal(refused.retrying, 1);
  assert.equal(hits, 0, 'no request reached the internal address');
  const [delivery] = await t.handle.db
    .selectFrom('webhook_deliveries')
    .select(['last_error', 'last_status_code'])
    .where('endpoint_id', '=', endpoint.id)
    .execute();
  assert.match(String(delivery?.last_error), /localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
  assert.equal(delivery?.last_status_code, null);

  // The same delivery, where the operator allows loopback, arrives: the refusal above was the policy.
  const allowed = await deliverDueEvents(
    t.handle.db,
    new Date(Date.now() + 3_600_000),
    options(['127.0.0.0/8', '::1']),
  );
  assert.equal(allowed.delivered, 1);
  assert.equal(hits, 1);
});

test('the policy: public unicast passes, listed networks pass, a mapped address is read as IPv4', () => {
  const none = new EgressPolicy([]);
  assert.equal(none.refusal('93.184.216.34'), null);
  assert.equal(none.refusal('2606:2800:220:1:248:1893:25c8:1946'), null);
  assert.match(String(none.refusal('::ffff:10.0.0.1')), /^10\.0\.0\.1, a private/);
  assert.match(String(none.literalRefusal('[::1]')), /loopback/);
  assert.equal(none.literalRefusal('example.com'), null, 'a name is checked when it is resolved');
  const lan = new EgressPolicy(['10.0.0.0/8', '::1']);
  assert.equal(lan.refusal('10.9.9.9'), null);
  assert.equal(lan.refusal('::ffff:10.9.9.9'), null);
  assert.equal(lan.refusal('::1'), null);
  assert.match(String(lan.refusal('192.168.0.1')), /private/);
  assert.match(String(lan.refusal('127.0.0.1')), /loopback/);
});
