import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { patternExpectation } from '../src/http/schemas.js';
import { ADMIN_KEY, startTestApp, type TestApp, type TestResponse } from './helpers/app.js';

/** The API conventions (api-conventions.md), exercised through real requests. */
let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(async () => t.close());

const partner = (name = 'Acme') => ({ name, currency: 'USD' });

describe('envelope', () => {
  test('success answers carry success, code, data and links.self', async () => {
    const res = await t.request('POST', '/api/v1/partners', { body: partner() });
    assert.equal(res.status, 201);
    assert.equal(res.body.success, true);
    assert.equal(res.body.code, 201);
    assert.match(res.body.data.id, /^par_/);
    assert.match(res.body.links.self, /^http:\/\/.+\/api\/v1\/partners$/);
    assert.match(res.body.data.links.self, new RegExp(`/api/v1/partners/${res.body.data.id}$`));
  });

  test('errors carry the seed 001, 002 and 003 fields together', async () => {
    const res = await t.request('POST', '/api/v1/partners', { body: { currency: 'USD' } });
    assert.equal(res.status, 400);
    assert.deepEqual(
      { success: res.body.success, code: res.body.code, status: res.body.status, message: res.body.message },
      { success: false, code: 400, status: 'error', message: "Missing required parameter 'name'" },
    );
    assert.deepEqual(res.body.error, {
      code: 400,
      reason: "Missing required parameter 'name'",
      type: 'invalid_request',
      param: 'name',
    });
    assert.equal(res.body.request_id, res.headers['x-request-id']);
  });

  test('unknown routes answer 404 in the envelope', async () => {
    const res = await t.request('GET', '/api/v1/no-such-thing');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.type, 'not_found');
  });

  test('every response has an X-Request-Id, and a sane incoming one is kept', async () => {
    const res = await t.request('GET', '/api/v1', { headers: { 'x-request-id': 'trace-abc-123' } });
    assert.equal(res.headers['x-request-id'], 'trace-abc-123');
    const generated = await t.request('GET', '/api/v1', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});

describe('response formats', () => {
  test('.xml suffix renders the same envelope as XML', async () => {
    const res = await t.request('GET', '/api/v1/partners.xml');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/xml/);
    assert.match(res.text, /^<\?xml version="1.0"/);
    assert.match(res.text, /<success>true<\/success>/);
  });

  test('.html suffix renders a debug page, errors too', async () => {
    const res = await t.request('GET', '/api/v1/customers/cus_01aaaaaaaaaaaaaaaaaaaaaaaa.html');
    assert.equal(res.status, 404);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.text, /Customer not found/);
  });

  test('links keep the format suffix, so following next stays in the format', async () => {
    for (const name of ['Suffix One', 'Suffix Two']) await t.data('POST', '/api/v1/partners', partner(name));
    const res = await t.request('GET', '/api/v1/partners.xml?limit=1');
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /<self>http:\/\/[^<]+\/api\/v1\/partners\.xml\?limit=1<\/self>/);
    const next = /<next>http:\/\/[^/]+([^<]+)<\/next>/.exec(res.text)?.[1];
    assert.match(next ?? '', /^\/api\/v1\/partners\.xml\?/);
    const second = await t.request('GET', next!.replace(/&amp;/g, '&'));
    assert.match(String(second.headers['content-type']), /^application\/xml/);
  });

  test('.json suffix and Accept negotiation', async () => {
    const json = await t.request('GET', '/api/v1/partners.json');
    assert.equal(json.body.success, true);
    const xml = await t.request('GET', '/api/v1/partners', { headers: { accept: 'application/xml' } });
    assert.match(xml.text, /<response>/);
    const any = await t.request('GET', '/api/v1/partners', { headers: { accept: '*/*' } });
    assert.match(String(any.headers['content-type']), /^application\/json/);
  });
});

describe('request bodies', () => {
  test('JSON, urlencoded, multipart and XML bodies are validated by one schema', async () => {
    const form = await t.request('POST', '/api/v1/customers', {
      body: 'name=Form+Co&currency=EUR&credit_limit=-55',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 201, form.text);
    assert.equal(form.body.data.credit_limit, '-55');

    const boundary = '----tollgate';
    const multipart = [
      `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nMultipart Co\r\n`,
      `--${boundary}\r\nContent-Disposition: form-data; name="currency"\r\n\r\nGBP\r\n`,
      `--${boundary}--\r\n`,
    ].join('');
    const mp = await t.request('POST', '/api/v1/customers', {
      body: multipart,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    assert.equal(mp.status, 201, mp.text);
    assert.equal(mp.body.data.currency, 'GBP');

    const xml = await t.request('POST', '/api/v1/customers', {
      body: '<customer><name>Xml Co</name><currency>JPY</currency></customer>',
      headers: { 'content-type': 'application/xml' },
    });
    assert.equal(xml.status, 201, xml.text);
    assert.equal(xml.body.data.name, 'Xml Co');
  });

  test('malformed JSON, XML and form bodies are 400, never 500', async () => {
    const cases: Array<[string, string]> = [
      ['application/json', '{"name": "x", '],
      ['application/json', '{"__proto__": {"admin": true}, "name": "x", "currency": "USD"}'],
      ['application/xml', '<customer><name>x</customer>'],
      ['multipart/form-data; boundary=zz', '--zz\r\nbroken'],
    ];
    for (const [type, body] of cases) {
      const res = await t.request('POST', '/api/v1/customers', { body, headers: { 'content-type': type } });
      assert.equal(res.status, 400, `${type}: ${res.text}`);
      assert.equal(res.body.success, false);
    }
  });

  test('missing form fields name the field', async () => {
    const res = await t.request('POST', '/api/v1/customers', {
      body: 'currency=EUR',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.message, "Missing required parameter 'name'");
  });

  test('an unsupported content type is 415', async () => {
    const res = await t.request('POST', '/api/v1/partners', {
      body: 'x',
      headers: { 'content-type': 'application/pdf' },
    });
    assert.equal(res.status, 415);
    assert.equal(res.body.error.type, 'unsupported_media_type');
  });

  test('unknown fields are rejected naming the field', async () => {
    const res = await t.request('POST', '/api/v1/partners', { body: { ...partner(), credt_limit: '5' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.param, 'credt_limit');
    assert.equal(res.body.message, "Unknown parameter 'credt_limit'");
    const query = await t.request('GET', '/api/v1/customers?stauts=active');
    assert.equal(query.status, 400);
    assert.equal(query.body.error.param, 'stauts');
  });

  test('a value outside a list of choices, or of the wrong form, says what is expected', async () => {
    const strategy = await t.request(
      'GET',
      '/api/v1/routes/lcr?number=44&ratecard_id=rc_x&strategy=cheapest',
    );
    assert.equal(strategy.status, 400);
    assert.equal(strategy.body.message, "Invalid parameter 'strategy': must be one of: lcr, priority");
    const at = await t.request('GET', '/api/v1/rates/lookup?number=44&ratecard_id=rc_x&at=yesterday');
    assert.equal(at.status, 400);
    assert.match(at.body.message, /^Invalid parameter 'at': must be a date or an ISO 8601 timestamp/);
    const amount = await t.request('POST', '/api/v1/customers', {
      body: { name: 'Exponent', currency: 'EURO', credit_limit: '1e3' },
    });
    assert.equal(amount.status, 400);
    assert.match(
      amount.body.message,
      /must be (a decimal number such as 12\.50|a three-letter ISO 4217 currency code)/,
    );
  });

  test('every pattern in the API has a sentence saying what a matching value looks like', async () => {
    // A pattern without one answers "has an invalid format", which leaves the client guessing.
    const document = (await t.request('GET', '/api/v1/openapi.json', { key: null })).body;
    const patterns = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === 'pattern' && typeof value === 'string') patterns.add(value);
          else walk(value);
        }
      }
    };
    walk(document);
    assert.ok(patterns.size >= 10, `found ${patterns.size} patterns`);
    const unexplained = [...patterns].filter((pattern) => patternExpectation(pattern) === null);
    assert.deepEqual(unexplained, []);
  });

  test('a field inside a list is named with its index, as the domain’s own messages name it', async () => {
    const card = await t.data('POST', '/api/v1/ratecards', {
      name: 'Derived',
      currency: 'USD',
      direction: 'sell',
    });
    const res = await t.request('PUT', `/api/v1/ratecards/${card.id}/derivation`, {
      body: { source_ids: ['rc_x'], overrides: [{ prefix: '44' }, { prefix: '4x', percentage: '5' }] },
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error.param, 'overrides[1].prefix');
    assert.equal(res.body.message, "Invalid parameter 'overrides[1].prefix': must be 1 to 16 digits");
    const percentage = await t.request('PUT', `/api/v1/ratecards/${card.id}/derivation`, {
      body: { source_ids: ['rc_x'], percentage: '-5' },
    });
    assert.equal(percentage.status, 400, percentage.text);
    assert.match(percentage.body.message, /'percentage': must be a percentage of 0 or more/);
  });

  test('wrong types are 400 naming the field', async () => {
    const res = await t.request('POST', '/api/v1/partners', {
      body: { name: 'x', currency: 'USD', credit_limit: 'lots' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.param, 'credit_limit');
    const arr = await t.request('POST', '/api/v1/partners', { body: { name: ['x'], currency: 'USD' } });
    assert.equal(arr.status, 400);
  });

  test('amounts may be JSON numbers up to 15 significant digits; longer ones must be strings', async () => {
    const ok = await t.request('POST', '/api/v1/partners', { body: { ...partner(), credit_limit: -55.5 } });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.data.credit_limit, '-55.5');
    const lossy = await t.request('POST', '/api/v1/partners', {
      body: '{"name":"x","currency":"USD","credit_limit":-1234567890.1234567}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(lossy.status, 400);
    assert.match(lossy.body.message, /more than 15 significant digits/);
    const cardNumber = await t.request('POST', '/api/v1/partners', {
      body: '{"name":"x","currency":"USD","credit_limit":5555555555554444}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(cardNumber.status, 400);
    assert.ok(
      !cardNumber.text.includes('555555555555'),
      'a long number, maybe a card, is never echoed whole',
    );
    assert.match(cardNumber.body.message, /ending in 4444/);
    const asString = await t.request('POST', '/api/v1/partners', {
      body: { ...partner(), credit_limit: '-1234567890.1234567' },
    });
    assert.equal(asString.status, 201);
    assert.equal(asString.body.data.credit_limit, '-1234567890.1234567');
  });

  test('a JSON number JavaScript would write with an exponent keeps its exact value', async () => {
    const limitOf = async (literal: string, extra = '') => {
      const res = await t.request('POST', '/api/v1/partners', {
        body: `{"name":"Tiny ${literal}${extra}","currency":"USD","credit_limit":${literal}}`,
        headers: { 'content-type': 'application/json' },
      });
      return res.status === 201 ? res.body.data.credit_limit : `${res.status} ${res.body.message}`;
    };
    assert.equal(await limitOf('-0.0000001'), '-0.0000001');
    assert.equal(await limitOf('-0.00000123'), '-0.00000123');
    assert.equal(await limitOf('-1E1'), '-10');
    assert.equal(await limitOf('-1.5e-7'), '-0.00000015');
    // A name like a UUID ("4e5f") triggers the check but needs nothing re-read.
    assert.equal(await limitOf('-2.5', ' 4e5f0c'), '-2.5');
    assert.match(await limitOf('-1e-9'), /^400 /, 'nine decimals are still too many');
  });

  test('oversize bodies are 413 and change nothing', async () => {
    const small = await startTestApp({ BODY_LIMIT_BYTES: '2048' });
    try {
      const res = await small.request('POST', '/api/v1/partners', {
        body: { name: 'x'.repeat(4000), currency: 'USD' },
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.error.type, 'payload_too_large');
      const list = await small.request('GET', '/api/v1/partners');
      assert.equal(list.body.data.length, 0);
    } finally {
      await small.close();
    }
  });
});

describe('input PostgreSQL cannot store, and malformed URLs', () => {
  const partnerNames = async () =>
    ((await t.request('GET', '/api/v1/partners?limit=100')).body.data as { name: string }[]).map(
      (p) => p.name,
    );

  test('a number coerced to Infinity is a 400, not a query with an infinite limit', async () => {
    for (const limit of ['Infinity', '-Infinity', '1e309']) {
      const res = await t.request('GET', `/api/v1/partners?limit=${limit}`);
      assert.equal(res.status, 400, `${limit}: ${res.text}`);
      assert.equal(res.body.error.param, 'limit');
      assert.equal(res.body.message, "Invalid parameter 'limit': must be a finite number");
    }
  });

  test('a NUL character in a query, a JSON body or a form body is a 400 that writes nothing', async () => {
    const query = await t.request('GET', '/api/v1/partners?starting_after=par_1%00');
    assert.equal(query.status, 400, query.text);
    assert.equal(query.body.error.param, 'starting_after');

    const before = await partnerNames();
    const json = await t.request('POST', '/api/v1/partners', {
      body: { name: 'Nul\u0000Co', currency: 'USD' },
    });
    assert.equal(json.status, 400, json.text);
    assert.equal(json.body.error.param, 'name');
    assert.match(json.body.message, /must not contain NUL characters/);
    const form = await t.request('POST', '/api/v1/partners', {
      body: 'name=Nul%00Form&currency=USD',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 400, form.text);
    assert.equal(form.body.error.param, 'name');
    assert.deepEqual(await partnerNames(), before);
  });

  test('over real HTTP, a URL that is not UTF-8 or has an over-long id answers in the envelope', async () => {
    const base = await t.listen();
    const get = (path: string) => fetch(base + path, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const badUtf8 = await get('/api/v1/partners/%FF');
    const badBody = (await badUtf8.json()) as TestResponse['body'];
    assert.equal(badUtf8.status, 400);
    assert.equal(badBody.error.type, 'invalid_request');
    assert.equal(badBody.request_id, badUtf8.headers.get('x-request-id'));
    const long = await get(`/api/v1/partners/par_${'a'.repeat(200)}`);
    assert.equal(long.status, 414);
    assert.equal(((await long.json()) as TestResponse['body']).error.type, 'invalid_request');
  });
});

describe('pagination', () => {
  test('cursor pages walk every item once in a stable order', async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.request('POST', '/api/v1/customers', {
        body: { name: `Page ${i}`, currency: 'USD', account_number: `PAGE-${i}` },
      });
      created.push(res.body.data.id);
    }
    const seen: string[] = [];
    let url: string | undefined = '/api/v1/customers?limit=2';
    while (url) {
      const page: {
        body: { data: Array<{ id: string }>; meta: { has_more: boolean }; links: { next?: string } };
      } = await t.request('GET', url);
      seen.push(...page.body.data.map((c) => c.id));
      assert.ok(page.body.data.length <= 2);
      url = page.body.links.next
        ? new URL(page.body.links.next).pathname + new URL(page.body.links.next).search
        : undefined;
      assert.equal(Boolean(url), page.body.meta.has_more);
    }
    assert.equal(new Set(seen).size, seen.length, 'no item twice');
    for (const id of created) assert.ok(seen.includes(id));
    assert.deepEqual([...seen].sort(), seen, 'ordered by id');
  });

  test('limit outside 1..100 is 400', async () => {
    assert.equal((await t.request('GET', '/api/v1/customers?limit=0')).status, 400);
    assert.equal((await t.request('GET', '/api/v1/customers?limit=101')).status, 400);
    assert.equal((await t.request('GET', '/api/v1/customers?limit=abc')).status, 400);
  });

  test('a cursor that is not an id of the listed kind is a 400 naming it, not an empty page', async () => {
    const lists = [
      '/api/v1/partners',
      '/api/v1/customers',
      '/api/v1/api-keys',
      '/api/v1/ratecards',
      '/api/v1/carriers',
      '/api/v1/cdrs',
      '/api/v1/transactions',
      '/api/v1/gateways',
      '/api/v1/webhook-endpoints',
    ];
    for (const list of lists) {
      const otherKind =
        list === '/api/v1/partners' ? 'cus_01m8y14bga0s8md9d9cg42sr10' : 'par_01m8y14bga0s8md9d9cg42sr10';
      for (const cursor of ['zzz', 'cus_', otherKind]) {
        const res = await t.request('GET', `${list}?starting_after=${cursor}`);
        assert.equal(res.status, 400, `${list} ${cursor}: ${res.text}`);
        assert.equal(res.body.error.param, 'starting_after', list);
      }
    }
    const wrongKind = await t.request(
      'GET',
      '/api/v1/partners?starting_after=cus_01m8y14bga0s8md9d9cg42sr10',
    );
    assert.equal(
      wrongKind.body.message,
      "Invalid parameter 'starting_after': must be an id starting with par_",
    );
    // A well-formed id of the right kind is a cursor even when nothing has it (deleted, say).
    const page = await t.request('GET', '/api/v1/customers?starting_after=cus_01m8y14bga0s8md9d9cg42sr10');
    assert.equal(page.status, 200, page.text);
  });
});

describe('idempotency', () => {
  test('a retried POST with the same key has one effect and replays the first answer', async () => {
    const headers = { 'idempotency-key': 'create-partner-1' };
    const first = await t.request('POST', '/api/v1/partners', { body: partner('Once Ltd'), headers });
    const second = await t.request('POST', '/api/v1/partners', { body: partner('Once Ltd'), headers });
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(second.headers['idempotency-hit'], 'true');
    assert.equal(second.body.data.id, first.body.data.id);
    const list = await t.request('GET', '/api/v1/partners?limit=100');
    assert.equal(list.body.data.filter((p: { name: string }) => p.name === 'Once Ltd').length, 1);
  });

  test('the same key with a different request is 409', async () => {
    const headers = { 'idempotency-key': 'create-partner-2' };
    await t.request('POST', '/api/v1/partners', { body: partner('Two Ltd'), headers });
    const clash = await t.request('POST', '/api/v1/partners', { body: partner('Other Ltd'), headers });
    assert.equal(clash.status, 409);
    assert.equal(clash.body.error.type, 'idempotency');
  });

  test('a request left running by a dead process is taken over after the abandon window', async () => {
    const headers = { 'idempotency-key': 'crashed-mid-request' };
    const first = await t.request('POST', '/api/v1/partners', { body: partner('Crash Ltd'), headers });
    assert.equal(first.status, 201);
    // Make it look like the process died while handling it, 10 s ago: still 409.
    const markRunning = (secondsAgo: number) =>
      t.handle.db
        .updateTable('idempotency_keys')
        .set({ state: 'running', body: null, created_at: new Date(Date.now() - secondsAgo * 1000) })
        .where('key', '=', 'crashed-mid-request')
        .execute();
    await markRunning(10);
    const tooSoon = await t.request('POST', '/api/v1/partners', { body: partner('Crash Ltd'), headers });
    assert.equal(tooSoon.status, 409);
    // Past the 60 s abandon window the retry runs (and is then stored and replayed as usual).
    await markRunning(120);
    const retried = await t.request('POST', '/api/v1/partners', { body: partner('Crash Ltd'), headers });
    assert.equal(retried.status, 201);
    assert.equal(retried.headers['idempotency-hit'], undefined);
    const replay = await t.request('POST', '/api/v1/partners', { body: partner('Crash Ltd'), headers });
    assert.equal(replay.headers['idempotency-hit'], 'true');
    assert.equal(replay.body.data.id, retried.body.data.id);
  });

  test('an answer holding a secret shown once is not stored: a retry is 409, never the secret again', async () => {
    const owner = await t.data('POST', '/api/v1/partners', partner('Secret Keeper'));
    const keysBefore = (await t.data('GET', `/api/v1/api-keys?partner_id=${owner.id}`)).length;
    const retried = async (url: string, body: unknown, key: string) => {
      const headers = { 'idempotency-key': key };
      const first = await t.request('POST', url, { body, headers });
      const second = await t.request('POST', url, { body, headers });
      return { first, second };
    };
    const created = await retried('/api/v1/api-keys', { role: 'partner', partner_id: owner.id }, 'new-key-1');
    const endpoint = await retried(
      '/api/v1/webhook-endpoints',
      { url: 'https://hooks.example/secret', events: ['*'] },
      'new-endpoint-1',
    );
    const secrets = [created.first.body.data?.key, endpoint.first.body.data?.secret];
    assert.match(secrets[0], /^tgk_/);
    assert.match(secrets[1], /^whsec_/);
    for (const { second } of [created, endpoint]) {
      assert.equal(second.status, 409, second.text);
      assert.equal(second.body.error.type, 'idempotency');
      for (const secret of secrets) assert.ok(!second.text.includes(secret), 'the retry shows the secret');
    }
    const stored = await t.handle.db
      .selectFrom('idempotency_keys')
      .select(['body', 'status_code'])
      .where('key', 'in', ['new-key-1', 'new-endpoint-1'])
      .execute();
    assert.equal(stored.length, 2);
    for (const row of stored) {
      assert.equal(row.status_code, 201);
      for (const secret of secrets) assert.ok(!(row.body ?? '').includes(secret), 'the secret is stored');
    }
    const keysAfter = await t.data('GET', `/api/v1/api-keys?partner_id=${owner.id}`);
    assert.equal(keysAfter.length, keysBefore + 1, 'the retry created no second key');
    // A refused request holds no secret: its answer is replayed as any other.
    const refused = await retried(
      '/api/v1/api-keys',
      { role: 'customer', customer_id: 'cus_01aaaaaaaaaaaaaaaaaaaaaaaa' },
      'key-for-nobody',
    );
    assert.equal(refused.first.status, 404);
    assert.equal(refused.second.text, refused.first.text);
    assert.equal(refused.second.headers['idempotency-hit'], 'true');
  });

  test('an error answer is replayed too, and an over-long key is 400', async () => {
    const headers = { 'idempotency-key': 'bad-partner' };
    const first = await t.request('POST', '/api/v1/partners', {
      body: { name: 'x', currency: 'XYZ' },
      headers,
    });
    const again = await t.request('POST', '/api/v1/partners', {
      body: { name: 'x', currency: 'XYZ' },
      headers,
    });
    assert.equal(first.status, 400);
    assert.equal(again.status, 400);
    const long = await t.request('POST', '/api/v1/partners', {
      body: partner(),
      headers: { 'idempotency-key': 'k'.repeat(256) },
    });
    assert.equal(long.status, 400);
  });
});

describe('discovery and operations', () => {
  test('GET /api/v1 links to the collections the key may use', async () => {
    const res = await t.request('GET', '/api/v1');
    assert.equal(res.status, 200);
    assert.match(res.body.data.list_customers, /\/api\/v1\/customers$/);
    assert.match(res.body.data.list_partners, /\/api\/v1\/partners$/);
  });

  test('the OpenAPI 3.1 document describes every /api/v1 route', async () => {
    const res = await t.request('GET', '/api/v1/openapi.json', { key: null });
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, '3.1.0');
    for (const path of [
      '/api/v1/customers',
      '/api/v1/customers/{id}',
      '/api/v1/partners',
      '/api/v1/api-keys/{id}',
    ]) {
      assert.ok(res.body.paths[path], `${path} documented`);
    }
    const docs = await t.request('GET', '/docs/', { key: null });
    assert.equal(docs.status, 200);
  });

  test('health, readiness and metrics answer without a key', async () => {
    assert.equal((await t.request('GET', '/health', { key: null })).body.status, 'ok');
    const ready = await t.request('GET', '/ready', { key: null });
    assert.equal(ready.status, 200);
    assert.equal(ready.body.checks.migrations, 'ok');
    const metrics = await t.request('GET', '/metrics', { key: null });
    assert.match(metrics.text, /tollgate_http_requests_total\{/);
  });
});

describe('rate limiting', () => {
  test('an address guessing keys gets 429 after too many failed authentications', async () => {
    const guarded = await startTestApp({ AUTH_FAILURES_PER_MINUTE: '3' });
    try {
      const guess = (n: number) =>
        guarded.request('GET', '/api/v1/customers', {
          key: `tgk_guess_${n}_aaaaaaaaaaaaaaaa`,
          remoteAddress: '198.51.100.7',
        });
      assert.deepEqual(
        [(await guess(1)).status, (await guess(2)).status, (await guess(3)).status],
        [401, 401, 401],
      );
      const blocked = await guess(4);
      assert.equal(blocked.status, 429);
      assert.ok(Number(blocked.headers['retry-after']) > 0);
      const elsewhere = await guarded.request('GET', '/api/v1/customers', { remoteAddress: '198.51.100.8' });
      assert.equal(elsewhere.status, 200, 'other addresses are unaffected');
    } finally {
      await guarded.close();
    }
  });

  test('a key over its limit gets 429 with Retry-After and RateLimit headers', async () => {
    const limited = await startTestApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
    try {
      const statuses: number[] = [];
      let last: TestResponse | undefined;
      for (let i = 0; i < 5; i++) {
        last = await limited.request('GET', '/api/v1/customers');
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.equal(last!.body.error.type, 'rate_limited');
      assert.ok(Number(last!.headers['retry-after']) > 0);
      assert.ok(last!.headers['ratelimit-limit']);
    } finally {
      await limited.close();
    }
  });
});
