import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { Decimal } from '../src/money/index.js';
import { startTestApp, type TestApp, type TestResponse } from './helpers/app.js';

/**
 * Calls end to end: a deck → CDRs → costs → balances and statement; duplicates, bad records,
 * formats, re-rating, call authorization, live calls, stats and tenancy.
 */
let t: TestApp;
let sellCard: string;
let customer: { id: string; account_number: string };
let carrier: string;
const rateIds: Record<string, string> = {};
const SINCE = '2026-01-01T00:00:00Z';

async function created(method: string, url: string, body: unknown, key?: string) {
  const res = await t.request(method, url, { body, ...(key ? { key } : {}) });
  assert.ok(res.status === 201 || res.status === 200, `${url}: ${res.text}`);
  return res.body.data;
}

async function addRate(card: string, body: Record<string, unknown>) {
  return created('POST', `/api/v1/ratecards/${card}/rates`, { effective_from: SINCE, ...body });
}

/** A switch's own CSV file, as it writes it (no header), with its columns named in order. */
const postSwitchFile = (columns: string, lines: string) =>
  t.request('POST', `/api/v1/cdrs?header=false&columns=${columns}`, {
    body: `${lines}\n`,
    headers: { 'content-type': 'text/csv' },
  });

const cdr = (callId: string, extra: Record<string, unknown> = {}) => ({
  call_id: callId,
  customer_id: customer.id,
  caller: '+1 555 000 1111',
  callee: '447700900123',
  start_time: '2026-11-02T10:00:00Z',
  answer_time: '2026-11-02T10:00:05Z',
  end_time: '2026-11-02T10:01:06Z',
  disposition: 'answered',
  ...extra,
});

async function balance(customerId = customer.id) {
  const res = await t.request('GET', `/api/v1/customers/${customerId}`);
  return res.body.data.balance as string;
}

before(async () => {
  t = await startTestApp();
  sellCard = (
    await created('POST', '/api/v1/ratecards', {
      name: 'Retail USD',
      currency: 'USD',
      direction: 'sell',
      rounding_decimals: 6,
    })
  ).id;
  rateIds.uk = (
    await addRate(sellCard, {
      prefix: '44',
      destination: 'UK',
      rate: '0.0123',
      initial_increment: 60,
      increment: 6,
    })
  ).id;
  await addRate(sellCard, {
    prefix: '4420',
    destination: 'UK London',
    rate: '0.02',
    initial_increment: 1,
    increment: 1,
  });
  await addRate(sellCard, {
    prefix: '1',
    destination: 'USA',
    rate: '0.005',
    initial_increment: 6,
    increment: 6,
  });
  await addRate(sellCard, { prefix: '882', destination: 'Satellite', rate: '5', blocked: true });
  const buyCard = (
    await created('POST', '/api/v1/ratecards', {
      name: 'Carrier A',
      currency: 'USD',
      direction: 'buy',
      rounding_decimals: 6,
    })
  ).id;
  await addRate(buyCard, {
    prefix: '44',
    destination: 'UK',
    rate: '0.006',
    initial_increment: 1,
    increment: 1,
  });
  carrier = (await created('POST', '/api/v1/carriers', { name: 'Carrier A', ratecard_id: buyCard })).id;
  customer = await created('POST', '/api/v1/customers', {
    name: 'Caller Co',
    currency: 'USD',
    ratecard_id: sellCard,
  });
  // A negative adjustment is a credit: the customer starts with 10.
  await created('POST', `/api/v1/customers/${customer.id}/adjustments`, {
    amount: '-10',
    description: 'opening credit',
  });
});

after(async () => {
  const report = await verifyLedger(t.handle.db);
  await t.close();
  assert.deepEqual(report.problems, []);
  assert.ok(report.transactions > 0);
});

describe('CDR ingestion', () => {
  let first: TestResponse;
  const batch = () => [
    cdr('c1', { carrier_id: undefined }),
    cdr('c2', { callee: '+44 20 1234 5678', answer_time: '2026-11-02T10:00:59Z' }),
    cdr('c3', { callee: '15550001234', answer_time: null, billsec: 108, end_time: '2026-11-02T10:02:00Z' }),
    cdr('c4', { disposition: 'busy', answer_time: null }),
    cdr('c5', { customer_id: 'cus_01aaaaaaaaaaaaaaaaaaaaaaaa' }),
    cdr('c6', { callee: 'not a number' }),
    cdr('c1'),
    cdr('c8', { end_time: '2026-11-02T09:00:00Z' }),
    cdr('c9', { carrier_id: carrier, callee: '447700900999' }),
  ];

  test('a batch is checked record by record, rated, stored and charged once per customer', async () => {
    first = await t.request('POST', '/api/v1/cdrs', { body: batch() });
    assert.equal(first.status, 200, first.text);
    const result = first.body.data;
    assert.deepEqual(
      {
        received: result.received,
        accepted: result.accepted,
        duplicates: result.duplicates,
        rated: result.rated,
        unrated: result.unrated,
      },
      { received: 9, accepted: 6, duplicates: 0, rated: 5, unrated: 1 },
    );
    assert.deepEqual(
      result.rejected.map((r: { index: number; param?: string }) => [r.index, r.param]),
      [
        [5, 'callee'],
        [6, 'call_id'],
        [7, 'end_time'],
      ],
    );
    // c1: 61 s at 60/6 bills 66 s × 0.0123/60 = 0.01353. c2: 7 s at 1/1 of 0.02 = 0.002333(33) → 0.002333.
    // c3: 108 s at 6/6 of 0.005 = 0.009. c4: busy, 0. c9: like c1 = 0.01353.
    const expected = new Decimal('0.01353').plus('0.002333').plus('0.009').plus('0.01353');
    assert.equal(result.charged.length, 1);
    assert.equal(result.charged[0].amount, expected.toFixed());
    assert.equal(await balance(), new Decimal(10).minus(expected).toFixed());
  });

  test('the statement shows the calls as call charges', async () => {
    const res = await t.request(
      'GET',
      `/api/v1/customer/balance?account_number=${customer.account_number}&from=2026-01-01&to=2030-01-01`,
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.call_charges, first.body.data.charged[0].amount);
  });

  test('each CDR carries its price; the carrier leg gives the margin (admin only)', async () => {
    const c1 = (await t.request('GET', '/api/v1/cdrs?call_id=c1')).body.data[0];
    assert.deepEqual(
      [c1.prefix, c1.billed_seconds, c1.cost, c1.rating_state],
      ['44', 66, '0.01353', 'rated'],
    );
    const c9 = (await t.request('GET', '/api/v1/cdrs?call_id=c9')).body.data[0];
    // Buy leg: 61 s at 1/1 of 0.006 = 0.0061; margin 0.01353 − 0.0061.
    assert.equal(c9.buy_cost, '0.0061');
    assert.equal(c9.margin, '0.00743');
    const c5 = (await t.request('GET', '/api/v1/cdrs?call_id=c5')).body.data[0];
    assert.deepEqual([c5.rating_state, c5.unrated_reason, c5.charged], ['unrated', 'unknown_customer', '0']);
  });

  test('re-sending the same batch changes nothing', async () => {
    const before = await balance();
    const again = await t.request('POST', '/api/v1/cdrs', { body: batch() });
    assert.equal(again.status, 200);
    assert.equal(again.body.data.accepted, 0);
    assert.equal(again.body.data.duplicates, 6);
    assert.deepEqual(again.body.data.charged, []);
    assert.equal(await balance(), before);
  });

  test('each sender’s switches are its own: another tenant’s call ids never make a CDR a duplicate', async () => {
    // Asterisk's uniqueid is the epoch second and a counter, and every switch_id defaults to
    // 'default': two PBXs send the same call id for different calls. Before, the second was a
    // "duplicate", never stored nor charged, and a partner could suppress others' CDRs so.
    const day = {
      start_time: '2026-10-24T10:00:00Z',
      answer_time: '2026-10-24T10:00:05Z',
      end_time: '2026-10-24T10:01:06Z',
    };
    const tenants: { key: string | undefined; customer: { id: string; name: string } }[] = [];
    for (const name of ['Sender P', 'Sender Q']) {
      const partner = await created('POST', '/api/v1/partners', { name, currency: 'USD' });
      const key = (await created('POST', '/api/v1/api-keys', { role: 'partner', partner_id: partner.id }))
        .key;
      const own = await created('POST', '/api/v1/customers', {
        name: `${name}’s customer`,
        partner_id: partner.id,
        ratecard_id: sellCard,
      });
      tenants.push({ key, customer: own });
    }
    const direct = await created('POST', '/api/v1/customers', {
      name: 'Sender operator’s customer',
      currency: 'USD',
      ratecard_id: sellCard,
    });
    tenants.push({ key: undefined, customer: direct });
    const send = (tenant: (typeof tenants)[number]) =>
      t.request('POST', '/api/v1/cdrs', {
        body: [cdr('1761300000.1', { ...day, customer_id: tenant.customer.id })],
        ...(tenant.key ? { key: tenant.key } : {}),
      });
    for (const tenant of tenants) {
      const first = await send(tenant);
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.data.rated, 1, `${tenant.customer.name}: ${first.text}`);
      assert.equal(first.body.data.duplicates, 0);
      assert.notEqual(await balance(tenant.customer.id), '0');
    }
    // Each sender's own re-send is still a duplicate, charged once.
    for (const tenant of tenants) {
      const again = await send(tenant);
      assert.equal(again.body.data.duplicates, 1, again.text);
      assert.deepEqual(again.body.data.charged, []);
    }
    const stored = (await t.request('GET', '/api/v1/cdrs?call_id=1761300000.1&limit=10')).body.data;
    assert.deepEqual(
      stored.map((c: { customer_id: string }) => c.customer_id).sort(),
      tenants.map((tenant) => tenant.customer.id).sort(),
    );
  });

  test('a partner’s CDR cannot name one of the operator’s carriers', async () => {
    // It would put the partner's calls into the operator's carrier costs and per-carrier stats.
    const partner = await created('POST', '/api/v1/partners', {
      name: 'Carrier-naming reseller',
      currency: 'USD',
    });
    const key = (await created('POST', '/api/v1/api-keys', { role: 'partner', partner_id: partner.id })).key;
    const own = await created('POST', '/api/v1/customers', {
      name: 'Its customer',
      partner_id: partner.id,
      ratecard_id: sellCard,
    });
    const day = {
      start_time: '2026-10-25T10:00:00Z',
      answer_time: '2026-10-25T10:00:05Z',
      end_time: '2026-10-25T10:01:06Z',
    };
    const res = await t.request('POST', '/api/v1/cdrs', {
      key,
      body: [
        cdr('pc-1', { ...day, customer_id: own.id, carrier_id: carrier }),
        cdr('pc-2', { ...day, customer_id: own.id }),
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.body.data.rejected.map((r: { index: number; param: string }) => [r.index, r.param]),
      [[0, 'carrier_id']],
    );
    assert.equal(res.body.data.rated, 1);
    const byCarrier = await t.request('GET', `/api/v1/cdrs?carrier_id=${carrier}&call_id=pc-1`);
    assert.deepEqual(byCarrier.body.data, []);
  });

  test('concurrent resubmissions of one batch store and charge it once', async () => {
    const before = new Decimal(await balance());
    const records = Array.from({ length: 20 }, (_, i) => cdr(`race-${i}`));
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => t.request('POST', '/api/v1/cdrs', { body: records })),
    );
    for (const answer of answers) assert.equal(answer.status, 200, answer.text);
    assert.equal(
      answers.reduce((sum, answer) => sum + answer.body.data.accepted, 0),
      20,
    );
    assert.equal(before.minus(await balance()).toFixed(), new Decimal('0.01353').times(20).toFixed());
  });

  test('atomic=true rejects the whole batch for one bad record', async () => {
    const res = await t.request('POST', '/api/v1/cdrs?atomic=true', {
      body: [cdr('atomic-1'), cdr('atomic-2', { duration: -5 })],
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details[0].index, 1);
    assert.equal(res.body.error.details[0].param, 'duration');
    const stored = await t.request('GET', '/api/v1/cdrs?call_id=atomic-1');
    assert.equal(stored.body.data.length, 0);
  });

  test('bad records are reported by index and reason', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ call_id: undefined }, 'call_id'],
      [{ duration: -1 }, 'duration'],
      [{ answer_time: '2026-11-02T09:59:00Z' }, 'answer_time'],
      [{ start_time: 'yesterday' }, 'start_time'],
      [{ disposition: 'hung' }, 'disposition'],
      [{ disposition: 'constructor' }, 'disposition'],
      [{ disposition: 'no__answer!' }, 'disposition'],
      [{ disposition: 'busy' }, 'billsec'],
      [{ colour: 'red' }, 'colour'],
      [{ customer_id: undefined }, 'customer_id'],
      // PostgreSQL cannot store a NUL: each is this record's problem, not the batch's 500.
      [{ caller: '555\u0000' }, 'caller'],
      [{ hangup_cause: '486\u0000' }, 'hangup_cause'],
      [{ tags: { leg: 'a\u0000' } }, 'tags'],
    ];
    const res = await t.request('POST', '/api/v1/cdrs', {
      body: cases.map(([extra], i) => cdr(`bad-${i}`, extra)),
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.accepted, 0);
    assert.deepEqual(
      res.body.data.rejected.map((r: { param: string }) => r.param),
      cases.map(([, param]) => param),
    );
    const notArray = await t.request('POST', '/api/v1/cdrs', { body: { call_id: 'x' } });
    assert.equal(notArray.status, 400);
  });

  test('a switch’s own spelling of a disposition is read (Asterisk’s ANSWERED, NO ANSWER, CONGESTION…)', async () => {
    const spellings: Array<[string, Record<string, unknown>, string]> = [
      ['ANSWERED', {}, 'answered'],
      ['NO ANSWER', { answer_time: null }, 'no_answer'],
      ['no-answer', { answer_time: null }, 'no_answer'],
      [' Busy ', { answer_time: null }, 'busy'],
      ['CONGESTION', { answer_time: null }, 'failed'],
      ['canceled', { answer_time: null }, 'cancelled'],
    ];
    // A customer of its own, so the other tests' counts and sums do not change.
    const switchUser = await created('POST', '/api/v1/customers', {
      name: 'Asterisk user',
      currency: 'USD',
      ratecard_id: sellCard,
    });
    const res = await t.request('POST', '/api/v1/cdrs', {
      body: spellings.map(([spelled, extra], i) =>
        cdr(`spelled-${i}`, { ...extra, customer_id: switchUser.id, disposition: spelled }),
      ),
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.data.rejected, []);
    for (const [i, [spelled, , stored]] of spellings.entries()) {
      const row = (await t.request('GET', `/api/v1/cdrs?call_id=spelled-${i}`)).body.data[0];
      assert.equal(row.disposition, stored, spelled);
    }
  });

  test('a body in any other format is a 415, not an empty batch answered 200', async () => {
    for (const [type, payload] of [
      ['application/xml', '<cdrs><cdr><call_id>x1</call_id></cdr></cdrs>'],
      ['application/x-www-form-urlencoded', 'call_id=x1'],
      ['text/plain', 'hello'],
    ]) {
      const res = await t.request('POST', '/api/v1/cdrs', {
        body: payload,
        headers: { 'content-type': type! },
      });
      assert.equal(res.status, 415, `${type}: ${res.text}`);
      assert.equal(res.body.error.type, 'unsupported_media_type');
    }
  });

  test('periods up to 9999-12-31 are read and re-rated, not a 500', async () => {
    const everything = 'from=0001-01-01&to=9999-12-31';
    for (const url of [
      `/api/v1/cdrs?customer_id=${customer.id}&${everything}`,
      `/api/v1/cdrs/export.csv?customer_id=${customer.id}&${everything}`,
      `/api/v1/customers/${customer.id}/transactions?${everything}`,
    ]) {
      const res = await t.request('GET', url);
      assert.equal(res.status, 200, `${url}: ${res.text}`);
    }
    const rerate = await t.request('POST', '/api/v1/cdrs/rerate', {
      body: { customer_id: customer.id, from: '0001-01-01', to: '9999-12-31' },
    });
    assert.equal(rerate.status, 200, rerate.text);
    assert.equal(rerate.body.data.difference, '0', 'nothing changed, so nothing is posted');
  });

  test('a call that ends more than an hour past the server clock is rejected, not charged', async () => {
    const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
    const before = await balance();
    const res = await t.request('POST', '/api/v1/cdrs', {
      body: [
        // Local time sent as UTC by a switch two hours east of UTC.
        cdr('future-1', {
          start_time: inMinutes(119),
          answer_time: inMinutes(119),
          end_time: inMinutes(120),
        }),
        // A clock a few minutes fast is skew, not a wrong zone.
        cdr('future-2', { start_time: inMinutes(4), answer_time: inMinutes(4), end_time: inMinutes(5) }),
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.body.data.rejected.map((r: { index: number; param: string }) => [r.index, r.param]),
      [[0, 'end_time']],
    );
    assert.equal(res.body.data.accepted, 1);
    // Only the skewed call was charged: 60 s at 0.0123/min.
    assert.equal(new Decimal(before).minus(await balance()).toFixed(), '0.0123');
  });

  test('NDJSON is streamed; a truncated last line is one rejected record', async () => {
    const lines = [
      JSON.stringify(cdr('nd-1')),
      JSON.stringify(cdr('nd-2')),
      '{"call_id": "nd-3", "customer_',
    ];
    const res = await t.request('POST', '/api/v1/cdrs', {
      body: lines.join('\n'),
      headers: { 'content-type': 'application/x-ndjson' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.accepted, 2);
    assert.equal(res.body.data.rejected[0].index, 2);
    assert.match(res.body.data.rejected[0].reason, /malformed JSON/);
  });

  test('CSV is streamed; missing columns reject the file', async () => {
    const header = 'call_id,customer_id,caller,callee,start_time,answer_time,end_time,disposition';
    const row = `csv-1,${customer.id},15550001111,447700900123,2026-11-02 10:00:00,2026-11-02 10:00:05,2026-11-02 10:01:06,answered`;
    const ok = await t.request('POST', '/api/v1/cdrs', {
      body: `\uFEFF${header}\r\n${row}\r\n`,
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.data.rated, 1);
    const missing = await t.request('POST', '/api/v1/cdrs', {
      body: 'call_id,customer_id,caller\nx,y,z\n',
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(missing.status, 400);
    assert.match(missing.body.message, /missing the column 'callee'/);
    const unknown = await t.request('POST', '/api/v1/cdrs', {
      body: `${header},colour\n`,
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(unknown.status, 400);
  });

  test('a CSV row with more or fewer fields than the header is that record’s rejection', async () => {
    const header = 'call_id,customer_id,caller,callee,start_time,answer_time,end_time,disposition';
    const row = (id: string) =>
      `${id},${customer.id},15550001111,447700900123,2026-10-20 10:00:00,2026-10-20 10:00:05,2026-10-20 10:01:06,answered`;
    // (A day the re-rating and statistics tests below leave alone.) An unquoted comma in a field shifts every later field: the row must not be half read.
    const res = await t.request('POST', '/api/v1/cdrs', {
      body: `${header}\n${row('ragged-1')},extra\n${row('ragged-2')}\nragged-3,${customer.id}\n`,
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.accepted, 1);
    assert.deepEqual(
      res.body.data.rejected.map((r: { index: number }) => r.index),
      [0, 2],
    );
    for (const rejection of res.body.data.rejected)
      assert.match(rejection.reason, /^CSV: .*(length|columns)/i);
  });

  test('a multipart upload of a CSV file is accepted', async () => {
    const boundary = 'cdrboundary';
    const csv = `call_id,customer_id,caller,callee,start_time,end_time,disposition\nmp-1,${customer.id},1,447700900123,2026-11-02T10:00:00Z,2026-11-02T10:00:30Z,no_answer\n`;
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cdrs.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`;
    const res = await t.request('POST', '/api/v1/cdrs', {
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.accepted, 1);
  });

  test('a switch’s own CSV is read with columns: Asterisk’s Master.csv, without a header', async () => {
    const asterisk = await created('POST', '/api/v1/customers', {
      name: 'Asterisk PBX',
      currency: 'USD',
      ratecard_id: sellCard,
    });
    // On a day the statistics and re-rating tests leave alone.
    // accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,
    // duration,billsec,disposition,amaflags,uniqueid,userfield
    const line = (dst: string, times: string, seconds: string, disposition: string, uniqueid: string) =>
      `"${asterisk.account_number}","15550001111","${dst}","default","""Alice"" <15550001111>","SIP/1001-01","SIP/trunk-02","Dial","SIP/trunk/${dst},30",${times},${seconds},"${disposition}","DOCUMENTATION","${uniqueid}",""`;
    const master = [
      line(
        '442071234567',
        '"2026-10-21 10:00:00","2026-10-21 10:00:05","2026-10-21 10:01:06"',
        '66,61',
        'ANSWERED',
        '1762164000.1',
      ),
      line(
        '442071234568',
        '"2026-10-21 11:00:00","","2026-10-21 11:00:20"',
        '20,0',
        'NO ANSWER',
        '1762167600.2',
      ),
      line('442071234569', '"2026-10-21 12:00:00","","2026-10-21 12:00:02"', '2,0', 'BUSY', '1762171200.3'),
    ].join('\n');
    const columns =
      'account_number,caller,callee,-,-,-,-,-,-,start_time,answer_time,end_time,duration,billsec,disposition,-,call_id,-';
    const res = await postSwitchFile(columns, master);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.data.rejected, []);
    assert.equal(res.body.data.accepted, 3);
    // 61 s at UK London's 0.02/min, 1/1 increments: 0.020333 (6 decimals, half up).
    assert.deepEqual(
      res.body.data.charged.map((c: { customer_id: string; amount: string }) => [c.customer_id, c.amount]),
      [[asterisk.id, '0.020333']],
    );
    const stored = (await t.request('GET', `/api/v1/cdrs?customer_id=${asterisk.id}`)).body.data;
    assert.deepEqual(
      stored.map((c: { call_id: string; disposition: string; billsec: number }) => [
        c.call_id,
        c.disposition,
        c.billsec,
      ]),
      [
        ['1762164000.1', 'answered', 61],
        ['1762167600.2', 'no_answer', 0],
        ['1762171200.3', 'busy', 0],
      ],
    );
    // The same way over a file that has a header row: the header is skipped (header defaults to true).
    const withHeader = await t.request(
      'POST',
      '/api/v1/cdrs?columns=call_id,-,account_number,caller,callee,start_time,end_time,disposition&delimiter=;',
      {
        body: `uniqueid;x;acct;src;dst;start;end;disp\nhdr-1;?;${asterisk.account_number};1;15550001234;2026-10-21 13:00:00;2026-10-21 13:00:30;FAILED\n`,
        headers: { 'content-type': 'text/csv' },
      },
    );
    assert.equal(withHeader.status, 200, withHeader.text);
    assert.equal(withHeader.body.data.accepted, 1, withHeader.text);
  });

  test('without a disposition, the times and the hangup cause tell it: FreeSWITCH’s CSV as it stands', async () => {
    const freeswitch = await created('POST', '/api/v1/customers', {
      name: 'FreeSWITCH PBX',
      currency: 'USD',
      ratecard_id: sellCard,
    });
    // mod_cdr_csv's default template: caller_id_name, caller_id_number, destination_number,
    // context, start_stamp, answer_stamp, end_stamp, duration, billsec, hangup_cause, uuid,
    // bleg_uuid, accountcode, read_codec, write_codec. On a day the other tests leave alone.
    const line = (dst: string, answer: string, end: string, seconds: string, cause: string, uuid: string) =>
      `"Alice","15550001111","${dst}","default","2026-10-22 10:00:00","${answer}","${end}",${seconds},"${cause}","${uuid}","","${freeswitch.account_number}","PCMA","PCMA"`;
    const csv = [
      line('442071234567', '2026-10-22 10:00:05', '2026-10-22 10:01:06', '66,61', 'NORMAL_CLEARING', 'fs-1'),
      line('442071234568', '', '2026-10-22 10:00:20', '20,0', 'NO_ANSWER', 'fs-2'),
      line('442071234569', '', '2026-10-22 10:00:02', '2,0', 'USER_BUSY', 'fs-3'),
      line('442071234570', '', '2026-10-22 10:00:03', '3,0', 'ORIGINATOR_CANCEL', 'fs-4'),
      line('442071234571', '', '2026-10-22 10:00:01', '1,0', 'NO_ROUTE_DESTINATION', 'fs-5'),
      line('442071234572', '', '2026-10-22 10:00:01', '1,0', '', 'fs-6'),
    ].join('\n');
    const columns =
      '-,caller,callee,-,start_time,answer_time,end_time,duration,billsec,hangup_cause,call_id,-,account_number,-,-';
    const res = await postSwitchFile(columns, csv);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.accepted, 5);
    // Unanswered and without a cause, nothing tells what happened to the call.
    assert.deepEqual(
      res.body.data.rejected.map((r: { index: number; param: string }) => [r.index, r.param]),
      [[5, 'disposition']],
    );
    const stored = (await t.request('GET', `/api/v1/cdrs?customer_id=${freeswitch.id}`)).body.data;
    assert.deepEqual(
      stored.map((c: { call_id: string; disposition: string; hangup_cause: string }) => [
        c.call_id,
        c.disposition,
        c.hangup_cause,
      ]),
      [
        ['fs-1', 'answered', 'NORMAL_CLEARING'],
        ['fs-2', 'no_answer', 'NO_ANSWER'],
        ['fs-3', 'busy', 'USER_BUSY'],
        ['fs-4', 'cancelled', 'ORIGINATOR_CANCEL'],
        ['fs-5', 'failed', 'NO_ROUTE_DESTINATION'],
      ],
    );
    // A disposition given is what counts, whatever the cause says.
    const given = await t.request('POST', '/api/v1/cdrs', {
      body: [
        cdr('given-1', {
          customer_id: freeswitch.id,
          start_time: '2026-10-22T11:00:00Z',
          answer_time: null,
          end_time: '2026-10-22T11:00:09Z',
          disposition: 'no_answer',
          hangup_cause: '486',
        }),
      ],
    });
    assert.equal(given.body.data.accepted, 1, given.text);
    const row = (await t.request('GET', '/api/v1/cdrs?call_id=given-1')).body.data[0];
    assert.equal(row.disposition, 'no_answer');
    // Call ids are unique per switch: the same one from another switch is another call.
    const otherSwitch = await t.request('POST', '/api/v1/cdrs', {
      body: [
        {
          ...cdr('given-1', {
            customer_id: freeswitch.id,
            start_time: '2026-10-22T12:00:00Z',
            answer_time: null,
            end_time: '2026-10-22T12:00:09Z',
            disposition: 'busy',
          }),
          switch_id: 'fs-b',
        },
      ],
    });
    assert.equal(otherSwitch.body.data.accepted, 1, otherSwitch.text);
    const byCallId = (await t.request('GET', '/api/v1/cdrs?call_id=given-1')).body.data;
    assert.deepEqual(byCallId.map((c: { switch_id: string }) => c.switch_id).sort(), ['default', 'fs-b']);
    const bySwitch = (await t.request('GET', '/api/v1/cdrs?call_id=given-1&switch_id=fs-b')).body.data;
    assert.deepEqual(
      bySwitch.map((c: { disposition: string }) => c.disposition),
      ['busy'],
    );
    const exported = await t.request('GET', '/api/v1/cdrs/export.csv?switch_id=fs-b');
    assert.equal(exported.text.trim().split('\n').length, 2, exported.text);
    assert.equal((await t.request('GET', '/api/v1/cdrs?switch_id=a%20b')).status, 400);
  });

  test('a bad CSV layout is a 400 for the request, and nothing is stored', async () => {
    const all = 'call_id,customer_id,caller,callee,start_time,end_time';
    const cases: Array<[string, string, string, string]> = [
      ['columns=call_id,caller,callee,dst', 'text/csv', 'columns', "unknown column 'dst'"],
      [`columns=call_id,${all},disposition`, 'text/csv', 'columns', "'call_id' twice"],
      [`columns=${all}`, 'text/csv', 'columns', "needs a 'disposition' column, or 'hangup_cause'"],
      ['header=false', 'text/csv', 'header', 'needs columns'],
      ['columns=call_id', 'application/json', 'columns', 'describe a CSV'],
      ['delimiter=;', 'application/x-ndjson', 'columns', 'describe a CSV'],
    ];
    for (const [query, type, param, reason] of cases) {
      const body =
        type === 'application/json'
          ? JSON.stringify([cdr('layout-x')])
          : `${JSON.stringify(cdr('layout-x'))}\n`;
      const res = await t.request('POST', `/api/v1/cdrs?${query}`, {
        body,
        headers: { 'content-type': type },
      });
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.body.error.param, param, query);
      assert.ok(res.body.message.includes(reason), `${query}: ${res.body.message}`);
    }
    assert.equal((await t.request('GET', '/api/v1/cdrs?call_id=layout-x')).body.data.length, 0);
  });

  test('a 200,000-record batch is refused with 413 without reading it all, and stores nothing', async () => {
    const line = JSON.stringify(cdr('big-0'));
    const body = Array.from({ length: 200_000 }, (_, i) => line.replace('big-0', `big-${i}`)).join('\n');
    const res = await t.request('POST', '/api/v1/cdrs', {
      body,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    assert.equal(res.status, 413);
    assert.equal((await t.request('GET', '/api/v1/cdrs?call_id=big-1')).body.data.length, 0);
  });

  test('a customer key cannot post CDRs and reads only its own', async () => {
    const other = await created('POST', '/api/v1/customers', {
      name: 'Other',
      currency: 'USD',
      ratecard_id: sellCard,
    });
    await t.request('POST', '/api/v1/cdrs', { body: [cdr('other-1', { customer_id: other.id })] });
    const key = (await created('POST', '/api/v1/api-keys', { role: 'customer', customer_id: other.id })).key;
    assert.equal((await t.request('POST', '/api/v1/cdrs', { key, body: [cdr('self-post')] })).status, 403);
    const list = await t.request('GET', '/api/v1/cdrs?limit=100', { key });
    assert.deepEqual(
      list.body.data.map((c: { call_id: string }) => c.call_id),
      ['other-1'],
    );
    assert.equal(list.body.data[0].buy_cost, undefined, 'carrier costs are not shown to customers');
  });

  test('one CDR is read by its id, and only by a key that may read it', async () => {
    const mine = (await t.request('GET', '/api/v1/cdrs?call_id=c9')).body.data[0];
    assert.match(mine.links.self, new RegExp(`^http://[^/]+/api/v1/cdrs/${mine.id}$`));
    const read = await t.request('GET', `/api/v1/cdrs/${mine.id}`);
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body.data, mine);
    const ownKey = (await created('POST', '/api/v1/api-keys', { role: 'customer', customer_id: customer.id }))
      .key;
    const own = await t.request('GET', `/api/v1/cdrs/${mine.id}`, { key: ownKey });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.body.data.buy_cost, undefined, 'carrier costs are not shown to customers');
    const other = await created('POST', '/api/v1/customers', { name: 'Nosy', currency: 'USD' });
    const otherKey = (await created('POST', '/api/v1/api-keys', { role: 'customer', customer_id: other.id }))
      .key;
    const nosy = await t.request('GET', `/api/v1/cdrs/${mine.id}`, { key: otherKey });
    assert.equal(nosy.status, 404, nosy.text);
    assert.equal((await t.request('GET', '/api/v1/cdrs/cdr_01aaaaaaaaaaaaaaaaaaaaaaaa')).status, 404);
    const malformed = await t.request('GET', '/api/v1/cdrs/cus_01aaaaaaaaaaaaaaaaaaaaaaaa');
    assert.equal(malformed.status, 400, malformed.text);
    assert.equal(malformed.body.error.param, 'id');
  });

  test('a filter naming an account must be an id of its kind, and call_id must not be empty', async () => {
    // These answered an empty list (or, for call_id=, every CDR), which reads as "no calls".
    for (const [query, param] of [
      ['customer_id=zzz', 'customer_id'],
      [`customer_id=${carrier}`, 'customer_id'],
      [`carrier_id=${customer.id}`, 'carrier_id'],
      ['call_id=', 'call_id'],
    ]) {
      for (const path of ['/api/v1/cdrs', '/api/v1/cdrs/export.csv']) {
        const res = await t.request('GET', `${path}?${query}`);
        assert.equal(res.status, 400, `${path}?${query}: ${res.text}`);
        assert.equal(res.body.error.param, param, query);
      }
    }
  });

  test('export.csv streams the filtered CDRs', async () => {
    const res = await t.request('GET', `/api/v1/cdrs/export.csv?customer_id=${customer.id}&disposition=busy`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/csv/);
    const lines = res.text.trim().split('\n');
    assert.match(lines[0]!, /^id,switch_id,call_id/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /,c4,/);
  });

  test('times outside the years 0001–9999 or on days that do not exist are a 400 (or a rejected record) wherever a time is read', async () => {
    // Year 0000, and year 10000 once the offset is applied: PostgreSQL refused both with a 500.
    // 30 February: a CDR took it as 1 March (new Date() rolls days over), other routes refused it.
    for (const time of ['0000-01-01T00:00:00Z', '9999-12-31T23:30:00-05:00', '2026-02-30T10:00:00Z']) {
      const at = encodeURIComponent(time);
      const batch = await t.request('POST', '/api/v1/cdrs', {
        body: [
          cdr(`far-${time}`, { start_time: time, end_time: time, answer_time: null, disposition: 'busy' }),
        ],
      });
      assert.equal(batch.status, 200, batch.text);
      assert.equal(batch.body.data.rejected[0].param, 'start_time');
      const reads: [string, string][] = [
        [`/api/v1/rates/lookup?number=44&ratecard_id=${sellCard}&at=${at}`, 'at'],
        [`/api/v1/ratecards/${sellCard}/export.csv?at=${at}`, 'at'],
        [`/api/v1/customers/${customer.id}/transactions?from=${at}`, 'from'],
        [`/api/v1/stats/calls?group_by=customer&from=2026-01-01&to=${at}`, 'to'],
      ];
      for (const [url, param] of reads) {
        const res = await t.request('GET', url);
        assert.equal(res.status, 400, `${url}: ${res.text}`);
        assert.equal(res.body.error.param, param, url);
      }
      const writes: [string, Record<string, unknown>, string][] = [
        [
          `/api/v1/ratecards/${sellCard}/rates`,
          { prefix: '999', rate: '1', effective_from: time },
          'effective_from',
        ],
        [
          '/api/v1/calls/authorize',
          { customer_id: customer.id, caller: '1', callee: '4420', at: time },
          'at',
        ],
        ['/api/v1/api-keys', { role: 'customer', customer_id: customer.id, expires_at: time }, 'expires_at'],
      ];
      for (const [url, body, param] of writes) {
        const res = await t.request('POST', url, { body });
        assert.equal(res.status, 400, `${url}: ${res.text}`);
        assert.equal(res.body.error.param, param, url);
      }
    }
  });

  test('the operator’s export carries the carrier leg and margin; other keys’ exports do not', async () => {
    const admin = await t.request('GET', '/api/v1/cdrs/export.csv?call_id=c9');
    assert.equal(admin.status, 200, admin.text);
    const [header, row] = admin.text.trim().split('\n');
    assert.match(header!, /,cost,carrier_id,buy_rate,buy_cost,buy_currency,margin$/);
    const json = (await t.request('GET', '/api/v1/cdrs?call_id=c9')).body.data[0];
    assert.ok(row!.endsWith(`,${carrier},${json.buy_rate},${json.buy_cost},USD,${json.margin}`), row);
    const key = (await created('POST', '/api/v1/api-keys', { role: 'customer', customer_id: customer.id }))
      .key;
    const own = await t.request('GET', '/api/v1/cdrs/export.csv?disposition=answered', { key });
    assert.equal(own.status, 200, own.text);
    assert.match(own.text.split('\n')[0]!, /,cost$/);
    assert.ok(!own.text.includes(carrier));
  });

  test('export.csv answers a bad filter in the JSON envelope, not as a CSV', async () => {
    const res = await t.request('GET', '/api/v1/cdrs/export.csv?caller_prefix=abc');
    assert.equal(res.status, 400, res.text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['content-disposition'], undefined);
    assert.equal(res.body.error.param, 'caller_prefix');
  });
});

describe('re-rating', () => {
  test('a rate correction posts exactly the difference, once', async () => {
    const before = new Decimal(await balance());
    const patched = await t.request('PATCH', `/api/v1/rates/${rateIds.uk}`, { body: { rate: '0.0246' } });
    assert.equal(patched.status, 200, patched.text);
    const body = { customer_id: customer.id, from: '2026-11-02', to: '2026-11-02' };
    const first = await t.request('POST', '/api/v1/cdrs/rerate', { body });
    assert.equal(first.status, 200, first.text);
    // Every 44-prefix call (c1, c9, the 20 race calls, nd-1, nd-2, csv-1) doubles in price.
    const doubled = new Decimal('0.01353').times(25);
    assert.equal(first.body.data.difference, doubled.toFixed());
    assert.equal(before.minus(await balance()).toFixed(), doubled.toFixed());
    const second = await t.request('POST', '/api/v1/cdrs/rerate', { body });
    assert.equal(second.body.data.difference, '0');
    assert.equal(second.body.data.transaction_id, null);
  });

  test('a longer prefix at the same price moves the CDRs to it (prefix, destination, stats) and posts nothing', async () => {
    // The same price and increments as 44 after the correction above: no charge changes.
    await addRate(sellCard, {
      prefix: '4477',
      destination: 'UK Mobile',
      rate: '0.0246',
      initial_increment: 60,
      increment: 6,
    });
    const body = { customer_id: customer.id, from: '2026-11-02', to: '2026-11-02' };
    const res = await t.request('POST', '/api/v1/cdrs/rerate', { body });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.difference, '0');
    assert.equal(res.body.data.transaction_id, null);
    assert.ok(res.body.data.changed > 0, res.text);
    const c1 = (await t.request('GET', '/api/v1/cdrs?call_id=c1')).body.data[0];
    assert.deepEqual([c1.prefix, c1.destination], ['4477', 'UK Mobile']);
    const url = (groupBy: string) => `/api/v1/stats/calls?from=2026-11-02&to=2026-11-02&group_by=${groupBy}`;
    for (const [groupBy, group] of [
      ['prefix', '4477'],
      ['destination', 'UK Mobile'],
    ]) {
      const stats = await t.request('GET', url(groupBy!));
      assert.ok(
        stats.body.data.some((row: { group: string }) => row.group === group),
        `${groupBy}: ${stats.text}`,
      );
    }
    // Once moved, nothing is left to change.
    assert.equal((await t.request('POST', '/api/v1/cdrs/rerate', { body })).body.data.changed, 0);
  });

  test('a CDR one partner’s switch sent naming another tenant’s customer is never charged to it', async () => {
    const day = {
      start_time: '2026-10-23T10:00:00Z',
      answer_time: '2026-10-23T10:00:05Z',
      end_time: '2026-10-23T10:01:06Z',
    };
    const rerate = (customerId: string, key?: string) =>
      t.request('POST', '/api/v1/cdrs/rerate', {
        body: { customer_id: customerId, from: '2026-10-23', to: '2026-10-23' },
        ...(key ? { key } : {}),
      });
    const partnerP = await created('POST', '/api/v1/partners', { name: 'Partner P', currency: 'USD' });
    const partnerQ = await created('POST', '/api/v1/partners', { name: 'Partner Q', currency: 'USD' });
    const keyP = (await created('POST', '/api/v1/api-keys', { role: 'partner', partner_id: partnerP.id }))
      .key;
    const keyQ = (await created('POST', '/api/v1/api-keys', { role: 'partner', partner_id: partnerQ.id }))
      .key;
    const ofQ = await created('POST', '/api/v1/customers', {
      name: 'Q’s customer',
      partner_id: partnerQ.id,
      ratecard_id: sellCard,
    });
    const direct = await created('POST', '/api/v1/customers', {
      name: 'Operator’s customer',
      currency: 'USD',
      ratecard_id: sellCard,
    });
    // P's switch names Q's customer and the operator's: P cannot see them, so they are kept as
    // P's unrated CDRs. It also names an account P opens only afterwards.
    const posted = await t.request('POST', '/api/v1/cdrs', {
      key: keyP,
      body: [
        cdr('p-names-q', { ...day, customer_id: ofQ.id }),
        cdr('p-names-direct', { ...day, customer_id: undefined, account_number: direct.account_number }),
        cdr('p-names-later', { ...day, customer_id: undefined, account_number: 'P-LATER-1' }),
      ],
    });
    assert.equal(posted.status, 200, posted.text);
    assert.equal(posted.body.data.unrated, 3, posted.text);
    const later = await created('POST', '/api/v1/customers', {
      name: 'Opened later',
      partner_id: partnerP.id,
      account_number: 'P-LATER-1',
      ratecard_id: sellCard,
    });
    for (const [customerId, key] of [
      [ofQ.id, undefined],
      [ofQ.id, keyQ],
      [direct.id, undefined],
    ] as const) {
      const res = await rerate(customerId, key);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data.examined, 0, `${customerId}: ${res.text}`);
      assert.equal(res.body.data.transaction_id, null);
      assert.equal(await balance(customerId), '0');
    }
    // The account P opened itself is P's to charge: its CDR is rated now.
    const own = await rerate(later.id, keyP);
    assert.equal(own.status, 200, own.text);
    assert.equal(own.body.data.rated, 1, own.text);
    const claimed = (await t.request('GET', '/api/v1/cdrs?call_id=p-names-later', { key: keyP })).body
      .data[0];
    assert.equal(claimed.customer_id, later.id);
    assert.ok(new Decimal(claimed.charged).gt(0));
    assert.equal(own.body.data.difference, claimed.charged);
    const stillP = (await t.request('GET', '/api/v1/cdrs?call_id=p-names-q', { key: keyP })).body.data;
    assert.deepEqual(
      stillP.map((c: { rating_state: string }) => c.rating_state),
      ['unrated'],
    );
  });
});

describe('call authorization', () => {
  const authorize = (body: Record<string, unknown>, key?: string) =>
    t.request('POST', '/api/v1/calls/authorize', {
      body: { customer_id: customer.id, caller: '15550001111', ...body },
      ...(key ? { key } : {}),
    });

  test('answers how long the available balance lasts at the rate, and the carriers', async () => {
    const res = await authorize({ callee: '15550009999' });
    assert.equal(res.status, 200, res.text);
    const answer = res.body.data;
    assert.equal(answer.authorized, true);
    assert.equal(answer.rate.prefix, '1');
    // available / 0.005 per minute, in whole 6 s steps, capped at 3 h.
    const available = new Decimal(answer.available);
    const expected = Math.min(10_800, available.times(60).dividedBy('0.005').floor().toNumber());
    assert.equal(answer.max_duration_seconds, expected - (expected % 6));
    const uk = await authorize({ callee: '447700900123' });
    assert.deepEqual(
      uk.body.data.carriers.map((c: { carrier_id: string }) => c.carrier_id),
      [carrier],
    );
  });

  test('offers only carriers whose buy card is in the sell card’s currency, as LCR does (no exchange rates)', async () => {
    const euroCard = (
      await created('POST', '/api/v1/ratecards', { name: 'Carrier EUR', currency: 'EUR', direction: 'buy' })
    ).id;
    // Cheaper in raw numbers than Carrier A's USD 0.006: ranked by the number, it came first.
    await addRate(euroCard, { prefix: '44', destination: 'UK', rate: '0.001' });
    const euro = (await created('POST', '/api/v1/carriers', { name: 'Carrier EUR', ratecard_id: euroCard }))
      .id;
    try {
      const answer = (await authorize({ callee: '447700900123' })).body.data;
      assert.deepEqual(
        answer.carriers.map((c: { carrier_id: string }) => c.carrier_id),
        [carrier],
      );
      const lcr = await t.request('GET', `/api/v1/routes/lcr?number=447700900123&customer_id=${customer.id}`);
      assert.equal(lcr.status, 200, lcr.text);
      assert.deepEqual(lcr.body.data.excluded_other_currency, [euro]);
    } finally {
      await t.request('PATCH', `/api/v1/carriers/${euro}`, { body: { status: 'inactive' } });
    }
  });

  test('refuses with a reason: no rate, blocked, suspended, no funds', async () => {
    const noRate = (await authorize({ callee: '999999' })).body.data;
    assert.equal(noRate.reason, 'no_rate');
    // The customer's funds are reported whatever the refusal ("0" read as "no funds").
    assert.equal(noRate.available, (await authorize({ callee: '15550009999' })).body.data.available);
    assert.ok(new Decimal(noRate.available).gt(0));
    assert.equal((await authorize({ callee: '8821234' })).body.data.reason, 'blocked_destination');
    const broke = await created('POST', '/api/v1/customers', {
      name: 'Broke',
      currency: 'USD',
      ratecard_id: sellCard,
    });
    assert.equal(
      (await authorize({ customer_id: broke.id, callee: '15550001234' })).body.data.reason,
      'insufficient_funds',
    );
    await t.request('PATCH', `/api/v1/customers/${broke.id}`, { body: { status: 'suspended' } });
    assert.equal(
      (await authorize({ customer_id: broke.id, callee: '15550001234' })).body.data.reason,
      'account_suspended',
    );
    const bad = await authorize({ callee: 'abc' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, 'callee');
  });

  test('a suspended or closed partner’s customers are refused (account_suspended), at once and until it is re-activated; they still read, and their CDRs are still charged', async () => {
    const partner = await created('POST', '/api/v1/partners', { name: 'Late Payer', currency: 'USD' });
    const partnerKey = (
      await created('POST', '/api/v1/api-keys', { role: 'partner', partner_id: partner.id })
    ).key;
    const resold = await created('POST', '/api/v1/customers', {
      name: 'Resold',
      partner_id: partner.id,
      ratecard_id: sellCard,
    });
    await created('POST', `/api/v1/customers/${resold.id}/adjustments`, {
      amount: '-10',
      description: 'opening credit',
    });
    const customerKey = (
      await created('POST', '/api/v1/api-keys', { role: 'customer', customer_id: resold.id })
    ).key;
    const call = { customer_id: resold.id, callee: '15550001234' };
    const reasons = async () =>
      Promise.all([
        authorize(call),
        authorize(call, partnerKey),
        authorize({ callee: '15550001234', customer_id: undefined }, customerKey),
        authorize({ callee: '15550001234' }),
      ]).then((answers) =>
        answers.map((res) => {
          assert.equal(res.status, 200, res.text);
          return res.body.data.reason;
        }),
      );
    const setPartner = async (status: string) => {
      const res = await t.request('PATCH', `/api/v1/partners/${partner.id}`, { body: { status } });
      assert.equal(res.status, 200, res.text);
    };
    // Admin, the partner's key and the customer's own key; last, a customer of no partner.
    assert.deepEqual(await reasons(), [null, null, null, null]);
    await setPartner('suspended');
    assert.deepEqual(await reasons(), ['account_suspended', 'account_suspended', 'account_suspended', null]);
    const refused = (await authorize(call)).body.data;
    assert.equal(refused.authorized, false);
    assert.equal(refused.max_duration_seconds, 0);
    assert.equal(refused.available, '10');
    // Reading is not spending: the keys under a suspended partner still read.
    const read = await t.request('GET', `/api/v1/customers/${resold.id}`, { key: customerKey });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.data.status, 'active', "the customer's own status is unchanged");
    assert.equal((await t.request('GET', `/api/v1/partners/${partner.id}`, { key: partnerKey })).status, 200);
    // A call that already happened is still charged.
    const charged = await t.request('POST', '/api/v1/cdrs', {
      body: [cdr('resold-while-suspended', { customer_id: resold.id, callee: '15550001234' })],
    });
    assert.equal(charged.status, 200, charged.text);
    assert.equal(charged.body.data.charged.length, 1, charged.text);
    const left = new Decimal(10).minus(charged.body.data.charged[0].amount).toFixed();
    assert.equal(await balance(resold.id), left);
    // Re-activated: authorized again, no restart.
    await setPartner('active');
    assert.deepEqual(await reasons(), [null, null, null, null]);
    assert.equal((await authorize(call)).body.data.available, left);
    await setPartner('closed');
    assert.deepEqual(await reasons(), ['account_suspended', 'account_suspended', 'account_suspended', null]);
  });

  test('a concurrent-call limit counts live calls until they end', async () => {
    await t.request('PATCH', `/api/v1/customers/${customer.id}`, { body: { concurrent_call_limit: 1 } });
    const start = await t.request('POST', '/api/v1/calls/live-1/start', {
      body: { customer_id: customer.id, callee: '15550001234' },
    });
    assert.equal(start.status, 201, start.text);
    assert.equal((await authorize({ callee: '15550001234' })).body.data.reason, 'concurrent_limit');
    const second = await t.request('POST', '/api/v1/calls/live-2/start', {
      body: { customer_id: customer.id, callee: '15550001234' },
    });
    assert.equal(second.status, 409);
    assert.equal((await t.request('POST', '/api/v1/calls/live-1/end')).status, 200);
    assert.equal((await authorize({ callee: '15550001234' })).body.data.authorized, true);
    assert.equal((await t.request('POST', '/api/v1/calls/live-1/end')).status, 404);
  });

  test('a call id two customers’ calls share is ended for the customer named, never for both', async () => {
    const first = await created('POST', '/api/v1/customers', { name: 'First PBX', currency: 'USD' });
    const other = await created('POST', '/api/v1/customers', { name: 'Second PBX', currency: 'USD' });
    for (const customerId of [first.id, other.id]) {
      const started = await t.request('POST', '/api/v1/calls/1761300000.7/start', {
        body: { customer_id: customerId, callee: '15550001234' },
      });
      assert.equal(started.status, 201, started.text);
    }
    const unnamed = await t.request('POST', '/api/v1/calls/1761300000.7/end');
    assert.equal(unnamed.status, 409, unnamed.text);
    assert.equal(unnamed.body.error.param, 'customer_id');
    const named = await t.request('POST', '/api/v1/calls/1761300000.7/end', {
      body: { account_number: other.account_number },
    });
    assert.equal(named.status, 200, named.text);
    assert.equal(named.body.data.customer_id, other.id);
    // The other customer's call is still live; now the only one, it ends without a name.
    const last = await t.request('POST', '/api/v1/calls/1761300000.7/end');
    assert.equal(last.status, 200, last.text);
    assert.equal(last.body.data.customer_id, first.id);
    const otherKey = (await created('POST', '/api/v1/api-keys', { role: 'customer', customer_id: other.id }))
      .key;
    const foreign = await t.request('POST', '/api/v1/calls/1761300000.7/end', {
      key: otherKey,
      body: { customer_id: first.id },
    });
    assert.equal(foreign.status, 404, foreign.text);
  });

  test('calls in progress are listed for whoever may see them, paged, until they end or expire', async () => {
    const partner = await created('POST', '/api/v1/partners', { name: 'Live Reseller', currency: 'USD' });
    const partnerKey = (
      await created('POST', '/api/v1/api-keys', { role: 'partner', partner_id: partner.id })
    ).key;
    const mine = await created(
      'POST',
      '/api/v1/customers',
      { name: 'Live A', partner_id: partner.id },
      partnerKey,
    );
    const direct = await created('POST', '/api/v1/customers', { name: 'Live B', currency: 'USD' });
    const start = async (callId: string, customerId: string, extra: Record<string, unknown> = {}) => {
      const res = await t.request('POST', `/api/v1/calls/${callId}/start`, {
        body: { customer_id: customerId, callee: '+1 555 000 1234', ...extra },
      });
      assert.equal(res.status, 201, res.text);
      return res.body.data;
    };
    const first = await start('list-1', mine.id);
    const second = await start('list-2', mine.id);
    const short = await start('list-3', mine.id, { max_duration_seconds: 1 });
    const others = await start('list-1', direct.id);
    assert.match(first.id, /^lcl_/);
    assert.equal(first.callee, '15550001234');
    assert.match(first.links.self, new RegExp(`^http://[^/]+/api/v1/calls/${first.id}$`));

    const ids = async (url: string, key?: string) => {
      const res = await t.request('GET', url, key ? { key } : {});
      assert.equal(res.status, 200, res.text);
      return res.body;
    };
    const byPartner = await ids('/api/v1/calls', partnerKey);
    assert.deepEqual(
      byPartner.data.map((call: { id: string }) => call.id),
      [first.id, second.id, short.id],
    );
    const admin = await ids(`/api/v1/calls?customer_id=${direct.id}`);
    assert.deepEqual(
      admin.data.map((call: { id: string }) => call.id),
      [others.id],
    );
    const firstPage = await ids('/api/v1/calls?limit=2', partnerKey);
    assert.equal(firstPage.meta.has_more, true);
    const secondPage = await ids(
      `/api/v1/calls?limit=2&starting_after=${firstPage.meta.next_cursor}`,
      partnerKey,
    );
    assert.deepEqual(
      [...firstPage.data, ...secondPage.data].map((call: { id: string }) => call.id),
      [first.id, second.id, short.id],
    );
    assert.equal((await t.request('GET', `/api/v1/calls/${others.id}`, { key: partnerKey })).status, 404);
    assert.equal((await ids(`/api/v1/calls?customer_id=${direct.id}`, partnerKey)).data.length, 0);

    await t.request('POST', '/api/v1/calls/list-2/end', { body: { customer_id: mine.id } });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.deepEqual(
      (await ids('/api/v1/calls', partnerKey)).data.map((call: { id: string }) => call.id),
      [first.id],
      'an ended call and an expired one are no longer in progress',
    );
    assert.equal((await t.request('GET', `/api/v1/calls/${short.id}`)).status, 404);
    assert.equal((await ids(`/api/v1/calls/${first.id}`)).data.call_id, 'list-1');

    const wrongCursor = await t.request('GET', `/api/v1/calls?starting_after=${mine.id}`);
    assert.equal(wrongCursor.status, 400, wrongCursor.text);
    assert.equal(wrongCursor.body.error.param, 'starting_after');
  });
});

describe('naming the caller and the call', () => {
  test('customer_id and account_number together are a 400 (which account was meant is a guess)', async () => {
    const other = await created('POST', '/api/v1/customers', { name: 'Namesake', currency: 'USD' });
    const both = { customer_id: customer.id, account_number: other.account_number, callee: '15550001234' };
    const answers = [
      await t.request('POST', '/api/v1/calls/authorize', { body: { ...both, caller: '15550001111' } }),
      await t.request('POST', '/api/v1/calls/both-1/start', { body: both }),
    ];
    for (const res of answers) {
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.error.param, 'account_number');
    }
    assert.equal((await t.request('POST', '/api/v1/calls/both-1/end')).status, 404, 'no call was started');
  });

  test('a malformed call id says what a call id is', async () => {
    const spaced = await t.request('POST', '/api/v1/calls/a%20b/start', {
      body: { customer_id: customer.id, callee: '15550001234' },
    });
    assert.equal(spaced.status, 400, spaced.text);
    assert.equal(spaced.body.error.param, 'call_id');
    assert.match(spaced.body.error.reason, /1 to 128 printable ASCII characters/);
    const listed = await t.request('GET', '/api/v1/cdrs?call_id=a%20b');
    assert.equal(listed.status, 400, listed.text);
    assert.match(listed.body.error.reason, /1 to 128 printable ASCII characters/);
  });
});

describe('statistics', () => {
  test('calls by carrier (stats, CDR filters) are the operator’s alone, as carrier ids on CDRs are', async () => {
    const url = '/api/v1/stats/calls?from=2026-11-02&to=2026-11-02&group_by=carrier';
    const admin = await t.request('GET', url);
    assert.equal(admin.status, 200, admin.text);
    assert.ok(admin.body.data.some((row: { group: string }) => row.group === carrier));
    const partner = await created('POST', '/api/v1/partners', { name: 'Curious reseller', currency: 'USD' });
    const keys = [
      (await created('POST', '/api/v1/api-keys', { role: 'partner', partner_id: partner.id })).key,
      (await created('POST', '/api/v1/api-keys', { role: 'customer', customer_id: customer.id })).key,
    ];
    for (const key of keys) {
      const res = await t.request('GET', url, { key });
      assert.equal(res.status, 403, res.text);
      assert.ok(!res.text.includes(carrier));
      // Other groupings still answer, for the key's own calls.
      assert.equal((await t.request('GET', url.replace('carrier', 'destination'), { key })).status, 200);
      // Nor may those keys filter CDRs by carrier, in the list or the export.
      for (const path of ['/api/v1/cdrs', '/api/v1/cdrs/export.csv']) {
        const filtered = await t.request('GET', `${path}?carrier_id=${carrier}`, { key });
        assert.equal(filtered.status, 403, `${path}: ${filtered.text}`);
      }
    }
  });

  test('money is never added across currencies: groups split by currency, other-currency buy costs left out', async () => {
    const card = async (currency: string, direction: string, rate: string) => {
      const id = (
        await created('POST', '/api/v1/ratecards', {
          name: `Stats ${currency} ${direction}`,
          currency,
          direction,
        })
      ).id;
      await addRate(id, { prefix: '44', destination: 'UK', rate, initial_increment: 1, increment: 1 });
      return id;
    };
    const customerIn = async (currency: string, rate: string) =>
      created('POST', '/api/v1/customers', {
        name: `Stats ${currency}`,
        currency,
        ratecard_id: await card(currency, 'sell', rate),
      });
    const euros = await customerIn('EUR', '1');
    const dollars = await customerIn('USD', '2');
    const euroCarrier = (
      await created('POST', '/api/v1/carriers', {
        name: 'Stats EUR',
        ratecard_id: await card('EUR', 'buy', '0.5'),
      })
    ).id;
    const day = {
      start_time: '2026-11-05T10:00:00Z',
      answer_time: '2026-11-05T10:00:00Z',
      end_time: '2026-11-05T10:01:00Z',
      carrier_id: euroCarrier,
    };
    const posted = await t.request('POST', '/api/v1/cdrs', {
      body: [
        cdr('stats-eur', { ...day, customer_id: euros.id }),
        // Carried by a EUR carrier for a USD customer: no margin, and its EUR cost is no USD cost.
        cdr('stats-usd', { ...day, customer_id: dollars.id }),
      ],
    });
    assert.equal(posted.body.data.rated, 2, posted.text);
    const money = (rows: Record<string, string>[]) =>
      rows.map((row) => [row.group, row.currency, row.attempts, row.revenue, row.cost, row.margin]);
    const stats = async (groupBy: string) =>
      (await t.request('GET', `/api/v1/stats/calls?from=2026-11-05&to=2026-11-05&group_by=${groupBy}`)).body
        .data;
    // From the CDRs (prefix) and from the hourly rollup (carrier: whole hours).
    assert.deepEqual(money(await stats('prefix')), [
      ['44', 'EUR', 1, '1', '0.5', '0.5'],
      ['44', 'USD', 1, '2', '0', '0'],
    ]);
    assert.deepEqual(money(await stats('carrier')), [
      [euroCarrier, 'EUR', 1, '1', '0.5', '0.5'],
      [euroCarrier, 'USD', 1, '2', '0', '0'],
    ]);
  });

  test('ASR, NER, ACD and money per customer', async () => {
    const res = await t.request('GET', '/api/v1/stats/calls?from=2026-11-02&to=2026-11-02&group_by=customer');
    assert.equal(res.status, 200, res.text);
    const row = res.body.data.find((r: { group: string }) => r.group === customer.id);
    assert.ok(row.attempts >= 6);
    assert.equal(Number(row.asr) > 0 && Number(row.asr) <= 1, true);
    assert.ok(Number(row.ner) >= Number(row.asr));
    const daily = await t.request(
      'GET',
      '/api/v1/stats/calls?from=2026-11-01&to=2026-11-03&group_by=prefix&interval=day',
    );
    assert.equal(daily.status, 200);
    assert.ok(
      daily.body.data.every(
        (r: { interval_start: string }) => r.interval_start === '2026-11-02T00:00:00.000Z',
      ),
    );
    const backwards = await t.request(
      'GET',
      '/api/v1/stats/calls?from=2026-11-03&to=2026-11-01&group_by=customer',
    );
    assert.equal(backwards.status, 400);
  });
});

describe('a closed customer', () => {
  test('is still charged for its calls, and re-rated: a completed call is a debt, not a sale', async () => {
    const irish = await addRate(sellCard, {
      prefix: '3531',
      destination: 'Ireland Dublin',
      rate: '0.03',
      initial_increment: 60,
      increment: 60,
    });
    const closed = await created('POST', '/api/v1/customers', {
      name: 'Gone Co',
      currency: 'USD',
      ratecard_id: sellCard,
    });
    const closing = await t.request('PATCH', `/api/v1/customers/${closed.id}`, {
      body: { status: 'closed' },
    });
    assert.equal(closing.status, 200, closing.text);
    // Nothing new is sold to it (docs/ledger.md, "Closed accounts")…
    const sold = await t.request('POST', `/api/v1/customers/${closed.id}/charges`, {
      body: { amount: '1', description: 'after closing' },
    });
    assert.equal(sold.status, 409, sold.text);
    // … but the calls it made before are charged, even from a zero balance into debt.
    const res = await t.request('POST', '/api/v1/cdrs', {
      body: [
        cdr('closed-1', {
          customer_id: closed.id,
          callee: '35316700000',
          start_time: '2026-11-06T10:00:00Z',
          answer_time: '2026-11-06T10:00:05Z',
          end_time: '2026-11-06T10:01:06Z',
        }),
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.rated, 1);
    assert.equal(res.body.data.charged.length, 1);
    // 61 s billed as two minutes at 0.03.
    const charged = res.body.data.charged[0].amount as string;
    assert.equal(charged, '0.06');
    assert.equal(await balance(closed.id), new Decimal(charged).negated().toFixed());
    // A rate correction re-rates its calls and posts the difference to it all the same.
    const patched = await t.request('PATCH', `/api/v1/rates/${irish.id}`, { body: { rate: '0.05' } });
    assert.equal(patched.status, 200, patched.text);
    const rerated = await t.request('POST', '/api/v1/cdrs/rerate', {
      body: { customer_id: closed.id, from: '2026-11-06', to: '2026-11-06' },
    });
    assert.equal(rerated.status, 200, rerated.text);
    const difference = new Decimal(rerated.body.data.difference);
    assert.equal(difference.toFixed(), '0.04');
    assert.ok(rerated.body.data.transaction_id, rerated.text);
    assert.equal(await balance(closed.id), new Decimal(charged).plus(difference).negated().toFixed());
  });
});
