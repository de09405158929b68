import type { Db } from '../../db/index.js';
import { verifyLedger } from './verify.js';

/** `tollgate ledger verify`: prints what it checked and every break; 0 when the ledger is sound. */
export async function runLedgerVerify(db: Db, log: (line: string) => void = console.log): Promise<number> {
  const report = await verifyLedger(db);
  log(
    `checked ${report.transactions} transactions, ${report.postings} postings, ${report.accounts} accounts`,
  );
  for (const problem of report.problems) log(`BROKEN: ${problem}`);
  log(report.problems.length === 0 ? 'ledger OK' : `${report.problems.length} problem(s) found`);
  return report.problems.length === 0 ? 0 : 1;
}
