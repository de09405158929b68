import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp, type TestResponse } from './helpers/app.js';

/**
 * Walks EVERY registered /api/v1 route with another tenant's keys. Object routes must answer 404
 * for tenant A's ids, whatever the method and body; list routes must never show A's data. New
 * modules are covered automatically: an object route open to non-admin keys whose id prefix has no
 * tenant-A fixture below fails this test until one is added.
 */
let t: TestApp;
const tenantA: Record<string, string> = {};
const outsiders: Record<string, string> = {};
/** Fixtures by parameter name, for parameters that are not prefixed ids. */
const namedFixtures: Record<string, string> = {};

async function post(url: string, body: Record<string, unknown>, key?: string) {
  const res = await t.request('POST', url, { body, ...(key ? { key } : {}) });
  assert.equal(res.status, 201, `${url}: ${res.text}`);
  return res.body.data;
}

before(async () => {
  t = await startTestApp();
  const partnerA = await post('/api/v1/partners', { name: 'Partner A', currency: 'USD' });
  const customerA = await post('/api/v1/customers', { name: 'Customer A', partner_id: partnerA.id });
  const keyA = await post('/api/v1/api-keys', { role: 'customer', customer_id: customerA.id });
  Object.assign(tenantA, { par: partnerA.id, cus: customerA.id, key: keyA.id });
  const endpointA = await post('/api/v1/webhook-endpoints', {
    url: 'https://tenant-a.example/hooks',
    events: ['*'],
    customer_id: customerA.id,
  });
  tenantA.whe = endpointA.id;
  // Path parameters that are not prefixed ids (a switch's call id) get a tenant-A object too.
  const live = await t.request('POST', '/api/v1/calls/tenant-a-call/start', {
    body: { customer_id: customerA.id, callee: '441234' },
  });
  assert.equal(live.status, 201, live.text);
  namedFixtures.call_id = 'tenant-a-call';
  tenantA.lcl = live.body.data.id;
  // A CDR of tenant A's (unrated: the customer has no card; it is stored all the same).
  const batch = await t.request('POST', '/api/v1/cdrs', {
    body: [
      {
        call_id: 'tenant-a-cdr',
        customer_id: customerA.id,
        caller: '441234',
        callee: '441235',
        start_time: '2026-11-02T10:00:00Z',
        end_time: '2026-11-02T10:01:00Z',
        answer_time: '2026-11-02T10:00:01Z',
        disposition: 'answered',
      },
    ],
  });
  assert.equal(batch.body.data?.accepted, 1, batch.text);
  tenantA.cdr = (await t.request('GET', '/api/v1/cdrs?call_id=tenant-a-cdr')).body.data[0].id;

  const partnerB = await post('/api/v1/partners', { name: 'Partner B', currency: 'USD' });
  const customerB = await post('/api/v1/customers', { name: 'Customer B', partner_id: partnerB.id });
  outsiders.partner = (await post('/api/v1/api-keys', { role: 'partner', partner_id: partnerB.id })).key;
  outsiders.customer = (await post('/api/v1/api-keys', { role: 'customer', customer_id: customerB.id })).key;
  // A customer of the operator itself, outside every partner.
  const direct = await post('/api/v1/customers', { name: 'Direct', currency: 'USD' });
  outsiders.direct_customer = (
    await post('/api/v1/api-keys', { role: 'customer', customer_id: direct.id })
  ).key;
});
after(async () => t.close());

interface ParamSchema {
  properties?: Record<string, { pattern?: string }>;
}

const apiRoutes = () =>
  t.routes.flatMap((route) =>
    (Array.isArray(route.method) ? route.method : [route.method])
      .filter(
        (method) => method !== 'HEAD' && route.url.startsWith('/api/v1') && route.config?.auth !== false,
      )
      .map((method) => ({ method, url: route.url, route })),
  );

/** The URL with tenant A's objects filled in, and whether every parameter is a prefixed id. */
function fillParams(url: string, params: ParamSchema | undefined, adminOnly: boolean) {
  let filled = url;
  let allIds = true;
  for (const [name, schema] of Object.entries(params?.properties ?? {})) {
    const prefix = /^\^([a-z]+)_/.exec(schema.pattern ?? '')?.[1];
    allIds &&= prefix !== undefined;
    const fixture = prefix ? tenantA[prefix] : namedFixtures[name];
    if (!fixture && !adminOnly) return null;
    filled = filled.replace(`:${name}`, fixture ?? `${prefix ?? 'x'}_01aaaaaaaaaaaaaaaaaaaaaaaa`);
  }
  return { target: filled, allIds };
}

test('every object route answers 404 to another tenant, for every method', async () => {
  const uncovered: string[] = [];
  let checked = 0;
  for (const { method, url, route } of apiRoutes().filter((r) => r.url.includes(':'))) {
    const roles = route.config?.roles as string[] | undefined;
    const adminOnly = Boolean(roles && roles.length === 1 && roles[0] === 'admin');
    const filled = fillParams(url, route.schema?.params as ParamSchema | undefined, adminOnly);
    if (!filled) {
      uncovered.push(`${method} ${url}`);
      continue;
    }
    const { target, allIds } = filled;
    for (const [who, key] of Object.entries(outsiders)) {
      const res: TestResponse = await t.request(method, target, {
        key,
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }),
      });
      // An id in the path is another tenant's object: 404. A name the client chooses (a call id)
      // is not an object lookup; it must still fail and show nothing.
      if (allIds) assert.equal(res.status, 404, `${who} ${method} ${target} → ${res.status} ${res.text}`);
      else
        assert.ok(
          res.status >= 400 && res.status < 500,
          `${who} ${method} ${target} → ${res.status} ${res.text}`,
        );
      for (const id of Object.values(tenantA))
        assert.ok(!res.text.includes(id), `${who} ${method} ${target} leaks ${id}`);
      checked++;
    }
  }
  assert.deepEqual(
    uncovered,
    [],
    'object routes open to non-admin keys need a tenant-A fixture in this test',
  );
  assert.ok(checked >= 20, `walked ${checked} route×key combinations`);
});

test('no list route shows another tenant’s objects', async () => {
  let checked = 0;
  for (const { url } of apiRoutes().filter((r) => r.method === 'GET' && !r.url.includes(':'))) {
    for (const [who, key] of Object.entries(outsiders)) {
      const res = await t.request('GET', `${url}?limit=100`, { key });
      assert.ok(res.status < 500, `${who} GET ${url} → ${res.status}`);
      for (const id of Object.values(tenantA))
        assert.ok(!res.text.includes(id), `${who} GET ${url} leaks ${id}`);
      checked++;
    }
  }
  assert.ok(checked >= 9);
});

test('tenant A’s own keys still see their objects (the walk above is not vacuous)', async () => {
  const own = await t.request('POST', '/api/v1/api-keys', {
    body: { role: 'partner', partner_id: tenantA.par },
  });
  const res = await t.request('GET', `/api/v1/customers/${tenantA.cus}`, { key: own.body.data.key });
  assert.equal(res.status, 200);
});
