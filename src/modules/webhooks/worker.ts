import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/index.js';
import { type PeriodicJob, startPeriodicJob } from '../../jobs/periodic.js';
import {
  DELIVERY_BATCH_SIZE,
  type DeliveryOptions,
  type DeliverySummary,
  deliverDueEvents,
} from './delivery.js';

/**
 * The background delivery loop `serve` starts: every WEBHOOK_INTERVAL_SECONDS (0 disables) it
 * drains what is due, batch after batch, up to MAX_BATCHES_PER_RUN so one run stays bounded.
 * One run at a time per process; several processes share the queue safely (see delivery.ts).
 */
const MAX_BATCHES_PER_RUN = 50;

export async function drainDueEvents(db: Db, options: DeliveryOptions): Promise<DeliverySummary> {
  const total: DeliverySummary = { claimed: 0, delivered: 0, retrying: 0, failed: 0 };
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
    const summary = await deliverDueEvents(db, new Date(), options);
    total.claimed += summary.claimed;
    total.delivered += summary.delivered;
    total.retrying += summary.retrying;
    total.failed += summary.failed;
    if (summary.claimed < DELIVERY_BATCH_SIZE) break;
  }
  return total;
}

export function startWebhookWorker(
  db: Db,
  options: DeliveryOptions,
  intervalSeconds: number,
  log: FastifyBaseLogger,
): PeriodicJob {
  return startPeriodicJob(
    'webhook deliveries',
    intervalSeconds,
    () => drainDueEvents(db, options),
    log,
    (summary) => summary.claimed > 0,
  );
}
