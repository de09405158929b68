import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * cdrs.customer_id → customers(id) is checked per statement by triggers (migration 0015), not by
 * a per-row foreign key: the same rule, on both databases.
 */
let t: TestApp;

before(async () => {
  t = await startTestApp();
});
after(async () => t.close());

async function customer(name: string): Promise<string> {
  const res = await t.request('POST', '/api/v1/customers', { body: { name, currency: 'EUR' } });
  assert.equal(res.status, 201, res.text);
  return res.body.data.id;
}

const cdrRow = (id: string, customerId: string | null) => sql`
  insert into cdrs (id, switch_id, call_id, batch_id, customer_id, customer_ref, caller, callee, start_time,
    end_time, duration, billsec, disposition, rating_state)
  values (${id}, 'default', ${id}, 'cdb_check', ${customerId}, 'x', '1', '2', now(), now(), 0, 0, 'busy', 'unrated')`;

test('a CDR cannot name a customer that does not exist, by insert or by update', async () => {
  const db = t.handle.db;
  await assert.rejects(cdrRow('cdr_check_1', 'cus_nobody').execute(db), /violates foreign key/);
  await cdrRow('cdr_check_2', null).execute(db);
  await assert.rejects(
    sql`update cdrs set customer_id = 'cus_nobody' where id = 'cdr_check_2'`.execute(db),
    /violates foreign key/,
  );
  const id = await customer('Exists');
  await sql`update cdrs set customer_id = ${id} where id = 'cdr_check_2'`.execute(db);
});

test('a customer with CDRs cannot be deleted (409), one without can', async () => {
  const withCdrs = await customer('Has calls');
  const res = await t.request('POST', '/api/v1/cdrs', {
    body: [
      {
        call_id: 'check-delete-1',
        customer_id: withCdrs,
        caller: '33100000000',
        callee: '33123456',
        start_time: '2026-11-02T10:00:00Z',
        end_time: '2026-11-02T10:00:00Z',
        disposition: 'busy',
      },
    ],
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.data.accepted, 1);
  const refused = await t.request('DELETE', `/api/v1/customers/${withCdrs}`);
  assert.equal(refused.status, 409, refused.text);
  // Past the guard, the database refuses it too.
  await assert.rejects(
    sql`delete from customers where id = ${withCdrs}`.execute(t.handle.db),
    /violates foreign key/,
  );
  const without = await customer('No calls');
  const deleted = await t.request('DELETE', `/api/v1/customers/${without}`);
  assert.ok(deleted.status < 300, deleted.text);
});
