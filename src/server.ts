import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { type DbHandle, openDatabase } from './db/index.js';
import { migrate } from './db/migrate.js';
import { purgeExpiredIdempotencyKeys } from './http/idempotency.js';
import { ensureAdminKey } from './modules/accounts/api-keys.js';
import { startPaymentJobs } from './modules/payments/jobs.js';
import { contextOf } from './modules/payments/routes.js';
import { EgressPolicy } from './modules/webhooks/egress.js';
import { startWebhookWorker } from './modules/webhooks/worker.js';
import { OPERATOR } from './tenancy.js';

/**
 * PGlite is one connection in one process: a second process opening the same data directory
 * would corrupt it. The server holds a pid file there; the CLI refuses while it is alive.
 */
export function pidFile(config: Config): string | null {
  // PostgreSQL needs no guard, and an in-memory PGlite has no directory to share.
  if (config.databaseUrl || config.dataDir === 'memory://') return null;
  return join(config.dataDir, 'tollgate.pid');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function assertDataDirFree(config: Config): void {
  const file = pidFile(config);
  if (!file || !existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8'));
  if (pid !== process.pid && processAlive(pid)) {
    throw new Error(
      `The Tollgate server (pid ${pid}) is using the embedded database in ${config.dataDir}. ` +
        'Stop it first, use the API, or run with DATABASE_URL on PostgreSQL.',
    );
  }
}

/** Opens the database for a command: migrations applied, data directory checked. */
export async function openMigrated(config: Config): Promise<DbHandle> {
  assertDataDirFree(config);
  const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrate(handle);
  return handle;
}

export async function serve(config: Config): Promise<void> {
  const handle = await openMigrated(config);
  const lock = pidFile(config);
  if (lock) writeFileSync(lock, String(process.pid));
  const { app, inFlight } = await buildApp(config, handle.db);
  // Stored idempotent answers are kept IDEMPOTENCY_TTL_HOURS; prune older ones hourly.
  const purge = setInterval(() => {
    purgeExpiredIdempotencyKeys(handle.db, config.idempotencyTtlHours).catch((err) =>
      app.log.warn({ err }, 'could not prune idempotency keys'),
    );
  }, 3_600_000).unref();
  const paymentJobs = startPaymentJobs(
    contextOf(handle.db, config),
    config.paymentsJobIntervalSeconds,
    app.log,
  );
  const webhookWorker = startWebhookWorker(
    handle.db,
    { secretsKey: config.secretsKey, egress: new EgressPolicy(config.webhookAllowedNetworks) },
    config.webhookIntervalSeconds,
    app.log,
  );
  if (config.adminKey && (await ensureAdminKey(handle.db, OPERATOR, config.adminKey))) {
    app.log.info('created the operator admin key from TOLLGATE_ADMIN_KEY');
  }
  // SIGTERM/SIGINT: stop accepting, let in-flight requests finish, then close the database.
  closeWithGrace({ delay: config.shutdownGraceMs, logger: app.log }, async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    clearInterval(purge);
    await paymentJobs.stop();
    await webhookWorker.stop();
    await app.close();
    // Requests whose clients hung up may still be running; give them the rest of the grace period.
    if (!(await inFlight.drain(Math.max(0, config.shutdownGraceMs - 1000)))) {
      app.log.warn('closing the database with requests still running');
    }
    await handle.close();
    if (lock) rmSync(lock, { force: true });
  });
  await app.listen({ port: config.port, host: config.host });
}
