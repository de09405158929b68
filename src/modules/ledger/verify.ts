import { sql } from 'kysely';
import type { Db } from '../../db/index.js';

/**
 * `tollgate ledger verify`: recomputes the ledger's invariants from the journal over the whole
 * database. Each check is one query; each reports at most PROBLEMS_PER_CHECK offenders.
 *   1. every transaction has ≥ 2 postings and they sum to zero per currency;
 *   2. every account's stored balance equals the sum of its postings, each posting's
 *      balance_after is the running sum, and postings are in their account's currency;
 *   3. no debit took a balance below the credit limit in force then, unless overdraft was allowed.
 */
const PROBLEMS_PER_CHECK = 100;

export interface VerifyReport {
  transactions: number;
  accounts: number;
  postings: number;
  problems: string[];
}

interface Check {
  describe(row: Record<string, unknown>): string;
  query: ReturnType<typeof sql<Record<string, unknown>>>;
}

const CHECKS: Check[] = [
  {
    describe: (row) => `transaction ${row.id} has ${row.n} posting(s); a transaction needs at least 2`,
    query: sql`select t.id, count(p.id) as n from ledger_transactions t left join ledger_postings p on p.transaction_id = t.id
               group by t.id having count(p.id) < 2`,
  },
  {
    describe: (row) =>
      `transaction ${row.transaction_id}: postings in ${row.currency} sum to ${row.total}, not 0`,
    query: sql`select transaction_id, currency, sum(amount)::text as total from ledger_postings
               group by transaction_id, currency having sum(amount) <> 0`,
  },
  {
    describe: (row) =>
      `account ${row.id}: stored balance ${row.balance} but its postings sum to ${row.total}`,
    query: sql`select a.id, a.balance::text as balance, coalesce(sum(p.amount), 0)::text as total
               from ledger_accounts a left join ledger_postings p on p.account_id = a.id
               group by a.id, a.balance having a.balance <> coalesce(sum(p.amount), 0)`,
  },
  {
    describe: (row) =>
      `posting ${row.id}: balance_after ${row.balance_after} but the running sum is ${row.running}`,
    query: sql`select id, balance_after::text as balance_after, running::text as running from (
                 select id, balance_after, sum(amount) over (partition by account_id order by seq) as running
                 from ledger_postings) x
               where running <> balance_after`,
  },
  {
    describe: (row) => `posting ${row.id} is in ${row.currency} on an account in ${row.account_currency}`,
    query: sql`select p.id, p.currency, a.currency as account_currency from ledger_postings p
               join ledger_accounts a on a.id = p.account_id where p.currency <> a.currency`,
  },
  {
    describe: (row) =>
      `posting ${row.id} took account ${row.account_id} to ${row.balance_after}, below its credit limit ${row.credit_limit}, without overdraft`,
    query: sql`select p.id, p.account_id, p.balance_after::text as balance_after, p.credit_limit::text as credit_limit
               from ledger_postings p join ledger_transactions t on t.id = p.transaction_id
               where p.amount < 0 and p.credit_limit is not null and p.balance_after < p.credit_limit
                 and not t.allow_overdraft`,
  },
];

export async function verifyLedger(db: Db): Promise<VerifyReport> {
  const problems: string[] = [];
  for (const check of CHECKS) {
    const result = await sql<Record<string, unknown>>`${check.query} limit ${PROBLEMS_PER_CHECK}`.execute(db);
    problems.push(...result.rows.map(check.describe));
  }
  const counts = await sql<{ transactions: number; accounts: number; postings: number }>`
    select (select count(*) from ledger_transactions)::int as transactions,
           (select count(*) from ledger_accounts)::int as accounts,
           (select count(*) from ledger_postings)::int as postings`.execute(db);
  return { ...counts.rows[0]!, problems };
}
