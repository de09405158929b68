import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/index.js';
import { DELIVERY_BATCH_SIZE, type DeliverySummary, deliverDueEvents } from './delivery.js';

/**
 * The background delivery loop `serve` starts: every WEBHOOK_INTERVAL_SECONDS (0 disables) it
 * drains what is due, batch after batch, up to MAX_BATCHES_PER_RUN so one run stays bounded.
 * One run at a time per process; several processes share the queue safely (see delivery.ts).
 */
const MAX_BATCHES_PER_RUN = 50;

export async function drainDueEvents(db: Db, secretsKey: Buffer): Promise<DeliverySummary> {
  const total: DeliverySummary = { claimed: 0, delivered: 0, retrying: 0, failed: 0 };
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
    const summary = await deliverDueEvents(db, new Date(), { secretsKey });
    total.claimed += summary.claimed;
    total.delivered += summary.delivered;
    total.retrying += summary.retrying;
    total.failed += summary.failed;
    if (summary.claimed < DELIVERY_BATCH_SIZE) break;
  }
  return total;
}

export interface WebhookWorker {
  /** Stops scheduling and waits for a run in progress (at most one delivery timeout). */
  stop(): Promise<void>;
}

export function startWebhookWorker(
  db: Db,
  secretsKey: Buffer,
  intervalSeconds: number,
  log: FastifyBaseLogger,
): WebhookWorker {
  if (intervalSeconds === 0) return { stop: async () => {} };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    running = drainDueEvents(db, secretsKey)
      .then((summary) => {
        if (summary.claimed > 0) log.info(summary, 'webhook deliveries ran');
      })
      .catch((err: unknown) => log.error({ err }, 'webhook delivery failed; next run as scheduled'))
      .finally(() => {
        running = null;
        if (!stopped) timer = setTimeout(tick, intervalSeconds * 1000);
      });
  };
  timer = setTimeout(tick, intervalSeconds * 1000);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
