/**
 * npm run bench:http — how much of bare Fastify's speed Tollgate keeps on its most common read.
 *
 * In one run: builds Tollgate (`npm run build`), starts a bare Fastify hello-world and the built
 * Tollgate server as `npm start` runs it (each its own process, same Node), creates a customer and a customer key through the API, then loads both on 127.0.0.1:
 *   1. closed loop (N connections as fast as they go): requests/s and p99 of an authenticated
 *      GET /api/v1/customers/{id} against the hello-world, and the ratio;
 *   2. a fixed rate (default 1,000 req/s): p99 of the same GET, with autocannon's overallRate and
 *      with an evenly paced open-loop sender (see paced-load.ts for why both).
 * Goal (issue 2): ratio >= 0.5 and p99 < 5 ms at 1,000 req/s.
 *
 * Runs once per database (--db, default both): the embedded PGlite in a temporary directory,
 * then PostgreSQL on a scratch database on TEST_DATABASE_URL's server (default
 * postgres://postgres@127.0.0.1:5432/test; dropped afterwards), or on DATABASE_URL when that is
 * set (the bench then deletes its customer and revokes its admin key when it is done). Each
 * section measures the hello-world again right before Tollgate, so a ratio compares two runs
 * made under the same conditions; both servers are single processes.
 *
 *   npm run bench:http -- [--db pglite,postgres] [--seconds 10] [--warmup 2] [--connections 10]
 *                         [--rate 1000] [--profile]
 * --profile writes a V8 CPU profile of the Tollgate process (open it in Chrome DevTools).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { api, createScratchDatabase, freePort, type ScratchDatabase } from '../test/helpers/server.js';
import { type LatencySummary, summarise } from './latency.js';
import { pacedLoad } from './paced-load.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// Generous: on a busy 2-core machine tsx plus a fresh PGlite can take over a minute to start.
const STARTUP_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 15_000;
const GOAL_RATIO = 0.5;
const GOAL_P99_MS = 5;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    profile: { type: 'boolean', default: false },
    db: { type: 'string', default: 'pglite,postgres' },
  },
});
const SECONDS = Number(args.seconds);
const WARMUP_SECONDS = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const RATE = Number(args.rate);

interface Server {
  name: string;
  baseUrl: string;
  child: ChildProcess;
  /** The tail of its output, shown when it fails. */
  output(): string;
}

async function waitUntilAnswering(server: Server, path: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) break;
    try {
      const response = await fetch(`${server.baseUrl}${path}`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${server.name} did not come up on ${server.baseUrl}${path}\n${server.output()}`);
}

async function startServer(name: string, nodeArgs: string[], env: Record<string, string>, readyPath: string) {
  const port = await freePort();
  const child = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const server: Server = { name, baseUrl: `http://127.0.0.1:${port}`, child, output: () => tail };
  try {
    await waitUntilAnswering(server, readyPath);
  } catch (error) {
    await stopServer(server);
    throw error;
  }
  return server;
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

interface Fixture {
  customerId: string;
  customerKey: string;
}

/** A customer reading its own account through its own key: the customer-facing API's commonest call. */
async function createFixture(baseUrl: string, adminKey: string): Promise<Fixture> {
  const customer = await api<{ id: string }>(baseUrl, adminKey, 'POST', '/api/v1/customers', {
    name: 'bench:http customer',
    currency: 'USD',
  });
  const key = await api<{ key: string }>(baseUrl, adminKey, 'POST', '/api/v1/api-keys', {
    role: 'customer',
    customer_id: customer.id,
    description: 'bench:http',
  });
  return { customerId: customer.id, customerKey: key.key };
}

/** On a real PostgreSQL database, leave nothing behind: the customer (and its key) and the admin key. */
async function removeFixture(baseUrl: string, adminKey: string, fixture: Fixture): Promise<void> {
  await api(baseUrl, adminKey, 'DELETE', `/api/v1/customers/${fixture.customerId}`);
  let next: string | undefined = '/api/v1/api-keys?limit=100';
  while (next) {
    const response = await fetch(next.startsWith('http') ? next : new URL(next, baseUrl), {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    const page = (await response.json()) as {
      data: { id: string; key_prefix: string }[];
      links: { next?: string };
    };
    const own = page.data.find((key) => adminKey.startsWith(key.key_prefix));
    if (own) return void (await api(baseUrl, adminKey, 'DELETE', `/api/v1/api-keys/${own.id}`));
    next = page.links.next;
  }
}

interface Measurement {
  requestsPerSecond: number;
  latency: LatencySummary;
}

/** One autocannon run; latencies are taken from every response (autocannon's own histogram has 1 ms steps). */
async function cannon(url: string, headers: Record<string, string>, seconds: number, overallRate?: number) {
  const samples: number[] = [];
  const instance = autocannon({ url, headers, connections: CONNECTIONS, duration: seconds, overallRate });
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode === 200) samples.push(responseTimeMs);
  });
  const result = await instance;
  const failures = result.non2xx + result.errors + result.timeouts;
  if (failures > 0) {
    throw new Error(
      `${url}: ${failures} failed requests (${JSON.stringify(result.statusCodeStats)}); figures would be meaningless`,
    );
  }
  return {
    requestsPerSecond: result.requests.total / result.duration,
    latency: summarise(samples),
  } satisfies Measurement;
}

async function closedLoop(url: string, headers: Record<string, string>): Promise<Measurement> {
  if (WARMUP_SECONDS > 0) await cannon(url, headers, WARMUP_SECONDS);
  return cannon(url, headers, SECONDS);
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const line = (label: string, m: Measurement) =>
  `${label.padEnd(40)} ${m.requestsPerSecond.toFixed(0).padStart(7)} req/s   p50 ${ms(m.latency.p50Ms)}   p99 ${ms(m.latency.p99Ms)}`;

interface Outcome {
  driver: string;
  ratio: number;
  p99Ms: number;
}

/** One section: hello-world and Tollgate on one database. */
async function measure(driver: 'pglite' | 'postgres'): Promise<Outcome> {
  const adminKey = `tgk_${randomBytes(24).toString('base64url')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const ownUrl = process.env.DATABASE_URL;
  const scratch: ScratchDatabase | null =
    driver === 'postgres' && !ownUrl ? await createScratchDatabase('tollgate_bench_http') : null;
  const databaseUrl = driver === 'postgres' ? (ownUrl ?? scratch!.url) : '';
  const label =
    driver === 'pglite' ? 'PGlite (embedded)' : ownUrl ? 'PostgreSQL (DATABASE_URL)' : 'PostgreSQL (scratch)';
  const profileDir = join(dataDir, 'profile');
  const servers: Server[] = [];
  try {
    const hello = await startServer('hello-world', ['--import', 'tsx', 'bench/hello-world.ts'], {}, '/');
    servers.push(hello);
    const tollgate = await startServer(
      'tollgate',
      [...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), 'dist/src/main.js', 'serve'],
      {
        TOLLGATE_DATA_DIR: join(dataDir, 'data'),
        TOLLGATE_ADMIN_KEY: adminKey,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_MAX: '10000000',
        DATABASE_URL: databaseUrl,
      },
      '/ready',
    );
    servers.push(tollgate);
    const fixture = await createFixture(tollgate.baseUrl, adminKey);
    const customerUrl = `${tollgate.baseUrl}/api/v1/customers/${fixture.customerId}`;
    const auth = { authorization: `Bearer ${fixture.customerKey}` };

    console.log(
      `bench:http on ${label}; ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s per run`,
    );
    const baseline = await closedLoop(`${hello.baseUrl}/`, {});
    console.log(line('hello-world GET /', baseline));
    const measured = await closedLoop(customerUrl, auth);
    console.log(line('tollgate GET /api/v1/customers/{id}', measured));
    const ratio = measured.requestsPerSecond / baseline.requestsPerSecond;
    console.log(`ratio ${ratio.toFixed(3)} (goal >= ${GOAL_RATIO})\n`);

    const atRate = await cannon(customerUrl, auth, SECONDS, RATE);
    console.log(line(`tollgate at ${RATE} req/s (autocannon)`, atRate));
    const helloPaced = await pacedLoad(`${hello.baseUrl}/`, {}, RATE, SECONDS);
    const paced = await pacedLoad(customerUrl, auth, RATE, SECONDS);
    for (const [name, run] of [
      ['hello-world', helloPaced],
      ['tollgate', paced],
    ] as const) {
      console.log(
        `${`${name} at ${RATE} req/s (evenly paced)`.padEnd(40)} ${run.achievedPerSecond.toFixed(0).padStart(7)} req/s   ` +
          `p99 ${ms(run.service.p99Ms)} from send, ${ms(run.scheduled.p99Ms)} from schedule` +
          (run.failed > 0 ? `   ${run.failed} failed or abandoned` : '') +
          (run.achievedPerSecond < RATE * 0.95 ? '   (could not keep up with the rate)' : ''),
      );
    }
    // Failed requests have no latency to count: with any, the goal is not met.
    const p99 =
      paced.failed > 0 ? Number.POSITIVE_INFINITY : Math.max(atRate.latency.p99Ms, paced.service.p99Ms);
    console.log(`p99 at ${RATE} req/s: ${ms(p99)} (goal < ${GOAL_P99_MS} ms)\n`);
    if (ownUrl && driver === 'postgres') await removeFixture(tollgate.baseUrl, adminKey, fixture);
    return { driver: label, ratio, p99Ms: p99 };
  } finally {
    await Promise.all(servers.map(stopServer));
    await scratch?.drop();
    if (args.profile) console.log(`CPU profile of the Tollgate process: ${profileDir} (kept)\n`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const drivers = args.db.split(',').map((name) => name.trim());
  for (const name of drivers) {
    if (name !== 'pglite' && name !== 'postgres') throw new Error(`--db: unknown database '${name}'`);
  }
  // Tollgate runs as `npm start` runs it: the compiled dist/, not through the tsx loader.
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  console.log('(figures depend on the machine and on whatever else runs on it)\n');
  const outcomes: Outcome[] = [];
  for (const driver of drivers as ('pglite' | 'postgres')[]) outcomes.push(await measure(driver));
  for (const outcome of outcomes) {
    console.log(
      `${outcome.driver}: goal ratio >= ${GOAL_RATIO}: ${outcome.ratio >= GOAL_RATIO ? 'met' : 'NOT met'} ` +
        `(${outcome.ratio.toFixed(3)}); goal p99 < ${GOAL_P99_MS} ms at ${RATE} req/s: ` +
        `${outcome.p99Ms < GOAL_P99_MS ? 'met' : 'NOT met'} (${ms(outcome.p99Ms)})`,
    );
  }
}

main().catch((error) => {
  console.error(`bench:http failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
