import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';

/** Partners, customers and API keys: CRUD, validation, tenancy and key security. */
let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(async () => t.close());

async function createPartner(body: Record<string, unknown> = {}) {
  const res = await t.request('POST', '/api/v1/partners', {
    body: { name: 'Reseller', currency: 'USD', ...body },
  });
  assert.equal(res.status, 201, res.text);
  return res.body.data;
}

async function createKey(body: Record<string, unknown>, key?: string) {
  const res = await t.request('POST', '/api/v1/api-keys', { body, ...(key ? { key } : {}) });
  assert.equal(res.status, 201, res.text);
  return res.body.data as { id: string; key: string; role: string };
}

describe('partners and customers', () => {
  test('full CRUD of a customer with every documented field', async () => {
    const partner = await createPartner();
    const created = await t.request('POST', '/api/v1/customers', {
      body: {
        name: 'Alice VoIP',
        account_number: 'ALICE-1',
        currency: 'eur',
        credit_limit: '-55',
        email: 'billing@alice.example',
        phone: '+44 20 7946 0000',
        address: '1 High Street, London',
        partner_id: partner.id,
      },
    });
    assert.equal(created.status, 201, created.text);
    const customer = created.body.data;
    assert.match(customer.id, /^cus_[0-9a-z]{26}$/);
    assert.equal(customer.currency, 'EUR');
    assert.equal(customer.credit_limit, '-55');
    assert.equal(customer.status, 'active');
    assert.equal(customer.partner_id, partner.id);
    assert.match(customer.links.partner, new RegExp(`/partners/${partner.id}$`));

    const read = await t.request('GET', `/api/v1/customers/${customer.id}`);
    assert.deepEqual(read.body.data, customer);

    const patched = await t.request('PATCH', `/api/v1/customers/${customer.id}`, {
      body: { status: 'suspended', phone: null },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.data.status, 'suspended');
    assert.equal(patched.body.data.phone, null);

    const filtered = await t.request('GET', `/api/v1/customers?status=suspended&partner_id=${partner.id}`);
    assert.deepEqual(
      filtered.body.data.map((c: { id: string }) => c.id),
      [customer.id],
    );

    const deleted = await t.request('DELETE', `/api/v1/customers/${customer.id}`);
    assert.equal(deleted.status, 200);
    assert.equal((await t.request('GET', `/api/v1/customers/${customer.id}`)).status, 404);
  });

  test('account numbers are generated when absent and unique across partners and customers', async () => {
    const partner = await createPartner({ account_number: 'SHARED-1' });
    assert.equal(partner.account_number, 'SHARED-1');
    const clash = await t.request('POST', '/api/v1/customers', {
      body: { name: 'x', currency: 'USD', account_number: 'SHARED-1' },
    });
    assert.equal(clash.status, 409);
    assert.equal(clash.body.error.param, 'account_number');
    const generated = await t.request('POST', '/api/v1/customers', { body: { name: 'x', currency: 'USD' } });
    assert.match(generated.body.data.account_number, /^C\d+$/);
  });

  test('a customer of a partner inherits its currency when none is given', async () => {
    const partner = await createPartner({ currency: 'CHF' });
    const res = await t.request('POST', '/api/v1/customers', {
      body: { name: 'Inherit', partner_id: partner.id },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.data.currency, 'CHF');
  });

  test('bad input is a 400 naming the field and creates nothing', async () => {
    const before = (await t.request('GET', '/api/v1/customers?limit=100')).body.data.length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'x', currency: 'XYZ' }, 'currency'],
      [{ name: 'x', currency: 'US' }, 'currency'],
      [{ name: 'x', currency: 'USD', credit_limit: '1.123456789' }, 'credit_limit'],
      [{ name: 'x', currency: 'USD', credit_limit: 'abc' }, 'credit_limit'],
      [{ name: 'x', currency: 'USD', email: 'not-an-email' }, 'email'],
      [{ name: 'x', currency: 'USD', status: 'deleted' }, 'status'],
      [{ name: '', currency: 'USD' }, 'name'],
      [{ name: 'x', currency: 'USD', account_number: 'has space' }, 'account_number'],
      [{ name: 'x', currency: 'USD', partner_id: 'par_01aaaaaaaaaaaaaaaaaaaaaaaa' }, 'partner_id'],
      [{ currency: 'USD' }, 'name'],
    ];
    for (const [body, param] of cases) {
      const res = await t.request('POST', '/api/v1/customers', { body });
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
      assert.equal(res.body.error.param, param, JSON.stringify(body));
    }
    assert.equal((await t.request('GET', '/api/v1/customers?limit=100')).body.data.length, before);
  });

  test('a name of only spaces is refused on create and on change, for customers and partners', async () => {
    const created = await t.data('POST', '/api/v1/customers', { name: 'Named', currency: 'USD' });
    const partner = await t.data('POST', '/api/v1/partners', { name: 'Named partner', currency: 'USD' });
    for (const [method, url] of [
      ['POST', '/api/v1/customers'],
      ['POST', '/api/v1/partners'],
      ['PATCH', `/api/v1/customers/${created.id}`],
      ['PATCH', `/api/v1/partners/${partner.id}`],
    ] as const) {
      const res = await t.request(method, url, {
        body: { name: '   ', ...(method === 'POST' ? { currency: 'USD' } : {}) },
      });
      assert.equal(res.status, 400, `${method} ${url}: ${res.text}`);
      assert.equal(res.body.error.param, 'name');
    }
    assert.equal((await t.data('GET', `/api/v1/customers/${created.id}`)).name, 'Named');
    assert.equal((await t.data('GET', `/api/v1/partners/${partner.id}`)).name, 'Named partner');
  });

  test('list filters that name an account must be an id of its kind', async () => {
    for (const url of [
      '/api/v1/customers?partner_id=zzz',
      '/api/v1/customers?partner_id=cus_01m8y14bga0s8md9d9cg42sr10',
      '/api/v1/api-keys?customer_id=par_01m8y14bga0s8md9d9cg42sr10',
      '/api/v1/webhook-endpoints?partner_id=zzz',
    ]) {
      const res = await t.request('GET', url);
      assert.equal(res.status, 400, `${url}: ${res.text}`);
      assert.match(res.body.error.reason, /must be an id starting with (par|cus)_/);
    }
  });

  test('bad ids are 400, unknown ids 404', async () => {
    assert.equal((await t.request('GET', '/api/v1/customers/123')).status, 400);
    assert.equal((await t.request('GET', '/api/v1/customers/par_01aaaaaaaaaaaaaaaaaaaaaaaa')).status, 400);
    assert.equal((await t.request('GET', '/api/v1/customers/cus_01aaaaaaaaaaaaaaaaaaaaaaaa')).status, 404);
    assert.equal(
      (await t.request('PATCH', '/api/v1/partners/par_01aaaaaaaaaaaaaaaaaaaaaaaa', { body: { name: 'x' } }))
        .status,
      404,
    );
  });

  test('a closed account cannot be reopened, and currency and account number do not change', async () => {
    const partner = await createPartner();
    await t.request('PATCH', `/api/v1/partners/${partner.id}`, { body: { status: 'closed' } });
    const reopen = await t.request('PATCH', `/api/v1/partners/${partner.id}`, { body: { status: 'active' } });
    assert.equal(reopen.status, 409);
    const currency = await t.request('PATCH', `/api/v1/partners/${partner.id}`, {
      body: { currency: 'EUR' },
    });
    assert.equal(currency.status, 400);
    const number = await t.request('PATCH', `/api/v1/partners/${partner.id}`, {
      body: { account_number: 'NEW-1' },
    });
    assert.equal(number.status, 400);
    const customer = await t.request('POST', '/api/v1/customers', {
      body: { name: 'late', partner_id: partner.id },
    });
    assert.equal(customer.status, 409, 'a closed partner takes no new customers');
    const empty = await t.request('PATCH', `/api/v1/partners/${partner.id}`, { body: {} });
    assert.equal(empty.status, 400);
  });

  test('a closed account’s own key creates no customers and no keys, and still reads', async () => {
    const partner = await createPartner();
    const partnerKey = await createKey({ role: 'partner', partner_id: partner.id });
    const customer = await t.data('POST', '/api/v1/customers', { name: 'Kept', partner_id: partner.id });
    const customerKey = await createKey({ role: 'customer', customer_id: customer.id });
    assert.equal(
      (await t.request('PATCH', `/api/v1/partners/${partner.id}`, { body: { status: 'closed' } })).status,
      200,
    );
    assert.equal(
      (await t.request('PATCH', `/api/v1/customers/${customer.id}`, { body: { status: 'closed' } })).status,
      200,
    );

    for (const url of ['/api/v1/customers', '/api/v1/customer/register']) {
      const res = await t.request('POST', url, {
        key: partnerKey.key,
        body: { name: 'late', currency: 'USD' },
      });
      assert.equal(res.status, 409, `${url}: ${res.text}`);
      assert.equal(res.body.message, 'Partner is closed; it cannot take new customers');
    }
    const partnerKeys = await t.request('POST', '/api/v1/api-keys', {
      key: partnerKey.key,
      body: { role: 'partner' },
    });
    assert.equal(partnerKeys.status, 409, partnerKeys.text);
    const forCustomer = await t.request('POST', '/api/v1/api-keys', {
      key: partnerKey.key,
      body: { role: 'customer', customer_id: customer.id },
    });
    assert.equal(forCustomer.status, 409, forCustomer.text);
    const customerKeys = await t.request('POST', '/api/v1/api-keys', {
      key: customerKey.key,
      body: { role: 'customer' },
    });
    assert.equal(customerKeys.status, 409, customerKeys.text);
    const listed = await t.request('GET', '/api/v1/customers', { key: partnerKey.key });
    assert.deepEqual(
      listed.body.data.map((c: { id: string }) => c.id),
      [customer.id],
      'nothing was created, and the history reads',
    );
    assert.equal(
      (await t.request('GET', `/api/v1/customers/${customer.id}`, { key: customerKey.key })).status,
      200,
    );
    assert.equal((await t.request('GET', '/api/v1/api-keys', { key: customerKey.key })).status, 200);
  });

  test('a partner with customers cannot be deleted', async () => {
    const partner = await createPartner();
    await t.request('POST', '/api/v1/customers', { body: { name: 'kid', partner_id: partner.id } });
    const res = await t.request('DELETE', `/api/v1/partners/${partner.id}`);
    assert.equal(res.status, 409);
    assert.equal((await t.request('GET', `/api/v1/partners/${partner.id}`)).status, 200);
  });
});

describe('deleting an account with payment history', () => {
  test('a customer with a card profile, even a removed one, is a 409 and stays', async () => {
    for (const remove of [false, true]) {
      const customer = await t.data('POST', '/api/v1/customers', { name: 'Payer', currency: 'USD' });
      const registered = await t.data('POST', '/api/v1/customer/payments/register', {
        customer_id: customer.id,
        card_number: '4242424242424242',
        exp_month: 12,
        exp_year: 2035,
        cvv: '123',
        cardholder_name: 'Ada Lovelace',
      });
      if (remove) {
        await t.data('POST', '/api/v1/customer/payments/remove', {
          customer_id: customer.id,
          profile_id: registered.profile.id,
        });
      }
      const res = await t.request('DELETE', `/api/v1/customers/${customer.id}`);
      assert.equal(res.status, 409, `removed=${remove}: ${res.text}`);
      assert.match(res.body.message, /payment.*close the account instead/);
      assert.equal((await t.request('GET', `/api/v1/customers/${customer.id}`)).status, 200);
    }
  });
});

describe('deleting an account', () => {
  test('its keys stop working at once, not when the key cache ages out', async () => {
    const partner = await createPartner();
    const partnerKey = await createKey({ role: 'partner', partner_id: partner.id });
    const customer = await t.data('POST', '/api/v1/customers', { name: 'Gone', currency: 'USD' });
    const customerKey = await createKey({ role: 'customer', customer_id: customer.id });
    // Both keys are in the cache now.
    assert.equal((await t.request('GET', '/api/v1/customers', { key: partnerKey.key })).status, 200);
    assert.equal(
      (await t.request('GET', `/api/v1/customers/${customer.id}`, { key: customerKey.key })).status,
      200,
    );

    assert.equal((await t.request('DELETE', `/api/v1/partners/${partner.id}`)).status, 200);
    const write = await t.request('POST', '/api/v1/customers', {
      key: partnerKey.key,
      body: { name: 'orphan', currency: 'USD' },
    });
    assert.equal(write.status, 401, write.text);
    assert.equal((await t.request('GET', '/api/v1/customers', { key: partnerKey.key })).status, 401);

    assert.equal((await t.request('DELETE', `/api/v1/customers/${customer.id}`)).status, 200);
    const read = await t.request('GET', `/api/v1/customers/${customer.id}`, { key: customerKey.key });
    assert.equal(read.status, 401, read.text);
  });
});

describe('JSON null in a body', () => {
  test('clears an optional field and is never coerced into an empty string or a zero', async () => {
    const created = await t.request('POST', '/api/v1/customers', {
      body: { name: 'Nulls', currency: 'USD', address: '1 Main St', concurrent_call_limit: 5 },
    });
    assert.equal(created.status, 201, created.text);
    const id = created.body.data.id;
    const cleared = await t.request('PATCH', `/api/v1/customers/${id}`, {
      body: { concurrent_call_limit: null, address: null, email: null, phone: null, ratecard_id: null },
    });
    assert.equal(cleared.status, 200, cleared.text);
    // null is "unlimited"; a 0 here would refuse every call.
    assert.equal(cleared.body.data.concurrent_call_limit, null);
    assert.equal(cleared.body.data.address, null);
    assert.equal(cleared.body.data.email, null);
    assert.equal(cleared.body.data.ratecard_id, null);
    const key = await t.request('POST', '/api/v1/api-keys', {
      body: { role: 'customer', customer_id: id, description: null, expires_at: null },
    });
    assert.equal(key.status, 201, key.text);
    assert.equal(key.body.data.description, null);
    assert.equal(key.body.data.expires_at, null);
    // A wrong type is still refused, not coerced away.
    const wrong = await t.request('PATCH', `/api/v1/customers/${id}`, {
      body: { concurrent_call_limit: 'many' },
    });
    assert.equal(wrong.status, 400, wrong.text);
    assert.equal(wrong.body.error.param, 'concurrent_call_limit');
  });
});

describe('API keys', () => {
  test('a key is shown once, stored only as a hash, and works with all three headers', async () => {
    const created = await createKey({ role: 'admin', description: 'ops script' });
    assert.match(created.key, /^tgk_[A-Za-z0-9_-]{43}$/);
    const stored = await t.handle.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    assert.notEqual(stored.key_hash, created.key);
    assert.ok(!JSON.stringify(stored).includes(created.key), 'no secret at rest');
    const read = await t.request('GET', `/api/v1/api-keys/${created.id}`);
    assert.equal(read.body.data.key, undefined, 'never shown again');
    for (const header of ['authorization', 'token', 'x-auth-token']) {
      const value = header === 'authorization' ? `Bearer ${created.key}` : created.key;
      const res = await t.request('GET', '/api/v1/customers', { key: null, headers: { [header]: value } });
      assert.equal(res.status, 200, header);
    }
  });

  test('wrong auth header formats, unknown, revoked and expired keys are 401', async () => {
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer tgk_unknownunknownunknown' },
      { token: 'short' },
      { authorization: 'Bearer tgk_aaaaaaaaaaaaa', token: 'tgk_bbbbbbbbbbbbbbb' },
    ];
    for (const headers of cases) {
      const res = await t.request('GET', '/api/v1/customers', { key: null, headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.body.error.type, 'authentication');
      assert.match(res.body.message, /^Not authorised/);
    }
    const revoked = await createKey({ role: 'admin' });
    const del = await t.request('DELETE', `/api/v1/api-keys/${revoked.id}`);
    assert.equal(del.body.data.status, 'revoked');
    const after = await t.request('GET', '/api/v1/customers', { key: revoked.key });
    assert.equal(after.status, 401);
    assert.match(after.body.message, /revoked/);

    const expiring = await createKey({
      role: 'admin',
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    });
    await t.handle.db
      .updateTable('api_keys')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', expiring.id)
      .execute();
    const expiredKeyCache = await t.request('GET', '/api/v1/customers', { key: `${expiring.key}` });
    // The resolver cache may hold the row for a few seconds, but the expiry is checked on every request.
    assert.equal(expiredKeyCache.status, 401);
    assert.match(expiredKeyCache.body.message, /expired/);
  });

  test('expires_at in the past or malformed is 400', async () => {
    const past = await t.request('POST', '/api/v1/api-keys', {
      body: { role: 'admin', expires_at: '2020-01-01T00:00:00Z' },
    });
    assert.equal(past.status, 400);
    const junk = await t.request('POST', '/api/v1/api-keys', {
      body: { role: 'admin', expires_at: 'tomorrow' },
    });
    assert.equal(junk.status, 400);
    const impossible = await t.request('POST', '/api/v1/api-keys', {
      body: { role: 'admin', expires_at: '2031-02-29T00:00:00Z' },
    });
    assert.equal(impossible.status, 400);
    assert.equal(impossible.body.error.param, 'expires_at');
  });

  test('expires_at takes the API’s one time grammar: a date, or a time without a zone, is UTC', async () => {
    for (const [input, stored] of [
      ['2031-03-01', '2031-03-01T00:00:00.000Z'],
      ['2031-03-01 12:30:00', '2031-03-01T12:30:00.000Z'],
      ['2031-03-01T12:30:00+02:00', '2031-03-01T10:30:00.000Z'],
    ]) {
      const key = await t.request('POST', '/api/v1/api-keys', { body: { role: 'admin', expires_at: input } });
      assert.equal(key.status, 201, `${input}: ${key.text}`);
      assert.equal(key.body.data.expires_at, stored, input);
    }
  });

  test('the IP allow-list admits listed addresses and ranges only', async () => {
    const key = await createKey({
      role: 'admin',
      allowed_ips: ['192.0.2.10', '10.0.0.0/8', '2001:db8::/32'],
    });
    const from = async (remoteAddress: string) =>
      (await t.request('GET', '/api/v1/customers', { key: key.key, remoteAddress })).status;
    assert.equal(await from('192.0.2.10'), 200);
    assert.equal(await from('10.20.30.40'), 200);
    assert.equal(await from('2001:db8::7'), 200);
    assert.equal(await from('192.0.2.11'), 401);
    assert.equal(await from('127.0.0.1'), 401);
    const bad = await t.request('POST', '/api/v1/api-keys', {
      body: { role: 'admin', allowed_ips: ['10.0.0.0/40'] },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, 'allowed_ips');
    const form = await t.request('POST', '/api/v1/api-keys', {
      body: 'role=admin&allowed_ips=203.0.113.0%2F24',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 201, form.text);
    assert.deepEqual(form.body.data.allowed_ips, ['203.0.113.0/24']);
  });

  test('allowed_ips refuses entries ipaddr.js would misread, and a misread one stored earlier is a 401, never a 500', async () => {
    const key = await createKey({ role: 'admin' });
    for (const entry of [
      '::ffff:1.2.3.4/64',
      '::ffff:0:0/80',
      '::ffff:10.0.0.0/95',
      '192.168.010.001',
      '10/8',
    ]) {
      for (const [method, url] of [
        ['POST', '/api/v1/api-keys'],
        ['PATCH', `/api/v1/api-keys/${key.id}`],
      ] as const) {
        const body = method === 'POST' ? { role: 'admin', allowed_ips: [entry] } : { allowed_ips: [entry] };
        const res = await t.request(method, url, { body });
        assert.equal(res.status, 400, `${method} ${entry}: ${res.text}`);
        assert.equal(res.body.error.param, 'allowed_ips');
      }
    }
    const octal = await t.request('POST', '/api/v1/api-keys', {
      body: { role: 'admin', allowed_ips: ['0127.0.0.1'] },
    });
    assert.match(octal.body.message, /four decimal numbers 0-255 without leading zeros/);
    // What ::ffff:1.2.3.4/64 used to be stored as: it matches no address, so the key fails closed.
    await t.handle.db
      .updateTable('api_keys')
      .set({ allowed_ips: ['1.2.3.4/-32'] })
      .where('id', '=', key.id)
      .execute();
    for (const remoteAddress of ['1.2.3.4', '127.0.0.1']) {
      const res = await t.request('POST', '/api/v1/partners', {
        key: key.key,
        remoteAddress,
        body: { name: 'x', currency: 'USD' },
      });
      assert.equal(res.status, 401, res.text);
    }
  });

  test('last_used_at is recorded', async () => {
    const key = await createKey({ role: 'admin' });
    await t.request('GET', '/api/v1/customers', { key: key.key });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const read = await t.request('GET', `/api/v1/api-keys/${key.id}`);
    assert.ok(read.body.data.last_used_at, 'last_used_at set');
  });

  test('keys need an owner that matches their role', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ role: 'partner' }, 'partner_id'],
      [{ role: 'customer' }, 'customer_id'],
      [{ role: 'customer', partner_id: 'par_01aaaaaaaaaaaaaaaaaaaaaaaa' }, 'partner_id'],
      [{ role: 'root' }, 'role'],
    ];
    for (const [body, param] of cases) {
      const res = await t.request('POST', '/api/v1/api-keys', { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.param, param);
    }
  });
});

describe('tenancy', () => {
  test('a partner key sees and manages only its own customers', async () => {
    const mine = await createPartner({ name: 'Mine' });
    const theirs = await createPartner({ name: 'Theirs' });
    const partnerKey = await createKey({ role: 'partner', partner_id: mine.id });
    const own = await t.request('POST', '/api/v1/customers', {
      key: partnerKey.key,
      body: { name: 'Own customer' },
    });
    assert.equal(own.status, 201, own.text);
    assert.equal(own.body.data.partner_id, mine.id, 'created under the calling partner');
    const foreign = await t.request('POST', '/api/v1/customers', {
      body: { name: 'Foreign', partner_id: theirs.id },
    });

    const list = await t.request('GET', '/api/v1/customers?limit=100', { key: partnerKey.key });
    assert.deepEqual(
      list.body.data.map((c: { id: string }) => c.id),
      [own.body.data.id],
    );
    const foreignRead = await t.request('GET', `/api/v1/customers/${foreign.body.data.id}`, {
      key: partnerKey.key,
    });
    assert.equal(foreignRead.status, 404);
    const steal = await t.request('POST', '/api/v1/customers', {
      key: partnerKey.key,
      body: { name: 'x', partner_id: theirs.id },
    });
    assert.equal(steal.status, 404);
    const partners = await t.request('GET', '/api/v1/partners', { key: partnerKey.key });
    assert.deepEqual(
      partners.body.data.map((p: { id: string }) => p.id),
      [mine.id],
    );
    const createPartnerAsPartner = await t.request('POST', '/api/v1/partners', {
      key: partnerKey.key,
      body: { name: 'x', currency: 'USD' },
    });
    assert.equal(createPartnerAsPartner.status, 403);
    const raiseOwnLimit = await t.request('PATCH', `/api/v1/partners/${mine.id}`, {
      key: partnerKey.key,
      body: { credit_limit: '-1000000' },
    });
    assert.equal(raiseOwnLimit.status, 403);
    const customerKey = await createKey({ role: 'customer', customer_id: own.body.data.id }, partnerKey.key);
    assert.equal(customerKey.role, 'customer');
    const foreignKey = await t.request('POST', '/api/v1/api-keys', {
      key: partnerKey.key,
      body: { role: 'customer', customer_id: foreign.body.data.id },
    });
    assert.equal(foreignKey.status, 404);
    const adminKey = await t.request('POST', '/api/v1/api-keys', {
      key: partnerKey.key,
      body: { role: 'admin' },
    });
    assert.equal(adminKey.status, 403);
  });

  test('a customer key sees only its own account and may edit only contact fields', async () => {
    const a = (await t.request('POST', '/api/v1/customers', { body: { name: 'A', currency: 'USD' } })).body
      .data;
    const b = (await t.request('POST', '/api/v1/customers', { body: { name: 'B', currency: 'USD' } })).body
      .data;
    const key = await createKey({ role: 'customer', customer_id: a.id });
    const list = await t.request('GET', '/api/v1/customers', { key: key.key });
    assert.deepEqual(
      list.body.data.map((c: { id: string }) => c.id),
      [a.id],
    );
    assert.equal((await t.request('GET', `/api/v1/customers/${b.id}`, { key: key.key })).status, 404);
    const contact = await t.request('PATCH', `/api/v1/customers/${a.id}`, {
      key: key.key,
      body: { email: 'new@a.example' },
    });
    assert.equal(contact.status, 200);
    const limit = await t.request('PATCH', `/api/v1/customers/${a.id}`, {
      key: key.key,
      body: { credit_limit: '-999' },
    });
    assert.equal(limit.status, 403);
    assert.equal(
      (await t.request('POST', '/api/v1/customers', { key: key.key, body: { name: 'x' } })).status,
      403,
    );
    assert.equal((await t.request('GET', '/api/v1/partners', { key: key.key })).status, 403);
    const root = await t.request('GET', '/api/v1', { key: key.key });
    assert.equal(root.body.data.list_partners, undefined, 'root lists only what the key may use');
  });
});
