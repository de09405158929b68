/**
 * npm run bench:cdrs — CDR rating + storing + charging throughput on PostgreSQL, against COPY.
 *
 * In one run, on a scratch PostgreSQL database (dropped afterwards):
 *   1. `tollgate serve`, a sell card of 1,000 prefixes, 1,000 customers on it;
 *   2. N generated CDRs (default 1,000,000) over those customers, POSTed as JSON batches of
 *      10,000 through HTTP by two concurrent posters (`--posters`; the bodies are generated
 *      before the clock starts): end-to-end CDRs/s (check, rate, store, charge);
 *   3. the baseline: the same stored rows exported to CSV and loaded with `COPY` (psql \copy)
 *      into a plain table of the same columns: rows/s, and the ratio; and for reference the same
 *      COPY into a table with cdrs' checks and indexes (what storing alone costs with them);
 *   4. call authorization p99 at a steady 1,000 requests/s (open loop, 10 s after a 10 s warm-up
 *      at the same rate), and the same sender, warm-up included, against a bare Fastify
 *      hello-world (the floor on this machine);
 *   5. the stats query (group by customer, one day) over all the CDRs: time of 5 runs;
 *   6. ledger verify.
 * Goals (issue 5): ≥ 20,000 CDRs/s, ratio ≥ 0.3, authorization p99 < 2 ms, stats < 1 s.
 *
 *   npm run bench:cdrs -- [--cdrs 1000000] [--batch 10000] [--posters 2] [--auth-seconds 10]
 *                         [--auth-warmup 10]
 * Uses TEST_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/test).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/index.js';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { api, createScratchDatabase, SERVER_ADMIN_KEY, startServer } from '../test/helpers/server.js';
import { pacedLoad } from './paced-load.js';
import { helloWorldArgs, startNodeServer } from './servers.js';

const { values: args } = parseArgs({
  options: {
    cdrs: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '10000' },
    customers: { type: 'string', default: '1000' },
    posters: { type: 'string', default: '2' },
    'auth-seconds': { type: 'string', default: '10' },
    'auth-warmup': { type: 'string', default: '10' },
    'auth-rate': { type: 'string', default: '1000' },
  },
});
const TOTAL = Math.min(Number(args.cdrs), 2_000_000);
const BATCH = Number(args.batch);
const CUSTOMERS = Number(args.customers);
const AUTH_SECONDS = Math.min(Number(args['auth-seconds']), 30);
/**
 * Paced warm-up before each latency run, not measured. Two seconds (the figure until the
 * thirteenth session) left the first few thousand requests of the measured run still slower
 * (optimising compiler, caches, the ingestion's garbage): a server in service is warm.
 */
const AUTH_WARMUP_SECONDS = Math.min(Number(args['auth-warmup']), 60);
const AUTH_RATE = Number(args['auth-rate']);
/** Batches in flight at once: a mediation feed with two posters (docs/operations.md, issue 5). */
const POSTERS = Math.max(1, Number(args.posters));
const DAY = Date.UTC(2026, 10, 2);

const say = (line: string) => console.log(line);
/** The machine is often shared: every phase's figure comes with the load average it ran under. */
const load = () =>
  `load average ${loadavg()
    .map((value) => value.toFixed(2))
    .join(', ')}`;
const fixed = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits });

function deck(): string {
  const lines = ['prefix,destination,rate,connection_fee,initial_increment,increment,effective_from'];
  for (let i = 0; i < 1000; i++) {
    const prefix = String(1000 + i * 7).slice(0, 4);
    lines.push(`${prefix},Destination ${i},0.0${(i % 90) + 10},0,60,6,2026-01-01`);
  }
  return `${[...new Set(lines)].join('\n')}\n`;
}

function batchBody(from: number, count: number, customerIds: string[]): string {
  const records = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const n = from + i;
    const start = DAY + (n % 86_000) * 1000;
    const answered = n % 3 !== 0;
    const billsec = answered ? (n * 7919) % 900 : 0;
    const callee = `${1000 + ((n * 31) % 1000) * 7}`.slice(0, 4) + String(1_000_000 + (n % 8_999_999));
    records[i] = JSON.stringify({
      call_id: `bench-${n}`,
      customer_id: customerIds[n % customerIds.length],
      caller: '15550001111',
      callee,
      start_time: new Date(start).toISOString(),
      answer_time: answered ? new Date(start + 4000).toISOString() : null,
      end_time: new Date(start + 4000 + billsec * 1000).toISOString(),
      disposition: answered ? 'answered' : n % 2 ? 'busy' : 'no_answer',
      pdd_ms: 800 + (n % 1500),
    });
  }
  return `[${records.join(',')}]`;
}

async function postBatch(baseUrl: string, body: Buffer): Promise<number> {
  const response = await fetch(`${baseUrl}/api/v1/cdrs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SERVER_ADMIN_KEY}`, 'content-type': 'application/json' },
    body,
  });
  const envelope = (await response.json()) as { data: { accepted: number }; message?: string };
  if (!response.ok) throw new Error(`POST /cdrs: ${response.status} ${envelope.message}`);
  if (process.env.BENCH_DEBUG) console.log(JSON.stringify(envelope.data).slice(0, 400));
  return envelope.data.accepted;
}

/**
 * Every batch's body is generated before the clock starts: a switch's mediation feed formats its
 * CDRs on its own machine, and on this 2-core box generating them while posting took about a
 * third of a core from the server and PostgreSQL (docs/operations.md, issue 5).
 */
function allBodies(customerIds: string[]): Buffer[] {
  const bodies: Buffer[] = [];
  for (let from = 0; from < TOTAL; from += BATCH) {
    bodies.push(Buffer.from(batchBody(from, Math.min(BATCH, TOTAL - from), customerIds)));
  }
  return bodies;
}

async function ingestAll(baseUrl: string, bodies: Buffer[]) {
  let next = 0;
  let accepted = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < bodies.length) {
      const stored = await postBatch(baseUrl, bodies[next++]!);
      accepted += stored;
    }
  };
  await Promise.all(Array.from({ length: POSTERS }, worker));
  return { accepted, seconds: (performance.now() - started) / 1000 };
}

function psql(url: string, command: string): string {
  const run = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', command], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (run.status !== 0) throw new Error(`psql failed: ${run.stderr}`);
  return run.stdout;
}

/**
 * The stored rows exported once and COPYed into two tables: the baseline (a plain table of the
 * same columns: no index, no check) and, for reference, a table with cdrs' own checks and
 * indexes (`like cdrs including all`: primary key, unique (sender_partner_id, switch_id, call_id), the per-customer,
 * partner and carrier period indexes, BRIN). The second is what storing alone costs PostgreSQL
 * with the indexes the CDR queries and deduplication need, so it bounds the first ratio.
 */
function copyBaselines(url: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-cdrs-'));
  const file = join(dir, 'cdrs.csv');
  const timedCopy = (table: string) => {
    psql(url, 'checkpoint');
    const started = performance.now();
    psql(url, `\\copy ${table} from '${file}' csv`);
    const seconds = (performance.now() - started) / 1000;
    return { rows: Number(psql(url, `select count(*) from ${table}`).trim()), seconds };
  };
  try {
    psql(url, `\\copy (select * from cdrs) to '${file}' csv`);
    psql(url, 'create table cdrs_plain as select * from cdrs with no data');
    psql(url, 'create table cdrs_indexed (like cdrs including all)');
    return { plain: timedCopy('cdrs_plain'), indexed: timedCopy('cdrs_indexed') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A bare Fastify hello-world (bench/hello-world.ts, no loader) under pacedLoad at `rate`/s. */
async function helloWorldAt(rate: number, warmupSeconds: number, seconds: number) {
  const hello = await startNodeServer(helloWorldArgs(), {}, '/', { stdio: 'ignore' });
  try {
    await pacedLoad(`${hello.url}/`, {}, rate, warmupSeconds);
    return await pacedLoad(`${hello.url}/`, {}, rate, seconds);
  } finally {
    hello.child.kill('SIGTERM');
  }
}

async function main() {
  const database = await createScratchDatabase('tg_bench_cdrs');
  const server = await startServer(database.url, { CDR_BATCH_MAX: String(BATCH) });
  try {
    const call = <T = any>(method: string, path: string, body?: unknown) =>
      api<T>(server.baseUrl, SERVER_ADMIN_KEY, method, path, body);
    const card = await call('POST', '/api/v1/ratecards', {
      name: 'Bench sell',
      currency: 'USD',
      direction: 'sell',
      rounding_decimals: 6,
    });
    const imported = await fetch(`${server.baseUrl}/api/v1/ratecards/${card.id}/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SERVER_ADMIN_KEY}`, 'content-type': 'text/csv' },
      body: deck(),
    });
    if (!imported.ok) throw new Error(`deck import: ${await imported.text()}`);
    const customerIds: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      customerIds.push(
        (
          await call('POST', '/api/v1/customers', {
            name: `Bench ${i}`,
            currency: 'USD',
            ratecard_id: card.id,
            credit_limit: '-1000000',
          })
        ).id,
      );
    }
    say(
      `setup: ${CUSTOMERS} customers, ${deck().split('\n').length - 2} prefixes; ingesting ${fixed(TOTAL)} CDRs in batches of ${fixed(BATCH)}, ${POSTERS} poster(s)`,
    );

    // Both timed loads start from a checkpoint (set-up, not measured), so neither inherits the
    // other's or the set-up's dirty pages and full-page writes.
    psql(database.url, 'checkpoint');
    const ingest = await ingestAll(server.baseUrl, allBodies(customerIds));
    const cdrsPerSecond = ingest.accepted / ingest.seconds;
    say(
      `tollgate  rate+store+charge: ${fixed(ingest.accepted)} CDRs in ${ingest.seconds.toFixed(1)} s = ${fixed(cdrsPerSecond)} CDRs/s (goal ≥ 20,000; ${load()})`,
    );
    const { plain: copy, indexed } = copyBaselines(database.url);
    const copyPerSecond = copy.rows / copy.seconds;
    const indexedPerSecond = indexed.rows / indexed.seconds;
    say(
      `baseline  COPY into a plain table: ${fixed(copy.rows)} rows in ${copy.seconds.toFixed(1)} s = ${fixed(copyPerSecond)} rows/s (${load()})`,
    );
    say(
      `reference COPY into a table with cdrs' checks and indexes: ${fixed(indexed.rows)} rows in ${indexed.seconds.toFixed(1)} s = ${fixed(indexedPerSecond)} rows/s, ${(indexedPerSecond / copyPerSecond).toFixed(3)} of the plain COPY (${load()})`,
    );
    say(
      `ratio     ${(cdrsPerSecond / copyPerSecond).toFixed(3)} (goal ≥ 0.3) | against the indexed COPY ${(cdrsPerSecond / indexedPerSecond).toFixed(3)}`,
    );

    // Set-up for the latency figures, not measured: after a million rows, autovacuum would work
    // through cdrs and the ledger on one of the two cores while authorization is timed, and a
    // checkpoint would flush the ingest's pages (the same settling as bench:rating's).
    const settleStarted = performance.now();
    psql(database.url, 'drop table if exists cdrs_plain, cdrs_indexed');
    psql(database.url, 'vacuum (analyze)');
    psql(database.url, 'checkpoint');
    say(
      `settle    vacuum (analyze) and checkpoint (set-up, not measured) ${((performance.now() - settleStarted) / 1000).toFixed(1)} s`,
    );

    const authBody = JSON.stringify({
      customer_id: customerIds[0],
      caller: '15550001111',
      callee: '10001234567',
    });
    const authorizeAt = (seconds: number) =>
      pacedLoad(
        `${server.baseUrl}/api/v1/calls/authorize`,
        { authorization: `Bearer ${SERVER_ADMIN_KEY}`, 'content-type': 'application/json' },
        AUTH_RATE,
        seconds,
        { method: 'POST', body: authBody },
      );
    // Warm-up, not measured: the first requests compile the route's code and fill the caches,
    // and the server is still collecting the ingestion's garbage.
    const warmUp = await authorizeAt(AUTH_WARMUP_SECONDS);
    say(
      `call authorization warm-up (${AUTH_WARMUP_SECONDS} s, not counted): p50 ${warmUp.scheduled.p50Ms.toFixed(2)} ms, p99 ${warmUp.scheduled.p99Ms.toFixed(2)} ms`,
    );
    const auth = await authorizeAt(AUTH_SECONDS);
    say(
      `call authorization at ${AUTH_RATE}/s for ${AUTH_SECONDS} s: p50 ${auth.scheduled.p50Ms.toFixed(2)} ms, ` +
        `p99 ${auth.scheduled.p99Ms.toFixed(2)} ms (service p99 ${auth.service.p99Ms.toFixed(2)} ms), failed ${auth.failed} (goal p99 < 2 ms; ${load()})`,
    );

    // The same paced load against a bare Fastify hello-world, here and now: what this generator
    // and this machine give a server that does nothing (on a virtual machine whose wake-ups are
    // slow, that floor can itself be above the goal).
    const hello = await helloWorldAt(AUTH_RATE, AUTH_WARMUP_SECONDS, AUTH_SECONDS);
    say(
      `hello-world at ${AUTH_RATE}/s for ${AUTH_SECONDS} s, same sender: p50 ${hello.scheduled.p50Ms.toFixed(2)} ms, ` +
        `p99 ${hello.scheduled.p99Ms.toFixed(2)} ms (service p99 ${hello.service.p99Ms.toFixed(2)} ms) (${load()})`,
    );

    const statsTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await call('GET', '/api/v1/stats/calls?from=2026-11-02&to=2026-11-02&group_by=customer');
      statsTimes.push(performance.now() - started);
    }
    statsTimes.sort((a, b) => a - b);
    say(
      `stats over ${fixed(ingest.accepted)} CDRs (group_by=customer, 1 day): median ${statsTimes[2]!.toFixed(0)} ms, max ${statsTimes[4]!.toFixed(0)} ms (goal < 1 s; ${load()})`,
    );

    const handle = await openDatabase({ databaseUrl: database.url, dataDir: 'memory://' });
    const report = await verifyLedger(handle.db);
    await handle.close();
    say(
      `ledger verify: ${report.problems.length === 0 ? 'ok' : `${report.problems.length} problem(s)`} over ${fixed(report.transactions)} transactions`,
    );
  } finally {
    await server.stop();
    await database.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
