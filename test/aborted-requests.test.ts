import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, startTestApp, type TestApp } from './helpers/app.js';

/**
 * Clients that hang up mid-upload, over real sockets. Each case once left the server waiting for
 * the rest of the body: a deck upload held its transaction open (on the embedded database, its
 * only connection, so every later request waited), a CDR CSV batch never ended, and every such
 * request was counted as running until graceful shutdown timed out.
 */
let t: TestApp;
let base: URL;
let card: string;
let customer: string;
before(async () => {
  t = await startTestApp();
  base = new URL(await t.listen());
  card = (await t.data('POST', '/api/v1/ratecards', { name: 'Deck', currency: 'USD', direction: 'sell' })).id;
  customer = (
    await t.data('POST', '/api/v1/customers', { name: 'Caller', currency: 'USD', ratecard_id: card })
  ).id;
});
after(async () => t.close());

/** Sends headers promising a large body and the first part of it, then closes the socket. */
function abandon(path: string, type: string, start: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(base.port), base.hostname, () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${base.host}\r\nAuthorization: Bearer ${ADMIN_KEY}\r\n` +
          `Content-Type: ${type}\r\nContent-Length: 10000000\r\n\r\n${start}`,
      );
      // Long enough for the server to start reading the body.
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 300);
    });
    socket.on('error', reject);
  });
}

const multipart = (body: string) =>
  `--BB\r\nContent-Disposition: form-data; name="file"; filename="deck.csv"\r\nContent-Type: text/csv\r\n\r\n${body}`;
const deckRows = `prefix,destination,rate\n${Array.from({ length: 2000 }, (_, i) => `${880000 + i},X,0.1`).join('\n')}\n`;
const cdrRows = (tag: string) =>
  `call_id,customer_id,caller,callee,start_time,end_time,disposition\n${Array.from(
    { length: 2000 },
    (_, i) => `${tag}-${i},${customer},1,4420,2026-11-02 10:00:00,2026-11-02 10:01:00,busy`,
  ).join('\n')}\n`;

const cases: [string, string, string, () => string][] = [
  [
    'deck, multipart',
    `/api/v1/ratecards/CARD/import`,
    'multipart/form-data; boundary=BB',
    () => multipart(deckRows),
  ],
  ['deck, text/csv', `/api/v1/ratecards/CARD/import`, 'text/csv', () => deckRows],
  ['CDRs, CSV', '/api/v1/cdrs', 'text/csv', () => cdrRows('csv')],
  [
    'CDRs, NDJSON',
    '/api/v1/cdrs',
    'application/x-ndjson',
    () => `{"call_id":"nd-1","customer_id":"${customer}"}\n`,
  ],
  ['CDRs, multipart', '/api/v1/cdrs', 'multipart/form-data; boundary=BB', () => multipart(cdrRows('mp'))],
  ['a JSON body', '/api/v1/customers', 'application/json', () => '{"name":"Half'],
];

for (const [name, path, type, body] of cases) {
  test(`an abandoned upload (${name}) ends, stores nothing and leaves the database free`, async () => {
    await abandon(path.replace('CARD', card), type, body());
    assert.equal(await t.inFlight.drain(5_000), true, 'no request is left running');
    const lookup = await t.request('GET', `/api/v1/ratecards/${card}/rates`);
    assert.equal(lookup.status, 200, 'the database answers');
    assert.equal(lookup.body.data.length, 0, 'no rate of the abandoned deck was stored');
    const cdrs = await t.request('GET', `/api/v1/cdrs?customer_id=${customer}`);
    assert.equal(cdrs.body.data.length, 0, 'no CDR of the abandoned batch was stored');
  });
}
