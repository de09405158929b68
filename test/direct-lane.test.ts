import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * The direct lane (src/http/direct-lane.ts) answers plain successful rate lookups and LCR queries
 * that arrive over HTTP; `inject` goes through Fastify's router, as every other test does. So each
 * request here is sent both ways and the answers must be the same, and every request the lane
 * must leave alone is checked to reach Fastify (the lane's count does not move).
 */
let t: TestApp;
let base: string;
let host: string;
let sell: string;
let customerId: string;
let customerKey: string;
let otherKey: string;

before(async () => {
  t = await startTestApp({ RATE_LIMIT_MAX: '1000' });
  base = await t.listen();
  host = new URL(base).host;
  sell = (
    await t.data('POST', '/api/v1/ratecards', { name: 'Lane sell', currency: 'USD', direction: 'sell' })
  ).id;
  await importDeck(
    sell,
    'prefix,destination,rate,connection_fee,initial_increment,increment\n44,UK,0.05,0.01,60,6\n447,UK mobile,0.12,0,30,6\n',
  );
  for (const [name, deck, priority] of [
    ['Cheap', 'prefix,rate\n44,0.01\n', 2],
    ['Dear', 'prefix,rate\n447,0.2\n', 1],
    ['Mobile', 'prefix,rate\n4479,0.03\n', 3],
  ] as const) {
    const buy = (await t.data('POST', '/api/v1/ratecards', { name, currency: 'USD', direction: 'buy' })).id;
    await importDeck(buy, deck);
    await t.data('POST', '/api/v1/carriers', { name, ratecard_id: buy, priority });
  }
  customerId = (
    await t.data('POST', '/api/v1/customers', { name: 'Lane', currency: 'USD', ratecard_id: sell })
  ).id;
  customerKey = (await t.data('POST', '/api/v1/api-keys', { role: 'customer', customer_id: customerId })).key;
  const other = (
    await t.data('POST', '/api/v1/customers', { name: 'Other', currency: 'USD', ratecard_id: sell })
  ).id;
  otherKey = (await t.data('POST', '/api/v1/api-keys', { role: 'customer', customer_id: other })).key;
});
after(async () => t.close());

async function importDeck(cardId: string, csv: string): Promise<void> {
  const response = await t.request('POST', `/api/v1/ratecards/${cardId}/import`, {
    body: csv,
    headers: { 'content-type': 'text/csv' },
  });
  assert.equal(response.status, 200, response.text);
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** Over HTTP, to the listening server, and whether the lane answered it. */
async function overHttp(url: string, key: string | null, headers: Record<string, string> = {}) {
  const answered = t.app.directLane.answered;
  const response = await fetch(base + url, {
    headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
  });
  const answer: Answer = {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    text: await response.text(),
  };
  return { answer, byLane: t.app.directLane.answered - answered };
}

/** Through Fastify's router (inject), with the same Host so links are the same. */
async function throughFastify(url: string, key: string | null, headers: Record<string, string> = {}) {
  const answered = t.app.directLane.answered;
  const response = await t.app.inject({
    method: 'GET',
    url,
    headers: { host, ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
  });
  assert.equal(t.app.directLane.answered, answered, 'inject never reaches the lane');
  const answer: Answer = {
    status: response.statusCode,
    headers: Object.fromEntries(
      Object.entries(response.headers).map(([name, value]) => [name, String(value)]),
    ),
    text: response.body,
  };
  return answer;
}

/** Headers that differ between any two answers (time, id, connection) or count this request. */
const PER_REQUEST = new Set(['date', 'x-request-id', 'connection', 'keep-alive', 'transfer-encoding']);

function assertSameAnswer(lane: Answer, fastify: Answer, what: string): void {
  assert.equal(lane.status, fastify.status, `${what}: status`);
  // Per request: an error's request id, and a query's time when it asked for none (now).
  const body = (text: string) => {
    if (!lane.headers['content-type']?.includes('json'))
      return text.replace(/[0-9a-f-]{36}/g, '<id>').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>');
    // An error may name the time it looked at ("no rate in force at …"): now, for each request.
    const envelope = JSON.parse(
      lane.status < 400 ? text : text.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<now>'),
    );
    delete envelope.request_id;
    if (!what.includes('at a time') && envelope.data) delete envelope.data.at;
    return envelope;
  };
  assert.deepEqual(body(lane.text), body(fastify.text), `${what}: body`);
  const names = (answer: Answer) =>
    Object.keys(answer.headers)
      .filter((name) => !PER_REQUEST.has(name))
      .sort();
  assert.deepEqual(names(lane), names(fastify), `${what}: header names`);
  for (const name of names(lane)) {
    if (name === 'ratelimit-remaining') {
      // The second request of the pair counted one more.
      assert.equal(Number(lane.headers[name]) - 1, Number(fastify.headers[name]), `${what}: ${name}`);
    } else if (name === 'ratelimit-reset') {
      assert.ok(
        Math.abs(Number(lane.headers[name]) - Number(fastify.headers[name])) <= 1,
        `${what}: ${name}`,
      );
    } else {
      assert.equal(lane.headers[name], fastify.headers[name], `${what}: ${name}`);
    }
  }
  assert.match(lane.headers['x-request-id'] ?? '', /^[\w.:-]+$/, `${what}: a request id`);
}

test('plain rate lookups and LCR queries are answered by the lane, exactly as Fastify answers them', async () => {
  const cases: [string, string][] = [
    ['a customer’s own rate', '/api/v1/rates/lookup?number=447911123456'],
    ['a number written with + and spaces', '/api/v1/rates/lookup?number=%2B44%207911%20123456'],
    [
      'the operator on a named card at a time',
      `/api/v1/rates/lookup?number=442071234567&ratecard_id=${sell}&at=2030-01-01T00:00:00Z`,
    ],
    ['the operator for a customer', `/api/v1/rates/lookup?number=442071234567&customer_id=${customerId}`],
    ['LCR', `/api/v1/routes/lcr?number=447911123456&customer_id=${customerId}`],
    ['LCR by priority', `/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}&strategy=priority`],
    [
      'LCR, profitable only',
      `/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}&profitable_only=true`,
    ],
    ['LCR under a cost', `/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}&max_cost=0.05`],
  ];
  for (const [what, url] of cases) {
    const key = url.includes('routes/lcr') || url.includes('_id=') ? null : customerKey;
    const admin = key === null ? t.config.adminKey! : key;
    // The first request may load the card or the carrier list; from then on it is in memory.
    await overHttp(url, admin);
    const { answer, byLane } = await overHttp(url, admin, { 'x-request-id': 'lane-test.1' });
    assert.equal(byLane, 1, `${what}: answered by the lane (${answer.text})`);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.headers['x-request-id'], 'lane-test.1', 'a safe incoming request id is kept');
    assertSameAnswer(answer, await throughFastify(url, admin), what);
  }
  const lcr = JSON.parse(
    (await overHttp(`/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}`, t.config.adminKey!)).answer
      .text,
  );
  assert.deepEqual(
    lcr.data.routes.map((route: { carrier_name: string }) => route.carrier_name),
    ['Cheap', 'Mobile', 'Dear'],
  );
  assert.equal(lcr.links.self, `${base}/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}`);
});

test('every other request is left to Fastify and answered as before', async () => {
  const admin = t.config.adminKey!;
  const lookup = '/api/v1/rates/lookup?number=447911123456';
  const cases: [string, string, string | null, Record<string, string>, number][] = [
    ['no key', lookup, null, {}, 401],
    ['an unknown key', lookup, 'tgk_not_a_key_0123456789abcdef', {}, 401],
    ['a malformed Authorization header', lookup, null, { authorization: 'Basic abc' }, 401],
    ['a customer key on LCR (operator only)', '/api/v1/routes/lcr?number=447911123456', customerKey, {}, 403],
    ['another customer’s id', `${lookup}&customer_id=${customerId}`, otherKey, {}, 404],
    ['no number', `/api/v1/rates/lookup?customer_id=${customerId}`, admin, {}, 400],
    ['a number that is not one', `/api/v1/rates/lookup?number=abc&customer_id=${customerId}`, admin, {}, 400],
    ['an unknown parameter', `${lookup}&colour=blue`, customerKey, {}, 400],
    ['a NUL in the number', '/api/v1/rates/lookup?number=44%00', customerKey, {}, 400],
    ['no rate at that time', `${lookup}&at=2000-01-01T00:00:00Z`, customerKey, {}, 404],
    ['no prefix matches', '/api/v1/rates/lookup?number=12125550100', customerKey, {}, 404],
    ['an unknown card', '/api/v1/rates/lookup?number=44&ratecard_id=rc_unknown0', admin, {}, 404],
    [
      'both card selectors',
      `/api/v1/rates/lookup?number=44&ratecard_id=${sell}&customer_id=${customerId}`,
      admin,
      {},
      400,
    ],
    [
      'a bad max_cost',
      `/api/v1/routes/lcr?number=447911123456&ratecard_id=${sell}&max_cost=-1`,
      admin,
      {},
      400,
    ],
    ['XML by Accept', lookup, customerKey, { accept: 'application/xml' }, 200],
    ['HTML by Accept', lookup, customerKey, { accept: 'text/html' }, 200],
  ];
  for (const [what, url, key, headers, status] of cases) {
    const { answer, byLane } = await overHttp(url, key, headers);
    assert.equal(byLane, 0, `${what}: not the lane's`);
    assert.equal(answer.status, status, `${what}: ${answer.text}`);
    assertSameAnswer(answer, await throughFastify(url, key, headers), what);
  }
  for (const suffix of ['.xml', '.json', '.html']) {
    const { answer, byLane } = await overHttp(
      `/api/v1/rates/lookup${suffix}?number=447911123456`,
      customerKey,
    );
    assert.equal(byLane, 0, `${suffix}: Fastify renders the suffix formats`);
    assert.equal(answer.status, 200, answer.text);
  }
  const head = await fetch(`${base}${lookup}`, {
    method: 'HEAD',
    headers: { authorization: `Bearer ${customerKey}` },
  });
  assert.equal(head.status, 200);
});

test('a revoked key is refused at once, though the lane had it cached', async () => {
  const created = await t.data('POST', '/api/v1/api-keys', { role: 'customer', customer_id: customerId });
  const url = '/api/v1/rates/lookup?number=447911123456';
  await overHttp(url, created.key); // a new key is read from the database first (through Fastify)
  assert.equal((await overHttp(url, created.key)).byLane, 1);
  await t.data('DELETE', `/api/v1/api-keys/${created.id}`);
  const { answer, byLane } = await overHttp(url, created.key);
  assert.equal(byLane, 0);
  assert.equal(answer.status, 401, answer.text);
  assert.match(JSON.parse(answer.text).error.reason, /revoked/);
});

test('the lane counts in the same rate-limit window, metrics and in-flight count as Fastify', async () => {
  // Five requests a minute per key: the operator's set-up below makes four with its own key.
  const limited = await startTestApp({ RATE_LIMIT_MAX: '5' });
  try {
    const limitedBase = await limited.listen();
    const card = (
      await limited.data('POST', '/api/v1/ratecards', { name: 'Small', currency: 'USD', direction: 'sell' })
    ).id;
    const imported = await limited.request('POST', `/api/v1/ratecards/${card}/import`, {
      body: 'prefix,rate\n1,0.01\n',
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(imported.status, 200, imported.text);
    const customer = (
      await limited.data('POST', '/api/v1/customers', { name: 'Few', currency: 'USD', ratecard_id: card })
    ).id;
    const key = (await limited.data('POST', '/api/v1/api-keys', { role: 'customer', customer_id: customer }))
      .key;
    const url = '/api/v1/rates/lookup?number=12125550100';
    const viaLane = async () => {
      const response = await fetch(limitedBase + url, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(response.status, 200, await response.text());
      return response.headers.get('ratelimit-remaining');
    };
    const viaFastify = async () => {
      const response = await limited.request('GET', url, { key });
      assert.equal(response.status, 200, response.text);
      return String(response.headers['ratelimit-remaining']);
    };

    const answered = limited.app.directLane.answered;
    const remaining = [
      await viaFastify(),
      await viaLane(),
      await viaFastify(),
      await viaLane(),
      await viaLane(),
    ];
    assert.deepEqual(remaining, ['4', '3', '2', '1', '0'], 'one window for both paths');
    assert.equal(limited.app.directLane.answered - answered, 3, 'the lane answered its three');
    const sixth = await fetch(limitedBase + url, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(sixth.status, 429, 'past the limit: Fastify answers the 429');
    assert.equal(sixth.headers.get('ratelimit-remaining'), '0');
    assert.equal(((await sixth.json()) as { error: { type: string } }).error.type, 'rate_limited');
    assert.equal(limited.app.directLane.answered - answered, 3);

    assert.equal(await limited.inFlight.drain(1000), true, 'nothing left in flight');
    const metrics = await limited.request('GET', '/metrics');
    assert.match(
      metrics.text,
      /tollgate_http_requests_total\{method="GET",route="\/api\/v1\/rates\/lookup",status="200"\} 5\b/,
      'three lane answers and two through Fastify',
    );
    assert.match(metrics.text, /tollgate_http_direct_lane_requests_total 3\b/);
    assert.match(
      metrics.text,
      /tollgate_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/rates\/lookup"\} 6\b/,
    );
  } finally {
    await limited.close();
  }
});

test('DIRECT_LANE=false leaves every request to Fastify', async () => {
  const plain = await startTestApp({ DIRECT_LANE: 'false' });
  try {
    const plainBase = await plain.listen();
    const response = await fetch(`${plainBase}/api/v1/rates/lookup?number=1`, {
      headers: { authorization: `Bearer ${plain.config.adminKey}` },
    });
    assert.equal(response.status, 400, 'no card selector: Fastify answers');
    const card = (
      await plain.data('POST', '/api/v1/ratecards', { name: 'Off', currency: 'USD', direction: 'sell' })
    ).id;
    await plain.request('POST', `/api/v1/ratecards/${card}/import`, {
      body: 'prefix,rate\n1,0.01\n',
      headers: { 'content-type': 'text/csv' },
    });
    for (let i = 0; i < 2; i++) {
      const ok = await fetch(`${plainBase}/api/v1/rates/lookup?number=1&ratecard_id=${card}`, {
        headers: { authorization: `Bearer ${plain.config.adminKey}` },
      });
      assert.equal(ok.status, 200, await ok.text());
    }
    assert.equal(plain.app.directLane.answered, 0);
  } finally {
    await plain.close();
  }
});
