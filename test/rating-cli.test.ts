import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runRatesImport } from '../src/modules/rating/cli.js';
import { createRatecard } from '../src/modules/rating/ratecards.js';
import { startTestApp, type TestApp } from './helpers/app.js';

let t: TestApp;
const dir = mkdtempSync(join(tmpdir(), 'tollgate-rates-cli-'));
before(async () => {
  t = await startTestApp();
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  let err = '';
  return {
    out,
    io: {
      out: (line: string) => void out.push(line),
      err: (text: string) => {
        err += text;
      },
    },
    err: () => err,
  };
}

test('tollgate rates import: counts on success, progress in rows/s, every problem and exit 1 on a bad deck', async () => {
  const card = await createRatecard(t.handle.db, { name: 'CLI', currency: 'USD', direction: 'sell' });
  const good = join(dir, 'good.csv');
  writeFileSync(good, 'prefix,rate\n44,0.02\n447,0.1\n');
  const ok = capture();
  assert.equal(await runRatesImport(t.handle.db, card.id, good, { mode: 'merge' }, ok.io), 0);
  assert.deepEqual(ok.out, ['added 2, changed 0, unchanged 0, closed 0 (2 rows)']);
  assert.match(ok.err(), /2 rows read, [\d,]+ rows\/s/);

  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'prefix,rate\n44,0.03\nx,0.1\n');
  const rejected = capture();
  assert.equal(await runRatesImport(t.handle.db, card.id, bad, { mode: 'merge' }, rejected.io), 1);
  assert.equal(rejected.out[0], 'deck rejected, nothing imported:');
  assert.equal(rejected.out[1], '  line 3, column prefix: prefix must be digits only (1 to 16)');
  const rate = await t.request('GET', `/api/v1/rates/lookup?number=4420&ratecard_id=${card.id}`);
  assert.equal(rate.body.data.rate, '0.02', 'the rejected deck changed nothing');
});
