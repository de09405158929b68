import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';

let t: TestApp;
let sell: string;
let customerKey: string;
let customerId: string;
before(async () => {
  t = await startTestApp();
  const card = await t.request('POST', '/api/v1/ratecards', {
    body: { name: 'Retail', currency: 'USD', direction: 'sell' },
  });
  sell = card.body.data.id;
  await t.request('POST', `/api/v1/ratecards/${sell}/rates`, {
    body: { prefix: '336', rate: '0.08', destination: 'France mobile', effective_from: '2024-01-01' },
  });
  const buy = await t.request('POST', '/api/v1/ratecards', {
    body: { name: 'Carrier', currency: 'USD', direction: 'buy' },
  });
  await t.request('POST', `/api/v1/ratecards/${buy.body.data.id}/rates`, {
    body: { prefix: '33', rate: '0.01', destination: 'France', effective_from: '2024-01-01' },
  });
  await t.request('POST', '/api/v1/carriers', { body: { name: 'Carrier', ratecard_id: buy.body.data.id } });
  const customer = await t.request('POST', '/api/v1/customers', {
    body: { name: 'Caller', currency: 'USD', ratecard_id: sell },
  });
  customerId = customer.body.data.id;
  const key = await t.request('POST', '/api/v1/api-keys', {
    body: { role: 'customer', customer_id: customerId },
  });
  customerKey = key.body.data.key;
});
after(async () => t.close());

test('a number in any international spelling: E.164, country, type, validity', async () => {
  const response = await t.request('GET', '/api/v1/numbers/lookup?number=%2B33%206%2012%2034%2056%2078');
  assert.equal(response.status, 200, response.text);
  const data = response.body.data;
  assert.equal(data.object, 'number_lookup');
  assert.equal(data.e164, '+33612345678');
  assert.equal(data.country, 'FR');
  assert.equal(data.country_calling_code, '33');
  assert.equal(data.national_number, '612345678');
  assert.equal(data.type, 'MOBILE');
  assert.equal(data.valid, true);
  assert.equal(data.rate, undefined, 'no card asked for, none answered');
  assert.deepEqual(
    data.carriers.map((c: { prefix: string; destination: string }) => [c.prefix, c.destination]),
    [['33', 'France']],
  );
  const us = await t.request('GET', '/api/v1/numbers/lookup.json?number=12025550123');
  assert.equal(us.status, 200);
  assert.equal(us.body.data.country, 'US');
});

test('with a customer: the rate and destination on its card; a customer key defaults to itself', async () => {
  const byOperator = await t.request(
    'GET',
    `/api/v1/numbers/lookup?number=33612345678&customer_id=${customerId}`,
  );
  assert.equal(byOperator.status, 200, byOperator.text);
  assert.equal(byOperator.body.data.rate.destination, 'France mobile');
  assert.equal(byOperator.body.data.rate.rate, '0.08');
  assert.equal(byOperator.body.data.rate.ratecard_id, sell);

  const own = await t.request('GET', '/api/v1/numbers/lookup?number=33612345678', { key: customerKey });
  assert.equal(own.status, 200, own.text);
  assert.equal(own.body.data.rate.prefix, '336');
  assert.equal(own.body.data.carriers, undefined, 'carriers are the operator’s business');

  const noRate = await t.request('GET', '/api/v1/numbers/lookup?number=33142685300', { key: customerKey });
  assert.equal(noRate.status, 200);
  assert.equal(noRate.body.data.type, 'FIXED_LINE');
  assert.equal(noRate.body.data.rate, null);
});

test('bad numbers are a 400 naming number', async () => {
  const missing = await t.request('GET', '/api/v1/numbers/lookup');
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.reason, "Missing required parameter 'number'");
  for (const [number, reason] of [
    ['44abc', /not a phone number/],
    ['%2B999123456', /country calling code/],
    ['4420', /too short/],
    ['33612345678901234', /too long/],
  ] as const) {
    const response = await t.request('GET', `/api/v1/numbers/lookup?number=${number}`);
    assert.equal(response.status, 400, `${number}: ${response.text}`);
    assert.equal(response.body.error.param, 'number', number);
    assert.match(response.body.error.reason, reason, number);
  }
});
