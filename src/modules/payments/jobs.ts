import type { FastifyBaseLogger } from 'fastify';
import { type PeriodicJob, startPeriodicJob } from '../../jobs/periodic.js';
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

/**
 * Runs the jobs every `intervalSeconds` (PAYMENTS_JOB_INTERVAL_SECONDS; 0 disables), one run at
 * a time.
 */
export function startPaymentJobs(
  ctx: PaymentContext,
  intervalSeconds: number,
  log: FastifyBaseLogger,
): PeriodicJob {
  return startPeriodicJob(
    'payment jobs',
    intervalSeconds,
    () => runPaymentJobsOnce(ctx),
    log,
    ({ recurring, reconciliation, ipns }) =>
      recurring.charged + recurring.failed + reconciliation.checked + ipns > 0,
  );
}
