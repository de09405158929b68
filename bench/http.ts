/**
 * npm run bench:http — how much of bare Fastify's speed Tollgate keeps on its most common read.
 *
 * In one run: builds Tollgate (`npm run build`), starts a bare Fastify hello-world and the built
 * Tollgate server as `npm start` runs it (each its own process, same Node, no loader, default
 * settings: the access log is written, to a file), creates a customer and a customer key through
 * the API, then loads both on 127.0.0.1:
 *   1. closed loop (N connections as fast as answers come back), by wrk when installed, else
 *      autocannon (closed-loop.ts): both servers warmed up alike (15 s each: a fresh Tollgate
 *      needs that long to reach its steady speed), then several short rounds
 *      alternating hello-world and Tollgate (ABBA order), each round's ratio from two adjacent
 *      runs; the medians and the spread are reported, with each server's CPU per request;
 *   2. a fixed rate (default 1,000 req/s): p99 of the same GET from its schedule, sent evenly
 *      paced and open loop by bench/paced-sender.c, and the same for the hello-world. (autocannon's
 *      overallRate sends each connection's share of a second back to back: bursts, not a rate.)
 * Goal (issue 2): ratio >= 0.5 and p99 < 5 ms at 1,000 req/s. docs/operations.md explains the method.
 *
 * Runs once per database (--db, default both): the embedded PGlite in a temporary directory,
 * then PostgreSQL on a scratch database on TEST_DATABASE_URL's server (default
 * postgres://postgres@127.0.0.1:5432/test; dropped afterwards), or on DATABASE_URL when that is
 * set (the bench then deletes its customer and revokes its admin key when it is done). Both
 * servers are single processes.
 *
 *   npm run bench:http -- [--db pglite,postgres] [--rounds 6] [--round-seconds 4] [--warmup 15]
 *                         [--connections 10] [--generator wrk|autocannon] [--rate 1000]
 *                         [--seconds 10] [--profile]
 * --seconds is the length of each fixed-rate run; --profile writes a V8 CPU profile of the
 * Tollgate process (open it in Chrome DevTools).
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';
import { api, createScratchDatabase, type ScratchDatabase } from '../test/helpers/server.js';
import { type Generator, pickGenerator } from './closed-loop.js';
import { pacedLoad } from './paced-load.js';
import { type Contender, ms, perSecond, type RoundsOptions, rounds, summariseRounds } from './rounds.js';
import { helloWorldArgs, startNodeServer } from './servers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STOP_TIMEOUT_MS = 15_000;
const GOAL_RATIO = 0.5;
const GOAL_P99_MS = 5;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '6' },
    'round-seconds': { type: 'string', default: '4' },
    // A fresh Tollgate needs 10-15 s of load to reach its steady speed (bench/rating.ts).
    warmup: { type: 'string', default: '15' },
    generator: { type: 'string' },
    compare: { type: 'string' },
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
const ROUNDS = Number(args.rounds);
const ROUND_SECONDS = Number(args['round-seconds']);

interface Server {
  name: string;
  baseUrl: string;
  child: ChildProcess;
}

/**
 * A server process with its standard output in `logFile`, as a deployment writes it to a file or
 * a journal: read back through a pipe, a 20,000 req/s access log would be work for this process,
 * which also runs autocannon when wrk is missing.
 */
async function startServer(
  name: string,
  nodeArgs: string[],
  env: Record<string, string>,
  readyPath: string,
  logFile: string,
): Promise<Server> {
  const log = openSync(logFile, 'w');
  try {
    const { url, child } = await startNodeServer(nodeArgs, env, readyPath, {
      stdio: ['ignore', log, 'pipe'],
      output: () => readFileSync(logFile, 'utf8').slice(-4000),
    });
    return { name, baseUrl: url, child };
  } finally {
    closeSync(log);
  }
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

interface Outcome {
  driver: string;
  ratio: number;
  p99Ms: number;
}

interface Tollgate {
  server: Server;
  url: string;
  headers: Record<string, string>;
  fixture: Fixture;
  adminKey: string;
}

/** A Tollgate server from `distDir` with its own data (PGlite directory or scratch database) and fixture. */
async function startTollgate(
  name: string,
  distDir: string,
  workDir: string,
  databaseUrl: string,
  profileDir: string | null,
): Promise<Tollgate> {
  const adminKey = `tgk_${randomBytes(24).toString('base64url')}`;
  mkdirSync(workDir);
  const server = await startServer(
    name,
    [
      ...SERVER_NODE_FLAGS,
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      join(distDir, 'src/main.js'),
      'serve',
    ],
    {
      TOLLGATE_DATA_DIR: join(workDir, 'data'),
      TOLLGATE_ADMIN_KEY: adminKey,
      // Default settings otherwise (LOG_LEVEL info: the access log is written); only the limit is
      // raised, or the closed loop would be answered 429 within a second.
      RATE_LIMIT_MAX: '10000000',
      DATABASE_URL: databaseUrl,
    },
    '/ready',
    join(workDir, `${name}.log`),
  );
  const fixture = await createFixture(server.baseUrl, adminKey);
  return {
    server,
    url: `${server.baseUrl}/api/v1/customers/${fixture.customerId}`,
    headers: { authorization: `Bearer ${fixture.customerKey}` },
    fixture,
    adminKey,
  };
}

/** One section: hello-world and Tollgate (and any --compare builds) on one database. */
async function measure(driver: 'pglite' | 'postgres', generator: Generator): Promise<Outcome> {
  const workDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const ownUrl = process.env.DATABASE_URL;
  const builds = [
    ['tollgate', join(ROOT, 'dist')],
    ...(args.compare?.split(',') ?? []).map((dir) => [basename(dir), join(dir, 'dist')]),
  ];
  const scratches: ScratchDatabase[] = [];
  const label =
    driver === 'pglite' ? 'PGlite (embedded)' : ownUrl ? 'PostgreSQL (DATABASE_URL)' : 'PostgreSQL (scratch)';
  const profileDir = join(workDir, 'profile');
  const servers: Server[] = [];
  const tollgates: Tollgate[] = [];
  try {
    // The hello-world is plain JavaScript: run without a loader, as Tollgate's compiled dist/ is.
    const hello = await startServer(
      'hello-world',
      helloWorldArgs(),
      {},
      '/',
      join(workDir, 'hello-world.log'),
    );
    servers.push(hello);
    for (const [name, distDir] of builds) {
      const own =
        driver === 'postgres' && !ownUrl ? await createScratchDatabase('tollgate_bench_http') : null;
      if (own) scratches.push(own);
      const databaseUrl = driver === 'postgres' ? (ownUrl ?? own!.url) : '';
      const dir = join(workDir, name!);
      const tollgate = await startTollgate(
        name!,
        distDir!,
        dir,
        databaseUrl,
        args.profile && name === 'tollgate' ? profileDir : null,
      );
      servers.push(tollgate.server);
      tollgates.push(tollgate);
    }
    console.log(
      `bench:http on ${label}; ${generator}, ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up each, ` +
        `${ROUNDS} rounds of ${ROUND_SECONDS} s per server`,
    );
    const contenders: Contender[] = [
      {
        label: 'hello-world GET /',
        serverPid: hello.child.pid!,
        url: `${hello.baseUrl}/`,
        headers: {},
        runs: [],
      },
      ...tollgates.map((tollgate) => ({
        label: `${tollgate.server.name} GET /api/v1/customers/{id}`,
        serverPid: tollgate.server.child.pid!,
        url: tollgate.url,
        headers: tollgate.headers,
        runs: [],
      })),
    ];
    const options: RoundsOptions = {
      generator,
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_SECONDS,
      rounds: ROUNDS,
      roundSeconds: ROUND_SECONDS,
    };
    await rounds(contenders, options);
    const [ratio] = summariseRounds(contenders, options, GOAL_RATIO);
    console.log('');

    const { url: customerUrl, headers: auth } = tollgates[0]!;
    const helloPaced = await pacedLoad(`${hello.baseUrl}/`, {}, RATE, SECONDS);
    const paced = await pacedLoad(customerUrl, auth, RATE, SECONDS);
    for (const [name, run] of [
      ['hello-world', helloPaced],
      ['tollgate', paced],
    ] as const) {
      console.log(
        `${`${name} at ${RATE} req/s (evenly paced)`.padEnd(44)} ${perSecond(run.achievedPerSecond)}   ` +
          `p99 ${ms(run.service.p99Ms)} from send, ${ms(run.scheduled.p99Ms)} from schedule` +
          (run.failed > 0 ? `   ${run.failed} failed or abandoned` : '') +
          (run.achievedPerSecond < RATE * 0.95 ? '   (could not keep up with the rate)' : ''),
      );
    }
    // From schedule: a request's latency includes any wait for its send, so a stall of the server
    // counts for every request due during it. Failed requests have no latency to count: with any,
    // the goal is not met.
    const p99 = paced.failed > 0 ? Number.POSITIVE_INFINITY : paced.scheduled.p99Ms;
    console.log(`p99 at ${RATE} req/s: ${ms(p99)} (goal < ${GOAL_P99_MS} ms)\n`);
    if (ownUrl && driver === 'postgres') {
      for (const tollgate of tollgates)
        await removeFixture(tollgate.server.baseUrl, tollgate.adminKey, tollgate.fixture);
    }
    return { driver: label, ratio: ratio!, p99Ms: p99 };
  } finally {
    await Promise.all(servers.map(stopServer));
    for (const scratch of scratches) await scratch.drop();
    if (args.profile) console.log(`CPU profile of the Tollgate process: ${profileDir} (kept)\n`);
    else rmSync(workDir, { recursive: true, force: true });
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
  const generator = pickGenerator(args.generator);
  console.log('(figures depend on the machine and on whatever else runs on it)\n');
  const outcomes: Outcome[] = [];
  for (const driver of drivers as ('pglite' | 'postgres')[]) outcomes.push(await measure(driver, generator));
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
