/**
 * npm run bench:ledger — how many fund transfers/s Tollgate's ledger sustains over HTTP,
 * measured against what the same PostgreSQL does with pgbench's built-in simple-update script.
 *
 * In one run, each on its own scratch database (dropped afterwards):
 *   1. `pgbench -N` (simple update: one account UPDATE + one history INSERT per transaction)
 *      with 16 clients: transactions/s;
 *   2. `tollgate serve` on PostgreSQL and autocannon with 16 connections doing
 *      PUT /api/v1/partner/funds, each connection with its own partner→customer pair, every
 *      request with a fresh Idempotency-Key (the realistic money path): transfers/s;
 *   3. `ledger verify` over what the load posted.
 * Prints both rates and the ratio. Goal (issue 3): ratio ≥ 0.5.
 *
 *   npm run bench:ledger -- [--seconds 10] [--warmup 2] [--clients 16]
 * Uses TEST_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/test).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { openDatabase } from '../src/db/index.js';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import {
  createScratchDatabase,
  createTransferPair,
  type ScratchDatabase,
  startServer,
  type TransferPair,
} from '../test/helpers/server.js';

declare module 'autocannon' {
  interface RequestParams {
    method: string;
    path: string;
    headers: Record<string, string>;
    body: string;
  }
  interface Options {
    requests?: {
      method?: string;
      setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams;
    }[];
  }
}

const GOAL_RATIO = 0.5;
const MAX_SECONDS = 20;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    clients: { type: 'string', default: '16' },
  },
});
const SECONDS = Math.min(Number(args.seconds), MAX_SECONDS);
const WARMUP_SECONDS = Math.min(Number(args.warmup), MAX_SECONDS);
const CLIENTS = Number(args.clients);

function pgbench(database: ScratchDatabase): number {
  const run = (pgArgs: string[]) => {
    const result = spawnSync('pgbench', [...pgArgs, database.url], { encoding: 'utf8', timeout: 120_000 });
    if (result.status !== 0) throw new Error(`pgbench ${pgArgs.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  };
  run(['-i', '-s', '1', '-q']);
  const output = run(['-N', '-c', String(CLIENTS), '-j', '2', '-T', String(SECONDS)]);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1];
  if (!tps) throw new Error(`no tps in pgbench output:\n${output}`);
  return Number(tps);
}

/** One closed-loop autocannon run; every connection keeps to its own pair so they do not queue on one row. */
async function transfers(baseUrl: string, pairs: TransferPair[], seconds: number) {
  let nextPair = 0;
  const result = await autocannon({
    url: `${baseUrl}/api/v1/partner/funds`,
    connections: CLIENTS,
    duration: seconds,
    requests: [
      {
        method: 'PUT',
        setupRequest: (request, context) => {
          context.pair ??= pairs[nextPair++ % pairs.length];
          const pair = context.pair as TransferPair;
          return {
            ...request,
            method: 'PUT',
            headers: {
              authorization: `Bearer ${pair.partnerKey}`,
              'content-type': 'application/json',
              'idempotency-key': randomUUID(),
            },
            body: JSON.stringify({
              account_number: pair.accountNumber,
              amount: '0.01',
              description: 'bench',
            }),
          };
        },
      },
    ],
  });
  const failures = result.non2xx + result.errors + result.timeouts;
  if (failures > 0)
    throw new Error(`${failures} failed transfers (${JSON.stringify(result.statusCodeStats)})`);
  return { perSecond: result.requests.total / result.duration, p99: result.latency.p99 };
}

async function tollgate(database: ScratchDatabase) {
  const server = await startServer(database.url);
  try {
    const pairs = await Promise.all(
      Array.from({ length: CLIENTS }, () => createTransferPair(server.baseUrl, '1000000000')),
    );
    if (WARMUP_SECONDS > 0) await transfers(server.baseUrl, pairs, WARMUP_SECONDS);
    return await transfers(server.baseUrl, pairs, SECONDS);
  } finally {
    await server.stop();
  }
}

async function verify(database: ScratchDatabase) {
  const handle = await openDatabase({ databaseUrl: database.url, dataDir: 'memory://' });
  try {
    return await verifyLedger(handle.db);
  } finally {
    await handle.close();
  }
}

async function main() {
  const pgDatabase = await createScratchDatabase('bench_pgbench');
  const tgDatabase = await createScratchDatabase('bench_ledger');
  try {
    console.log(`bench:ledger — ${CLIENTS} clients, ${SECONDS} s per measurement, PostgreSQL`);
    const tps = pgbench(pgDatabase);
    console.log(`pgbench -N (simple update)          ${tps.toFixed(0).padStart(7)} tps`);
    const http = await tollgate(tgDatabase);
    console.log(
      `tollgate PUT /partner/funds         ${http.perSecond.toFixed(0).padStart(7)} transfers/s   p99 ${http.p99} ms`,
    );
    const ratio = http.perSecond / tps;
    console.log(
      `ratio ${ratio.toFixed(2)} (goal ≥ ${GOAL_RATIO}: ${ratio >= GOAL_RATIO ? 'met' : 'NOT met'})`,
    );
    const report = await verify(tgDatabase);
    console.log(
      `ledger verify: ${report.transactions} transactions, ${report.problems.length === 0 ? 'OK' : report.problems.join('; ')}`,
    );
    if (report.problems.length > 0) process.exitCode = 1;
  } finally {
    await Promise.all([pgDatabase.drop(), tgDatabase.drop()]);
  }
}

await main();
