import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TEST_DB } from './helpers/app.js';
import { freePort } from './helpers/server.js';

/**
 * The real process: `tollgate serve` on a fresh embedded database, the bootstrap admin key,
 * graceful shutdown on SIGTERM, settings validation and the CLI. PGlite-only (the process
 * behaviour does not depend on the driver), so it runs once.
 */
const skip = TEST_DB !== 'pglite';
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-proc-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
const ADMIN = 'tgk_process_test_admin_key_0123456789';
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    env: { ...process.env, TOLLGATE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', DATABASE_URL: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });

async function waitForReady(base: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await fetch(`${base}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('server not ready in 30 s');
}

test('a bad setting stops the process with a message naming it', { skip }, () => {
  const run = cli(['serve'], { PORT: 'eighty' });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /PORT must be a whole number, got 'eighty'/);
  const url = cli(['serve'], { DATABASE_URL: 'mysql://x' });
  assert.equal(url.status, 2);
  assert.match(url.stderr, /DATABASE_URL must start with postgres/);
});

test('tollgate migrate and keys create work on the embedded database', { skip }, () => {
  assert.equal(cli(['migrate']).status, 0);
  const keys = cli(['keys', 'create', '--role', 'admin', '--description', 'from test']);
  assert.equal(keys.status, 0, keys.stderr);
  assert.match(keys.stdout.trim(), /^tgk_[A-Za-z0-9_-]{43}$/);
  const partnerRole = cli(['keys', 'create', '--role', 'partner']);
  assert.equal(partnerRole.status, 2);
});

test('serve: bootstrap key, real HTTP, CLI refuses while it runs, graceful SIGTERM', { skip }, async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    env: {
      ...process.env,
      TOLLGATE_DATA_DIR: dataDir,
      TOLLGATE_ADMIN_KEY: ADMIN,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DATABASE_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForReady(base, child);
    const res = await fetch(`${base}/api/v1/customers`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(res.status, 200);
    assert.ok(existsSync(join(dataDir, 'tollgate.pid')));

    const refused = cli(['keys', 'create', '--role', 'admin']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /is using the embedded database/);

    // An in-flight request finishes after SIGTERM; the process then exits cleanly.
    const inFlight = fetch(`${base}/api/v1/partners`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Shutdown Ltd', currency: 'USD' }),
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    child.kill('SIGTERM');
    const answered = await inFlight;
    assert.equal(answered.status, 201);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.ok(!existsSync(join(dataDir, 'tollgate.pid')), 'pid file removed');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  // The data survived the restart-less shutdown and the CLI may open the directory again.
  assert.equal(cli(['migrate']).status, 0);
});
