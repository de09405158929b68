import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { type DbHandle, openDatabase } from '../../src/db/index.js';
import { migrate } from '../../src/db/migrate.js';
import { ensureAdminKey } from '../../src/modules/accounts/api-keys.js';
import { OPERATOR } from '../../src/tenancy.js';

/**
 * Test harness: a fresh database per test file (PGlite in memory, or a new PostgreSQL database
 * when TEST_DB=postgres), migrations applied, the real app built on it, an admin key known.
 * Requests go through Fastify's full request pipeline (inject) or a listening server.
 */
export const TEST_DB = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';
const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const ADMIN_KEY = 'tgk_test_admin_0123456789abcdefghijklmnop';

export interface TestResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: T;
  text: string;
}

export interface RequestOptions {
  key?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

export interface TestApp {
  app: Awaited<ReturnType<typeof buildApp>>['app'];
  routes: Awaited<ReturnType<typeof buildApp>>['routes'];
  inFlight: Awaited<ReturnType<typeof buildApp>>['inFlight'];
  handle: DbHandle;
  config: Config;
  request<T = any>(method: string, url: string, options?: RequestOptions): Promise<TestResponse<T>>;
  /** An admin JSON call that must succeed (asserted): the envelope's `data`. For fixtures. */
  data<T = any>(method: string, url: string, body?: unknown): Promise<T>;
  /** Starts a real listening server on 127.0.0.1 and returns its base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tg_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = TEST_DB === 'postgres' ? await createPostgresDatabase() : null;
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    TOLLGATE_DATA_DIR: 'memory://',
    TOLLGATE_ADMIN_KEY: ADMIN_KEY,
    // The tests' webhook receivers listen on loopback, which deliveries may not reach by default.
    WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8,::1',
    ...(database ? { DATABASE_URL: database.url } : {}),
    ...env,
  });
  const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrate(handle);
  await ensureAdminKey(handle.db, OPERATOR, ADMIN_KEY);
  const { app, routes, inFlight } = await buildApp(config, handle.db);
  await app.ready();

  const testApp: TestApp = {
    app,
    routes,
    inFlight,
    handle,
    config,
    async data(method, url, body) {
      const response = await testApp.request(method, url, body === undefined ? {} : { body });
      assert.ok(response.status < 300, `${method} ${url}: ${response.text}`);
      return response.body.data;
    },
    async request(method, url, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const key = options.key === undefined ? ADMIN_KEY : options.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let payload: string | Buffer | undefined;
      if (options.body !== undefined) {
        if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) payload = options.body;
        else {
          payload = JSON.stringify(options.body);
          headers['content-type'] ??= 'application/json';
        }
      }
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers,
        ...(payload !== undefined ? { payload } : {}),
        ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
      });
      const type = String(response.headers['content-type'] ?? '');
      return {
        status: response.statusCode,
        headers: response.headers,
        text: response.body,
        body: type.includes('json') && response.body ? JSON.parse(response.body) : response.body,
      };
    },
    async listen() {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address() as AddressInfo;
      return `http://127.0.0.1:${address.port}`;
    },
    async close() {
      await app.close();
      await handle.close();
      await database?.drop();
    },
  };
  return testApp;
}
