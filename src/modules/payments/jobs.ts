import type { FastifyBaseLogger } from 'fastify';
import { processIpnInbox } from './ipn-inbox.js';
import { reconcileTransactions } from './reconcile.js';
import { type RunSummary, runDueRecurringPayments } from './recurring.js';
import type { PaymentContext } from './transactions.js';

/**
 * The payments background work: charge due recurring payments, then reconcile transactions
 * left pending or unknown. Safe to run in several processes at once on one PostgreSQL: each
 * recurring occurrence is claimed by compare-and-set, and a reconciled answer is applied under
 * the payment's row lock (first answer wins), so nothing is charged or posted twice.
 */
export interface PaymentJobsSummary {
  recurring: RunSummary;
  reconciliation: { checked: number; settled: number };
  /** PayPal IPNs verified and applied from the inbox (retries after PayPal did not answer). */
  ipns: number;
}

export async function runPaymentJobsOnce(ctx: PaymentContext): Promise<PaymentJobsSummary> {
  const recurring = await runDueRecurringPayments(ctx);
  const reconciliation = await reconcileTransactions(ctx);
  const ipns = (await processIpnInbox(ctx)).size;
  return { recurring, reconciliation, ipns };
}

export interface PaymentJobs {
  /** Stops scheduling and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

/**
 * Runs the jobs every `intervalSeconds` (PAYMENTS_JOB_INTERVAL_SECONDS; 0 disables), one run at
 * a time: the next run is scheduled only when the previous one has finished.
 */
export function startPaymentJobs(
  ctx: PaymentContext,
  intervalSeconds: number,
  log: FastifyBaseLogger,
): PaymentJobs {
  if (intervalSeconds === 0) return { stop: async () => {} };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    running = runPaymentJobsOnce(ctx)
      .then((summary) => {
        const { recurring, reconciliation } = summary;
        if (recurring.charged + recurring.failed + reconciliation.checked + summary.ipns > 0)
          log.info(summary, 'payment jobs ran');
      })
      .catch((err: unknown) => log.error({ err }, 'payment jobs failed; next run as scheduled'))
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
