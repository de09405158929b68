import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { openDatabase } from '../src/db/index.js';
import { postTransaction } from '../src/modules/ledger/posting.js';
import { deliverDueEvents, MAX_ATTEMPTS, RETRY_DELAYS_SECONDS } from '../src/modules/webhooks/delivery.js';
import { EgressPolicy } from '../src/modules/webhooks/egress.js';
import { enqueueEvents } from '../src/modules/webhooks/events.js';
import { verifySignature } from '../src/modules/webhooks/signing.js';
import { Decimal } from '../src/money/index.js';
import { startTestApp, TEST_DB, type TestApp } from './helpers/app.js';
import { created, makeTenant } from './ledger-fixtures.js';

/**
 * Outgoing events end to end: endpoints registered through the API, money moved through the
 * API, deliveries sent by the worker (on a fake clock) to real HTTP receivers on 127.0.0.1.
 */
let t: TestApp;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver: records what it gets and answers `status` (after `delayMs`). */
async function receiver(options: { status?: number; delayMs?: number } = {}) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      setTimeout(() => res.writeHead(options.status ?? 200).end('ok'), options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  const events = () => received.map((r) => JSON.parse(r.body));
  return { url, received, events, close: () => new Promise((resolve) => server.close(resolve)) };
}
const receivers: { close(): Promise<unknown> }[] = [];
async function newReceiver(options?: { status?: number; delayMs?: number }) {
  const r = await receiver(options);
  receivers.push(r);
  return r;
}

before(async () => {
  t = await startTestApp();
});
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await t.close();
});

const deliveryOptions = () => ({
  secretsKey: t.config.secretsKey,
  egress: new EgressPolicy(t.config.webhookAllowedNetworks),
});

/** The worker on a fake clock `secondsAhead` from now. */
const deliverAt = (secondsAhead: number, start = Date.now()) =>
  deliverDueEvents(t.handle.db, new Date(start + secondsAhead * 1000), deliveryOptions());

async function endpoint(url: string, body: Record<string, unknown> = {}, key?: string) {
  return created(t, '/api/v1/webhook-endpoints', { url, events: ['*'], ...body }, key);
}

const adjust = (customerId: string, amount: string) =>
  created(t, `/api/v1/customers/${customerId}/adjustments`, { amount, description: 'webhook test' });

test('a customer adjustment reaches the customer’s endpoint as a signed balance.changed event', async () => {
  const tenant = await makeTenant(t, { customerLimit: '-100' });
  const hook = await newReceiver();
  const ep = await endpoint(
    hook.url,
    { events: ['balance.changed'], description: 'mine' },
    tenant.customerKey,
  );
  assert.match(ep.id, /^whe_/);
  assert.match(ep.secret, /^whsec_/);
  assert.equal(ep.owner_kind, 'customer');
  assert.equal(ep.customer_id, tenant.customer.id);
  const posted = await adjust(tenant.customer.id, '12.5');

  const start = Date.now();
  const summary = await deliverAt(1, start);
  assert.equal(summary.delivered, summary.claimed);
  assert.equal(hook.received.length, 1);
  const [{ headers, body }] = hook.received as [Received];
  const event = JSON.parse(body);
  assert.equal(event.type, 'balance.changed');
  assert.match(event.id, /^evt_/);
  assert.equal(headers['tollgate-event-id'], event.id);
  assert.equal(headers['content-type'], 'application/json');
  assert.deepEqual(
    {
      customer_id: event.data.customer_id,
      amount: event.data.amount,
      balance: event.data.balance,
      transaction_id: event.data.transaction_id,
    },
    { customer_id: tenant.customer.id, amount: '-12.5', balance: '-12.5', transaction_id: posted.id },
  );
  const signature = String(headers['tollgate-signature']);
  const nowSeconds = Math.floor((start + 1000) / 1000);
  assert.ok(verifySignature(ep.secret, signature, body, nowSeconds), signature);
  assert.ok(
    !verifySignature(ep.secret, signature, body.replace('12.5', '99.5'), nowSeconds),
    'tampered body',
  );
  assert.ok(!verifySignature('whsec_other', signature, body, nowSeconds), 'wrong secret');
  assert.ok(!verifySignature(ep.secret, signature, body, nowSeconds + 301), 'replayed too late');

  const deliveries = await t.request('GET', `/api/v1/webhook-endpoints/${ep.id}/deliveries`, {
    key: tenant.customerKey,
  });
  assert.equal(deliveries.status, 200, deliveries.text);
  assert.equal(deliveries.body.data.length, 1);
  assert.equal(deliveries.body.data[0].id, event.id);
  assert.equal(deliveries.body.data[0].status, 'delivered');
  assert.equal(deliveries.body.data[0].attempts, 1);
  assert.equal(deliveries.body.data[0].last_status_code, 200);
  assert.deepEqual(deliveries.body.data[0].event, event);
  // The secret is shown once: never by a read.
  const read = await t.request('GET', `/api/v1/webhook-endpoints/${ep.id}`, { key: tenant.customerKey });
  assert.equal(read.status, 200);
  assert.equal(read.body.data.secret, undefined);
  assert.ok(!read.text.includes(ep.secret));
});

test('a failing receiver is retried after 30 s, 2 min, 10 min, 1 h, 6 h and 24 h, then the delivery fails', async () => {
  const tenant = await makeTenant(t, { customerLimit: '-100' });
  const hook = await newReceiver({ status: 500 });
  const ep = await endpoint(hook.url, { customer_id: tenant.customer.id });
  await adjust(tenant.customer.id, '1');
  const start = Date.now() + 1000;
  let elapsed = 0;
  await deliverDueEvents(t.handle.db, new Date(start), deliveryOptions());
  assert.equal(hook.received.length, 1);
  for (const [index, delay] of RETRY_DELAYS_SECONDS.entries()) {
    // One second early: not due yet.
    await deliverDueEvents(t.handle.db, new Date(start + (elapsed + delay - 1) * 1000), {
      ...deliveryOptions(),
    });
    assert.equal(hook.received.length, index + 1, `not retried before ${delay} s`);
    elapsed += delay;
    await deliverDueEvents(t.handle.db, new Date(start + elapsed * 1000), {
      ...deliveryOptions(),
    });
    assert.equal(hook.received.length, index + 2, `retried after ${delay} s`);
  }
  assert.equal(hook.received.length, MAX_ATTEMPTS);
  const ids = new Set(hook.received.map((r) => r.headers['tollgate-event-id']));
  assert.equal(ids.size, 1, 'every attempt sends the same event');
  assert.equal(new Set(hook.received.map((r) => r.body)).size, 1, 'byte for byte');
  // Failed for good: a week later nothing more is sent.
  await deliverDueEvents(t.handle.db, new Date(start + (elapsed + 7 * 86_400) * 1000), {
    ...deliveryOptions(),
  });
  assert.equal(hook.received.length, MAX_ATTEMPTS);
  const list = await t.request('GET', `/api/v1/webhook-endpoints/${ep.id}/deliveries?status=failed`);
  assert.equal(list.body.data.length, 1);
  assert.equal(list.body.data[0].status, 'failed');
  assert.equal(list.body.data[0].attempts, MAX_ATTEMPTS);
  assert.equal(list.body.data[0].last_status_code, 500);
  assert.equal(list.body.data[0].last_error, 'HTTP 500');
  assert.equal(list.body.data[0].next_attempt_at, null);
});

test('an endpoint that does not answer is retried (connection refused is a failed attempt)', async () => {
  const tenant = await makeTenant(t, { customerLimit: '-100' });
  const gone = await receiver();
  await gone.close();
  const ep = await endpoint(gone.url, { customer_id: tenant.customer.id });
  await adjust(tenant.customer.id, '1');
  await deliverAt(1);
  const list = await t.request('GET', `/api/v1/webhook-endpoints/${ep.id}/deliveries`);
  assert.equal(list.body.data[0].status, 'pending');
  assert.equal(list.body.data[0].attempts, 1);
  assert.equal(list.body.data[0].last_status_code, null);
  assert.ok(list.body.data[0].last_error);
  await t.request('DELETE', `/api/v1/webhook-endpoints/${ep.id}`);
});

test('tenancy: a customer’s endpoint gets only its events; its partner’s gets all its customers’', async () => {
  const tenant = await makeTenant(t, { customerLimit: '-100', partnerFunds: '100' });
  const sibling = await created(t, '/api/v1/customers', {
    name: 'Sibling',
    partner_id: tenant.partner.id,
    credit_limit: '-100',
  });
  const other = await makeTenant(t, { customerLimit: '-100' });
  const mine = await newReceiver();
  const partners = await newReceiver();
  const otherPartners = await newReceiver();
  await endpoint(mine.url, {}, tenant.customerKey);
  const partnerEp = await endpoint(partners.url, {}, tenant.partnerKey);
  assert.equal(partnerEp.owner_kind, 'partner');
  await endpoint(otherPartners.url, {}, other.partnerKey);

  await adjust(sibling.id, '2');
  await adjust(other.customer.id, '3');
  await adjust(tenant.customer.id, '4');
  const transfer = await t.request('PUT', '/api/v1/partner/funds', {
    body: { account_number: tenant.customer.account_number, amount: '5', description: 'top-up' },
  });
  assert.equal(transfer.status, 200, transfer.text);
  await deliverAt(1);

  const summary = (events: { data: Record<string, string> }[]) =>
    events.map((e) => `${e.data.customer_id ?? e.data.partner_id}:${e.data.amount}`).sort();
  assert.deepEqual(summary(mine.events()), [`${tenant.customer.id}:-4`, `${tenant.customer.id}:5`].sort());
  assert.deepEqual(
    summary(partners.events()),
    [
      `${sibling.id}:-2`,
      `${tenant.customer.id}:-4`,
      `${tenant.customer.id}:5`,
      `${tenant.partner.id}:-5`,
    ].sort(),
  );
  assert.deepEqual(summary(otherPartners.events()), [`${other.customer.id}:-3`]);
});

test('a transfer under an Idempotency-Key while events are wanted posts alone, once, with one event', async () => {
  // With an endpoint, transfers are posted alone (events are written in the posting's
  // transaction), so the claim is made the generic way first (decision 0025).
  const tenant = await makeTenant(t, { partnerFunds: '100' });
  const hook = await newReceiver();
  await endpoint(hook.url, {}, tenant.customerKey);
  const send = (amount: string) =>
    t.request('PUT', '/api/v1/partner/funds', {
      key: tenant.partnerKey,
      body: { account_number: tenant.customer.account_number, amount, description: 'keyed top-up' },
      headers: { 'idempotency-key': 'keyed-with-events' },
    });
  const first = await send('6');
  assert.equal(first.status, 200, first.text);
  const retry = await send('6');
  assert.equal(retry.headers['idempotency-hit'], 'true');
  assert.equal(retry.body.data.transaction_id, first.body.data.transaction_id);
  assert.equal((await send('7')).status, 409);
  await deliverAt(1);
  assert.deepEqual(
    hook.events().map((e: { data: Record<string, string> }) => e.data.amount),
    ['6'],
  );
});

test('endpoints of another tenant are not found; lists show only one’s own', async () => {
  const a = await makeTenant(t);
  const b = await makeTenant(t);
  const hook = await newReceiver();
  const epA = await endpoint(hook.url, {}, a.customerKey);
  for (const key of [b.customerKey, b.partnerKey]) {
    for (const [method, url] of [
      ['GET', `/api/v1/webhook-endpoints/${epA.id}`],
      ['PATCH', `/api/v1/webhook-endpoints/${epA.id}`],
      ['DELETE', `/api/v1/webhook-endpoints/${epA.id}`],
      ['POST', `/api/v1/webhook-endpoints/${epA.id}/rotate-secret`],
      ['GET', `/api/v1/webhook-endpoints/${epA.id}/deliveries`],
    ] as const) {
      const res = await t.request(method, url, {
        key,
        ...(method === 'PATCH' ? { body: { status: 'disabled' } } : {}),
      });
      assert.equal(res.status, 404, `${method} ${url}: ${res.text}`);
    }
    const list = await t.request('GET', '/api/v1/webhook-endpoints?limit=100', { key });
    assert.ok(!list.text.includes(epA.id));
  }
  // A partner manages its customers' endpoints; a customer cannot make one for another account.
  const byPartner = await t.request('GET', `/api/v1/webhook-endpoints/${epA.id}`, { key: a.partnerKey });
  assert.equal(byPartner.status, 200);
  const foreign = await t.request('POST', '/api/v1/webhook-endpoints', {
    key: a.customerKey,
    body: { url: hook.url, events: ['*'], customer_id: b.customer.id },
  });
  assert.equal(foreign.status, 404, foreign.text);
  const forPartner = await t.request('POST', '/api/v1/webhook-endpoints', {
    key: a.customerKey,
    body: { url: hook.url, events: ['*'], partner_id: a.partner.id },
  });
  assert.equal(forPartner.status, 400, forPartner.text);
  await t.request('DELETE', `/api/v1/webhook-endpoints/${epA.id}`);
});

test('bad URLs and unknown event types are 400 naming the field', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ url: 'not a url', events: ['*'] }, 'url'],
    [{ url: 'ftp://example.com/hook', events: ['*'] }, 'url'],
    [{ url: 'https://user:pw@example.com/hook', events: ['*'] }, 'url'],
    [{ url: 'javascript:alert(1)', events: ['*'] }, 'url'],
    [{ url: 'https://example.com/hook', events: ['balance.changed', 'nope.nothing'] }, 'events'],
    [{ url: 'https://example.com/hook', events: ['*', 'payment.failed'] }, 'events'],
    [{ url: 'https://example.com/hook', events: [] }, 'events'],
    [{ url: 'https://example.com/hook' }, 'events'],
    [{ url: 'https://example.com/hook', events: ['*'], colour: 'blue' }, 'colour'],
  ];
  for (const [body, param] of cases) {
    const res = await t.request('POST', '/api/v1/webhook-endpoints', { body });
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    assert.equal(res.body.error.param, param, JSON.stringify(body));
  }
  const ep = await endpoint('https://example.com/hook', { events: ['payment.failed', 'payment.failed'] });
  assert.deepEqual(ep.events, ['payment.failed']);
  const patch = await t.request('PATCH', `/api/v1/webhook-endpoints/${ep.id}`, {
    body: { url: 'gopher://x' },
  });
  assert.equal(patch.status, 400);
  assert.equal(patch.body.error.param, 'url');
  await t.request('DELETE', `/api/v1/webhook-endpoints/${ep.id}`);
});

test('a rolled-back posting produces no event', async () => {
  const tenant = await makeTenant(t, { customerLimit: '0' });
  const hook = await newReceiver();
  const ep = await endpoint(hook.url, { customer_id: tenant.customer.id });
  const refused = await t.request('POST', `/api/v1/customers/${tenant.customer.id}/adjustments`, {
    body: { amount: '10', description: 'more than the customer has' },
  });
  assert.equal(refused.status, 402, refused.text);
  // Rolled back after the event was written: the event goes with it.
  await assert.rejects(
    t.handle.db.transaction().execute(async (trx) => {
      await postTransaction(trx, {
        category: 'adjustment',
        postings: [
          { owner: { kind: 'customer', id: tenant.customer.id }, amount: new Decimal(5), currency: 'USD' },
          { owner: { kind: 'operator', code: 'adjustments' }, amount: new Decimal(-5), currency: 'USD' },
        ],
      });
      throw new Error('caller fails after posting');
    }),
    /caller fails after posting/,
  );
  const rows = await t.handle.db
    .selectFrom('webhook_deliveries')
    .select('event_id')
    .where('endpoint_id', '=', ep.id)
    .execute();
  assert.deepEqual(rows, []);
  // And a committed one does.
  await adjust(tenant.customer.id, '-5');
  await deliverAt(1);
  assert.equal(hook.events().length, 1);
  assert.equal(hook.events()[0].data.amount, '5');
});

test('payments emit payment.succeeded, payment.failed and payment.refunded', async () => {
  const tenant = await makeTenant(t);
  const hook = await newReceiver();
  await endpoint(
    hook.url,
    { events: ['payment.succeeded', 'payment.failed', 'payment.refunded'] },
    tenant.customerKey,
  );
  const card = {
    exp_month: 12,
    exp_year: 2035,
    cvv: '123',
    cardholder_name: 'Ada Lovelace',
    currency: 'USD',
  };
  const charge = await t.request('POST', '/api/v1/payments/creditcard/charge', {
    body: { customer_id: tenant.customer.id, amount: '20', card_number: '4242424242424242', ...card },
  });
  assert.equal(charge.status, 201, charge.text);
  const declined = await t.request('POST', '/api/v1/payments/creditcard/charge', {
    body: { customer_id: tenant.customer.id, amount: '7', card_number: '4000000000000002', ...card },
  });
  assert.equal(declined.status, 402, declined.text);
  const refund = await t.request('POST', '/api/v1/payments/creditcard/refund', {
    body: { transaction_id: charge.body.data.transaction_id, amount: '5' },
  });
  assert.equal(refund.status, 201, refund.text);
  await deliverAt(1);
  const seen = hook
    .events()
    .map((e) => `${e.type}:${e.data.transaction_id}:${e.data.amount}`)
    .sort();
  assert.deepEqual(
    seen,
    [
      `payment.succeeded:${charge.body.data.transaction_id}:20`,
      `payment.failed:${declined.body.data.transaction_id}:7`,
      `payment.refunded:${refund.body.data.transaction_id}:5`,
    ].sort(),
  );
  const failed = hook.events().find((e) => e.type === 'payment.failed');
  assert.equal(failed.data.error_code, 'card_declined');
});

test('endpoint CRUD: list with a cursor, disable (nothing sent), rotate the secret, delete', async () => {
  const tenant = await makeTenant(t, { customerLimit: '-100' });
  const hook = await newReceiver();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++)
    ids.push((await endpoint(hook.url, { description: `n${i}` }, tenant.customerKey)).id);
  const first = await t.request('GET', '/api/v1/webhook-endpoints?limit=2', { key: tenant.customerKey });
  assert.deepEqual(
    first.body.data.map((e: { id: string }) => e.id),
    ids.slice(0, 2),
  );
  assert.equal(first.body.meta.has_more, true);
  const second = await t.request('GET', first.body.links.next, { key: tenant.customerKey });
  assert.deepEqual(
    second.body.data.map((e: { id: string }) => e.id),
    ids.slice(2),
  );

  for (const id of ids.slice(1)) {
    const off = await t.request('PATCH', `/api/v1/webhook-endpoints/${id}`, {
      key: tenant.customerKey,
      body: { status: 'disabled' },
    });
    assert.equal(off.body.data.status, 'disabled');
  }
  const rotated = await t.request('POST', `/api/v1/webhook-endpoints/${ids[0]}/rotate-secret`, {
    key: tenant.customerKey,
  });
  assert.equal(rotated.status, 200, rotated.text);
  assert.match(rotated.body.data.secret, /^whsec_/);
  await adjust(tenant.customer.id, '1');
  const start = Date.now();
  await deliverAt(1, start);
  assert.equal(hook.received.length, 1, 'disabled endpoints get nothing');
  const [{ headers, body }] = hook.received as [Received];
  assert.ok(
    verifySignature(
      rotated.body.data.secret,
      String(headers['tollgate-signature']),
      body,
      Math.floor(start / 1000) + 1,
    ),
  );
  for (const id of ids) {
    const gone = await t.request('DELETE', `/api/v1/webhook-endpoints/${id}`, { key: tenant.customerKey });
    assert.equal(gone.status, 200);
  }
  assert.equal((await t.request('GET', `/api/v1/webhook-endpoints/${ids[0]}`)).status, 404);
});

test('two concurrent workers deliver each event exactly once', async () => {
  const hook = await newReceiver({ delayMs: 20 });
  const ep = await endpoint(hook.url, { events: ['balance.changed'] });
  const count = 40;
  await t.handle.db.transaction().execute((trx) =>
    enqueueEvents(
      trx,
      Array.from({ length: count }, (_, i) => ({ type: 'balance.changed' as const, data: { n: i } })),
    ),
  );
  // On PostgreSQL a second pool is a second server process as far as the queue can tell.
  const second =
    TEST_DB === 'postgres' ? await openDatabase({ databaseUrl: t.config.databaseUrl, dataDir: '' }) : null;
  const dbs = [t.handle.db, second?.db ?? t.handle.db];
  const now = new Date(Date.now() + 1000);
  const worker = async (index: number) => {
    let claimed = 0;
    for (;;) {
      const summary = await deliverDueEvents(dbs[index]!, now, {
        ...deliveryOptions(),
        batchSize: 3,
      });
      if (summary.claimed === 0) return claimed;
      claimed += summary.claimed;
    }
  };
  try {
    const [a, b] = await Promise.all([worker(0), worker(1)]);
    assert.equal(a + b, count);
    if (second) assert.ok(a > 0 && b > 0, `both workers took part (${a} + ${b})`);
  } finally {
    await second?.close();
  }
  const ids = hook.received.map((r) => r.headers['tollgate-event-id']);
  assert.equal(ids.length, count);
  assert.equal(new Set(ids).size, count);
  const delivered = await t.handle.db
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('endpoint_id', '=', ep.id)
    .where('status', '=', 'delivered')
    .executeTakeFirstOrThrow();
  assert.equal(Number(delivered.n), count);
});
