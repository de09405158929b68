import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import pg from 'pg';
import { Decimal } from '../src/money/index.js';
import { TEST_DB } from './helpers/app.js';
import {
  createScratchDatabase,
  createTransferPair,
  type ScratchDatabase,
  SERVER_ADMIN_KEY,
  type ServerProcess,
  startServer,
  type TransferPair,
} from './helpers/server.js';

/**
 * Crash safety (issue 3), on PostgreSQL: a real server takes a burst of transfers and
 * adjustments with Idempotency-Keys and is killed with SIGKILL mid-burst. After a restart every
 * request that got no answer is retried with its key. Then every operation, acknowledged or
 * retried, is in the journal exactly once, the balances are exactly the sum of all operations,
 * and `tollgate ledger verify` passes.
 *
 * A request cut off by the crash may have committed its ledger transaction without its
 * idempotency entry being finished; the HTTP layer treats such 'running' entries as abandoned
 * after IDEMPOTENCY_ABANDON_SECONDS (3 s here, 60 s by default), answering 409 until then. The ledger's
 * reference key (taken from the Idempotency-Key) is what makes the late retry return the
 * committed transaction instead of posting again.
 */
const skip = TEST_DB !== 'postgres';
// The restarted server treats a claim older than this as abandoned by the killed process.
const ABANDON_SECONDS = 3;
const OPERATIONS = 1000;
const IN_FLIGHT = 32;
const KILL_AFTER_ANSWERS = 300;
const RETRY_DEADLINE_MS = 60_000;

let database: ScratchDatabase | null = null;
let server: ServerProcess | null = null;
after(async () => {
  await server?.kill9();
  await database?.drop();
});

interface Operation {
  n: number;
  pair: TransferPair;
  kind: 'transfer' | 'adjustment';
  /** The customer's balance change (cents, exact). */
  customerDeltaCents: number;
  request: { method: string; path: string; key: string; body: Record<string, string> };
  idempotencyKey: string;
}

function operations(pairs: TransferPair[]): Operation[] {
  return Array.from({ length: OPERATIONS }, (_, n): Operation => {
    const pair = pairs[n % pairs.length]!;
    const cents = (n % 97) + 1;
    const amount = (cents / 100).toFixed(2);
    const description = `crash-op-${n}`;
    const transfer = n % 3 !== 0;
    return {
      n,
      pair,
      kind: transfer ? 'transfer' : 'adjustment',
      // A transfer credits the customer; a positive adjustment charges it.
      customerDeltaCents: transfer ? cents : -cents,
      request: transfer
        ? {
            method: 'PUT',
            path: '/api/v1/partner/funds',
            key: pair.partnerKey,
            body: { account_number: pair.accountNumber, amount, description },
          }
        : {
            method: 'POST',
            path: `/api/v1/customers/${pair.customerId}/adjustments`,
            key: SERVER_ADMIN_KEY,
            body: { amount, description },
          },
      idempotencyKey: `crash-${n}`,
    };
  });
}

/** The status, or null when the connection died without an answer. */
async function send(baseUrl: string, op: Operation): Promise<number | null> {
  try {
    const response = await fetch(`${baseUrl}${op.request.path}`, {
      method: op.request.method,
      headers: {
        authorization: `Bearer ${op.request.key}`,
        'content-type': 'application/json',
        'idempotency-key': op.idempotencyKey,
      },
      body: JSON.stringify(op.request.body),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}

async function burst(baseUrl: string, ops: Operation[], onAnswer: (answered: number) => void) {
  const statuses = new Map<number, number | null>();
  let next = 0;
  let answered = 0;
  const worker = async () => {
    while (next < ops.length) {
      const op = ops[next++]!;
      const status = await send(baseUrl, op);
      statuses.set(op.n, status);
      if (status !== null) onAnswer(++answered);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return statuses;
}

async function retryUntilAnswered(baseUrl: string, op: Operation): Promise<number> {
  const deadline = Date.now() + RETRY_DEADLINE_MS;
  for (;;) {
    const status = await send(baseUrl, op);
    // 409 idempotency: the killed process's claim on this key is not yet considered abandoned.
    if (status !== null && status !== 409) return status;
    if (Date.now() > deadline) throw new Error(`operation ${op.n} still unanswered (${status})`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

test('kill -9 mid-burst, restart, retry with the same keys: every operation exactly once', {
  skip,
  timeout: 115_000,
}, async () => {
  database = await createScratchDatabase('ledger_crash');
  server = await startServer(database.url);
  const pairs = await Promise.all(
    Array.from({ length: 4 }, () => createTransferPair(server!.baseUrl, '1000000', '-100000')),
  );
  const ops = operations(pairs);
  const crashed = server;
  const statuses = await burst(crashed.baseUrl, ops, (answered) => {
    if (answered === KILL_AFTER_ANSWERS) void crashed.kill9();
  });
  const acknowledged = ops.filter((op) => {
    const status = statuses.get(op.n);
    return status !== null && status !== undefined && status < 300;
  });
  const unanswered = ops.filter((op) => statuses.get(op.n) === null);
  assert.ok(acknowledged.length >= KILL_AFTER_ANSWERS - IN_FLIGHT, `acknowledged ${acknowledged.length}`);
  assert.ok(unanswered.length > 0, 'the kill happened mid-burst');
  assert.deepEqual(
    ops
      .filter((op) => ![null, 200, 201].includes(statuses.get(op.n) ?? null))
      .map((op) => statuses.get(op.n)),
    [],
  );

  server = await startServer(database.url, { IDEMPOTENCY_ABANDON_SECONDS: String(ABANDON_SECONDS) });
  const retried = new Map<number, number>();
  for (let i = 0; i < unanswered.length; i += IN_FLIGHT) {
    const slice = unanswered.slice(i, i + IN_FLIGHT);
    const answers = await Promise.all(slice.map((op) => retryUntilAnswered(server!.baseUrl, op)));
    for (const [j, op] of slice.entries()) retried.set(op.n, answers[j]!);
  }
  assert.deepEqual(
    [...retried.values()].filter((status) => status >= 300),
    [],
  );

  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const counts = await client.query<{ description: string; n: number }>(
      `select description, count(*)::int as n from ledger_transactions where description like 'crash-op-%' group by description`,
    );
    const seen = new Map(counts.rows.map((row) => [row.description, row.n]));
    const missingOrDoubled = ops.filter((op) => seen.get(`crash-op-${op.n}`) !== 1).map((op) => op.n);
    assert.deepEqual(missingOrDoubled, [], 'each operation is in the journal exactly once');
    for (const pair of pairs) {
      const expectedCents = ops
        .filter((op) => op.pair === pair)
        .reduce((sum, op) => sum + op.customerDeltaCents, 0);
      const balance = await client.query<{ balance: string }>(
        'select balance::text from ledger_accounts where owner_id = $1',
        [pair.customerId],
      );
      assert.equal(new Decimal(balance.rows[0]!.balance).times(100).toNumber(), expectedCents);
    }
  } finally {
    await client.end();
  }

  await server.stop();
  const verify = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'ledger', 'verify'], {
    env: { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /ledger OK/);
});
