import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import { runPaymentJobsOnce } from './jobs.js';
import { contextOf } from './routes.js';

/** `tollgate payments run-due`: one run of the payment jobs (recurring, then reconciliation); prints the summary. */
export async function runPaymentsRunDue(db: Db, config: Config): Promise<number> {
  const summary = await runPaymentJobsOnce(contextOf(db, config));
  const { recurring, reconciliation } = summary;
  console.log(
    `recurring: ${recurring.charged} charged, ${recurring.failed} failed, ${recurring.suspended} suspended; ` +
      `reconciliation: ${reconciliation.checked} checked, ${reconciliation.settled} settled`,
  );
  return 0;
}
