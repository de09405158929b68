import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { buildApp } from '../src/app.js';
import { afterCommit } from '../src/db/commit-hooks.js';
import { type DbHandle, openDatabase } from '../src/db/index.js';
import { CustomerCache } from '../src/modules/accounts/customer-cache.js';
import { postTransaction } from '../src/modules/ledger/posting.js';
import { Decimal } from '../src/money/index.js';
import { ADMIN_KEY, startTestApp, TEST_DB, type TestApp } from './helpers/app.js';
import { makeTenant } from './ledger-fixtures.js';

/**
 * The in-memory customer read model (src/modules/accounts/customer-cache.ts): GET /customers/{id}
 * answers from it, so every committed change must drop the entry before the writer's next read,
 * also when the change commits as part of a caller's transaction.
 */
let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(async () => t.close());

async function newCustomer(name = 'Cached') {
  const created = await t.request('POST', '/api/v1/customers', { body: { name, currency: 'USD' } });
  assert.equal(created.status, 201, created.text);
  return created.body.data as { id: string; account_number: string };
}

async function readCustomer(id: string) {
  const response = await t.request('GET', `/api/v1/customers/${id}`);
  assert.equal(response.status, 200, response.text);
  return response.body.data as { name: string; balance: string; available: string; status: string };
}

const charge = (customerId: string, amount: string) => ({
  category: 'call_charge',
  description: 'calls',
  allowOverdraft: true,
  postings: [
    {
      owner: { kind: 'customer' as const, id: customerId },
      amount: new Decimal(amount).negated(),
      currency: 'USD',
    },
    {
      owner: { kind: 'operator' as const, code: 'revenue:calls' as const },
      amount: new Decimal(amount),
      currency: 'USD',
    },
  ],
});

describe('read-your-writes in one process', () => {
  test('an adjustment shows in the next GET', async () => {
    const customer = await newCustomer();
    assert.equal((await readCustomer(customer.id)).balance, '0');
    // The entry is now cached; the adjustment must drop it.
    const adjusted = await t.request('POST', `/api/v1/customers/${customer.id}/adjustments`, {
      body: { amount: '-12.5', description: 'goodwill' },
    });
    assert.equal(adjusted.status, 201, adjusted.text);
    assert.equal((await readCustomer(customer.id)).balance, '12.5');
  });

  test('a name change and closing show in the next GET', async () => {
    const customer = await newCustomer();
    assert.equal((await readCustomer(customer.id)).name, 'Cached');
    const renamed = await t.request('PATCH', `/api/v1/customers/${customer.id}`, {
      body: { name: 'Renamed' },
    });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal((await readCustomer(customer.id)).name, 'Renamed');
    const closed = await t.request('PATCH', `/api/v1/customers/${customer.id}`, {
      body: { status: 'closed' },
    });
    assert.equal(closed.status, 200, closed.text);
    assert.equal((await readCustomer(customer.id)).status, 'closed');
  });

  test('a deleted customer is 404 at once, and an id asked for before it existed is found once created', async () => {
    const customer = await newCustomer();
    await readCustomer(customer.id);
    assert.equal((await t.request('DELETE', `/api/v1/customers/${customer.id}`)).status, 200);
    assert.equal((await t.request('GET', `/api/v1/customers/${customer.id}`)).status, 404);
  });

  test('a partner funding its customer (PUT /partner/funds, its own statement) shows at once for both keys', async () => {
    const { customer, partnerKey } = await makeTenant(t, { partnerFunds: '100' });
    const asPartner = () => t.request('GET', `/api/v1/customers/${customer.id}`, { key: partnerKey });
    assert.equal((await asPartner()).body.data.balance, '0');
    const funds = await t.request('PUT', '/api/v1/partner/funds', {
      key: partnerKey,
      body: { account_number: customer.account_number, amount: '25', description: 'top-up' },
    });
    assert.equal(funds.status, 200, funds.text);
    assert.equal((await asPartner()).body.data.balance, '25');
    assert.equal((await readCustomer(customer.id)).balance, '25');
  });

  test('a posting inside a caller transaction shows only after that transaction commits', async () => {
    const customer = await newCustomer();
    assert.equal((await readCustomer(customer.id)).balance, '0');
    const cache = new CustomerCache(t.handle.db, t.handle.feed);
    try {
      assert.equal((await cache.get(customer.id))?.money.balance, '0');
      await t.handle.db.transaction().execute(async (trx) => {
        await postTransaction(trx, charge(customer.id, '3'));
        // Not committed yet: the cached (committed) balance still stands.
        assert.equal((await cache.get(customer.id))?.money.balance, '0');
      });
      assert.equal((await cache.get(customer.id))?.money.balance, '-3');
    } finally {
      cache.close();
    }
    assert.equal((await readCustomer(customer.id)).balance, '-3');
  });

  test('a posting rolled back with its caller transaction changes nothing', async () => {
    const customer = await newCustomer();
    assert.equal((await readCustomer(customer.id)).balance, '0');
    await assert.rejects(
      t.handle.db.transaction().execute(async (trx) => {
        await postTransaction(trx, charge(customer.id, '4'));
        throw new Error('caller fails after posting');
      }),
      /caller fails/,
    );
    assert.equal((await readCustomer(customer.id)).balance, '0');
  });
});

describe('the serialized answer of a cached customer (src/http/serialized-answer.ts)', () => {
  test('is built for each URL it is asked at: host, format suffix and query each get their own', async () => {
    const customer = await newCustomer('Serialized');
    const path = `/api/v1/customers/${customer.id}`;
    const at = (host: string, url = path) => t.request('GET', url, { headers: { host } });
    const first = await at('a.example');
    const again = await at('a.example');
    const other = await at('b.example');
    assert.equal(first.status, 200, first.text);
    assert.equal(again.text, first.text);
    assert.match(String(first.headers['content-type']), /^application\/json; charset=utf-8$/);
    assert.equal(first.body.links.self, `http://a.example${path}`);
    assert.equal(
      first.body.data.links.api_keys,
      `http://a.example/api/v1/api-keys?customer_id=${customer.id}`,
    );
    assert.equal(other.body.links.self, `http://b.example${path}`);
    assert.equal(other.body.data.links.self, `http://b.example${path}`);
    // Back on the first host after the second: not the second host's answer.
    assert.equal((await at('a.example')).text, first.text);
    const queried = await at('a.example', `${path}?expand=none`);
    assert.equal(queried.status, 200, queried.text);
    assert.equal(queried.body.links.self, `http://a.example${path}?expand=none`);
    const xml = await at('a.example', `${path}.xml`);
    assert.equal(xml.status, 200, xml.text);
    assert.match(String(xml.headers['content-type']), /xml/);
    assert.match(xml.text, /<name>Serialized<\/name>/);
    const json = await at('a.example', `${path}.json`);
    assert.equal(json.body.data.name, 'Serialized');
    assert.equal(json.body.links.self, `http://a.example${path}.json`, 'the link keeps the suffix asked');
    assert.equal((await at('a.example')).text, first.text, 'and the plain URL its own answer');
  });

  test('a change answers the new version at the same URL, also for a customer key', async () => {
    const customer = await newCustomer('Versioned');
    const key = await t.request('POST', '/api/v1/api-keys', {
      body: { role: 'customer', customer_id: customer.id },
    });
    assert.equal(key.status, 201, key.text);
    const read = () => t.request('GET', `/api/v1/customers/${customer.id}`, { key: key.body.data.key });
    const before = await read();
    assert.equal(before.body.data.balance, '0');
    assert.equal((await read()).text, before.text);
    const adjusted = await t.request('POST', `/api/v1/customers/${customer.id}/adjustments`, {
      body: { amount: '-3.25', description: 'credit' },
    });
    assert.equal(adjusted.status, 201, adjusted.text);
    const after = await read();
    assert.equal(after.body.data.balance, '3.25');
    assert.equal(after.body.data.name, 'Versioned');
  });
});

describe('the cache itself', () => {
  test('a read that was in flight when its customer changed is not kept', async () => {
    const customer = await newCustomer('In flight');
    const cache = new CustomerCache(t.handle.db, t.handle.feed);
    try {
      const inFlight = cache.get(customer.id);
      cache.invalidate([customer.id]);
      assert.equal((await inFlight)?.row.name, 'In flight');
      // Changed behind the feed's back: only a fresh read can see it, and one must happen now.
      await sql`update customers set name = 'Changed' where id = ${customer.id}`.execute(t.handle.db);
      assert.equal((await cache.get(customer.id))?.row.name, 'Changed');
      // Now it is cached: the same trick is not seen until the feed says so.
      await sql`update customers set name = 'Hidden' where id = ${customer.id}`.execute(t.handle.db);
      assert.equal((await cache.get(customer.id))?.row.name, 'Changed');
      t.handle.feed.publish('customers', [customer.id]);
      assert.equal((await cache.get(customer.id))?.row.name, 'Hidden');
    } finally {
      cache.close();
    }
  });

  test('keeps at most maxEntries, and answers unknown ids with null', async () => {
    const cache = new CustomerCache(t.handle.db, t.handle.feed, { maxEntries: 2 });
    try {
      const ids = await Promise.all([newCustomer(), newCustomer(), newCustomer()]);
      for (const { id } of ids) assert.equal((await cache.get(id))?.id, id);
      assert.equal(cache.size, 2);
      assert.equal(await cache.get('cus_00000000000000000000000000'), null);
    } finally {
      cache.close();
    }
  });

  test('peekVisible answers synchronously only for a cached, fresh entry, with the same tenancy as getVisible', async () => {
    const cache = new CustomerCache(t.handle.db, t.handle.feed);
    try {
      const { id } = await newCustomer();
      const admin = { keyId: 'key_a', role: 'admin' as const, partnerId: null, customerId: null };
      const self = { keyId: 'key_s', role: 'customer' as const, partnerId: null, customerId: id };
      const other = { keyId: 'key_o', role: 'customer' as const, partnerId: null, customerId: 'cus_other' };
      assert.equal(cache.peekVisible(admin, id), undefined, 'not read yet: only a read can tell');
      await cache.get(id);
      assert.equal(cache.peekVisible(admin, id)?.id, id);
      assert.equal(cache.peekVisible(self, id)?.id, id);
      assert.equal(cache.peekVisible(other, id), null);
      assert.equal(await cache.getVisible(other, id), null);
      cache.invalidate([id]);
      assert.equal(cache.peekVisible(self, id), undefined, 'dropped on change');
    } finally {
      cache.close();
    }
    const stale = new CustomerCache(t.handle.db, t.handle.feed, { maxAgeMs: 0 });
    try {
      const { id } = await newCustomer();
      await stale.get(id);
      assert.equal(
        stale.peekVisible({ keyId: 'k', role: 'admin', partnerId: null, customerId: null }, id),
        undefined,
      );
    } finally {
      stale.close();
    }
  });

  test('the snapshot carries what call authorization needs, as exact decimals', async () => {
    const customer = await newCustomer();
    const patched = await t.request('PATCH', `/api/v1/customers/${customer.id}`, {
      body: { credit_limit: '-10.5', concurrent_call_limit: 3 },
    });
    assert.equal(patched.status, 200, patched.text);
    await postTransaction(t.handle.db, charge(customer.id, '0.1'));
    const cache = new CustomerCache(t.handle.db, t.handle.feed);
    const snapshot = await cache.get(customer.id);
    cache.close();
    assert.ok(snapshot);
    assert.equal(snapshot.balance.toFixed(), '-0.1');
    assert.equal(snapshot.creditLimit.toFixed(), '-10.5');
    assert.equal(snapshot.available.toFixed(), '10.4');
    assert.equal(snapshot.concurrentCallLimit, 3);
    assert.equal(snapshot.status, 'active');
    assert.equal(snapshot.currency, 'USD');
  });

  test("a partner's status is in its customers' snapshots, and a change of the partner drops them and reads in flight", async () => {
    const partner = await t.data('POST', '/api/v1/partners', { name: 'Reseller', currency: 'USD' });
    const resold = await t.data('POST', '/api/v1/customers', { name: 'Resold', partner_id: partner.id });
    const own = await newCustomer('Own');
    const cache = new CustomerCache(t.handle.db, t.handle.feed);
    try {
      assert.equal((await cache.get(resold.id))?.partnerStatus, 'active');
      assert.equal((await cache.get(own.id))?.partnerStatus, null, 'no partner');
      const suspended = await t.request('PATCH', `/api/v1/partners/${partner.id}`, {
        body: { status: 'suspended' },
      });
      assert.equal(suspended.status, 200, suspended.text);
      assert.equal((await cache.get(resold.id))?.partnerStatus, 'suspended');
      // Changed behind the feed's back: a read in flight when the partner's change is announced
      // is not kept, and only the partner's announcement drops its customers.
      cache.invalidate([resold.id]);
      const inFlight = cache.get(resold.id);
      await sql`update partners set status = 'active' where id = ${partner.id}`.execute(t.handle.db);
      t.handle.feed.publish('partners', [partner.id]);
      await inFlight;
      assert.equal((await cache.get(resold.id))?.partnerStatus, 'active');
      await sql`update partners set status = 'closed' where id = ${partner.id}`.execute(t.handle.db);
      assert.equal((await cache.get(resold.id))?.partnerStatus, 'active', 'cached until announced');
      t.handle.feed.publish('partners', [partner.id]);
      assert.equal((await cache.get(resold.id))?.partnerStatus, 'closed');
      assert.equal(cache.size, 2, "the other customer's entry is kept");
    } finally {
      cache.close();
    }
  });
});

describe('commit hooks', () => {
  test('run after COMMIT, in order, not at all after ROLLBACK, and a failing one fails nothing', async () => {
    const ran: string[] = [];
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      await t.handle.db.transaction().execute(async (trx) => {
        await afterCommit(trx, () => ran.push('first'));
        await afterCommit(trx, () => {
          throw new Error('subscriber bug');
        });
        await afterCommit(trx, () => ran.push('third'));
        assert.deepEqual(ran, [], 'nothing runs before the commit');
      });
      assert.deepEqual(ran, ['first', 'third']);
      await assert.rejects(
        t.handle.db.transaction().execute(async (trx) => {
          await afterCommit(trx, () => ran.push('rolled back'));
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.deepEqual(ran, ['first', 'third']);
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(warnings.some((message) => message.includes('subscriber bug')));
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('another process on the same PostgreSQL', () => {
  const postgresOnly = TEST_DB === 'postgres' ? {} : { skip: 'LISTEN/NOTIFY runs on PostgreSQL only' };
  let secondHandle: DbHandle;
  let second: Awaited<ReturnType<typeof buildApp>>['app'];
  before(async () => {
    if (TEST_DB !== 'postgres') return;
    secondHandle = await openDatabase({ databaseUrl: t.config.databaseUrl, dataDir: 'memory://' });
    second = (await buildApp(t.config, secondHandle.db)).app;
    await second.ready();
  });
  after(async () => {
    if (TEST_DB !== 'postgres') return;
    await second.close();
    await secondHandle.close();
  });

  async function readOnSecond(id: string) {
    const response = await second.inject({
      method: 'GET',
      url: `/api/v1/customers/${id}`,
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(response.statusCode, 200, response.body);
    return response.json().data as { name: string; balance: string };
  }

  async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const value = await read();
      if (done(value) || Date.now() > deadline) return value;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test('sees balance and customer changes made through the first once notified', postgresOnly, async () => {
    const customer = await newCustomer('Shared');
    assert.equal((await readOnSecond(customer.id)).balance, '0');
    // Cached in the second process now; only a notification can change what it answers.
    const adjusted = await t.request('POST', `/api/v1/customers/${customer.id}/adjustments`, {
      body: { amount: '-7', description: 'goodwill' },
    });
    assert.equal(adjusted.status, 201, adjusted.text);
    const seen = await eventually(
      () => readOnSecond(customer.id),
      (c) => c.balance === '7',
    );
    assert.equal(seen.balance, '7');
    const renamed = await t.request('PATCH', `/api/v1/customers/${customer.id}`, {
      body: { name: 'Moved on' },
    });
    assert.equal(renamed.status, 200, renamed.text);
    const named = await eventually(
      () => readOnSecond(customer.id),
      (c) => c.name === 'Moved on',
    );
    assert.equal(named.name, 'Moved on');
  });

  test(
    "a partner suspended, re-activated or closed through the first stops (and resumes) its customers' calls on the second",
    postgresOnly,
    async () => {
      const partner = await t.data('POST', '/api/v1/partners', { name: 'Remote Reseller', currency: 'USD' });
      const resold = await t.data('POST', '/api/v1/customers', { name: 'Remote', partner_id: partner.id });
      // No rate card: an allowed customer is refused for no_rate, a blocked one before that.
      const reasonOnSecond = async () => {
        const response = await second.inject({
          method: 'POST',
          url: '/api/v1/calls/authorize',
          headers: { authorization: `Bearer ${ADMIN_KEY}` },
          payload: { customer_id: resold.id, caller: '15550001111', callee: '15550002222' },
        });
        assert.equal(response.statusCode, 200, response.body);
        return response.json().data.reason as string;
      };
      const setPartner = async (status: string) => {
        const res = await t.request('PATCH', `/api/v1/partners/${partner.id}`, { body: { status } });
        assert.equal(res.status, 200, res.text);
      };
      assert.equal(await reasonOnSecond(), 'no_rate');
      // Cached in the second process now; only a notification can change what it answers.
      for (const [status, reason] of [
        ['suspended', 'account_suspended'],
        ['active', 'no_rate'],
        ['closed', 'account_suspended'],
      ]) {
        await setPartner(status!);
        assert.equal(
          await eventually(reasonOnSecond, (seen) => seen === reason),
          reason,
          `partner ${status}`,
        );
      }
    },
  );
});
