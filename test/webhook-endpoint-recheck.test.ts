import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp, type TestApp } from './helpers/app.js';
import { created, makeTenant } from './ledger-fixtures.js';

/**
 * The outbox's "no endpoint" shortcut (src/modules/webhooks/events.ts) when another process adds
 * an endpoint: this process does not hear of it, and must find it by looking again in the
 * background within about a second, before it stops trusting its old answer (5 s). Own file: the
 * shortcut is one process-wide flag, and other test files create endpoints through this process.
 */
let t: TestApp;

before(async () => {
  t = await startTestApp();
});
after(async () => {
  await t.close();
});

const deliveries = async () =>
  Number(
    (
      await t.handle.db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

test('an endpoint added by another process is found by the background look within about a second', async () => {
  const tenant = await makeTenant(t);
  const adjust = () =>
    created(t, `/api/v1/customers/${tenant.customer.id}/adjustments`, {
      amount: '-1',
      description: 'credit',
    });
  // No endpoint anywhere: this posting's outbox statement finds none, and says so.
  await adjust();
  // Another process registers an endpoint: written straight to the table, so this process's
  // endpointsChanged() never runs.
  await t.handle.db
    .insertInto('webhook_endpoints')
    .values({
      id: 'whe_from_another_process',
      owner_kind: 'operator',
      url: 'http://127.0.0.1:9/hooks',
      events: ['*'],
      secret_sealed: 'sealed-elsewhere',
    })
    .execute();
  const added = Date.now();
  // Just after the look that found none, postings skip the outbox.
  await adjust();
  assert.equal(await deliveries(), 0);
  let noticedAfterMs: number | null = null;
  while (Date.now() - added < 6000) {
    await adjust();
    if ((await deliveries()) > 0) {
      noticedAfterMs = Date.now() - added;
      break;
    }
    await sleep(100);
  }
  assert.notEqual(noticedAfterMs, null, 'the endpoint was never found');
  // The old answer is trusted for 5 s at most; the background look finds the endpoint well before.
  assert.ok(noticedAfterMs! < 4000, `found after ${noticedAfterMs} ms`);
});
