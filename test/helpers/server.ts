import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.js';

/**
 * A real `tollgate serve` process on its own fresh PostgreSQL database, for crash-safety tests
 * and the benchmarks (they need a process they can kill or load from outside), and the small
 * HTTP helpers they share.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BASE_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const STARTUP_TIMEOUT_MS = 120_000;

export const SERVER_ADMIN_KEY = 'tgk_ledger_server_admin_key_0123456789';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ScratchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const run = async (statement: string) => {
    const client = new pg.Client({ connectionString: BASE_DATABASE_URL });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await run(`create database ${name}`);
  const url = new URL(BASE_DATABASE_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop: () => run(`drop database if exists ${name} with (force)`) };
}

export interface ServerProcess {
  baseUrl: string;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no graceful shutdown, in-flight requests die with the process. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** Node arguments that run Tollgate's server from source, with the server's V8 flags. */
export function tollgateSourceArgs(): string[] {
  return [...SERVER_NODE_FLAGS, '--import', 'tsx', 'src/main.ts', 'serve'];
}

export async function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, tollgateSourceArgs(), {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      TOLLGATE_ADMIN_KEY: SERVER_ADMIN_KEY,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '10000000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  const server: ServerProcess = {
    baseUrl: `http://127.0.0.1:${port}`,
    child,
    output: () => tail,
    kill9: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    const ready = await fetch(`${server.baseUrl}/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return server;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await server.kill9();
  throw new Error(`tollgate did not become ready on ${server.baseUrl}\n${tail}`);
}

/** A JSON API call with the envelope unwrapped; throws with the message on a non-2xx answer. */
// biome-ignore lint/suspicious/noExplicitAny: test callers read whatever fields the route returns
export async function api<T = any>(
  baseUrl: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const envelope = (await response.json()) as { data: T; message?: string };
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${envelope.message}`);
  return envelope.data;
}

export interface TransferPair {
  partnerId: string;
  partnerKey: string;
  customerId: string;
  accountNumber: string;
}

/** A partner funded with `funds` (an operator adjustment) and one customer of it. */
export async function createTransferPair(
  baseUrl: string,
  funds: string,
  customerLimit = '0',
): Promise<TransferPair> {
  const admin = SERVER_ADMIN_KEY;
  const partner = await api(baseUrl, admin, 'POST', '/api/v1/partners', {
    name: 'bench partner',
    currency: 'USD',
  });
  const customer = await api(baseUrl, admin, 'POST', '/api/v1/customers', {
    name: 'bench customer',
    partner_id: partner.id,
    credit_limit: customerLimit,
  });
  const key = await api(baseUrl, admin, 'POST', '/api/v1/api-keys', {
    role: 'partner',
    partner_id: partner.id,
  });
  await api(baseUrl, admin, 'POST', `/api/v1/partners/${partner.id}/adjustments`, {
    amount: `-${funds}`,
    description: 'prepayment',
  });
  return {
    partnerId: partner.id,
    partnerKey: key.key,
    customerId: customer.id,
    accountNumber: customer.account_number,
  };
}
