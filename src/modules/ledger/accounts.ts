import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { Decimal, formatAmount } from '../../money/index.js';

/**
 * Ledger accounts: one balance account per customer and per partner (in its currency), and the
 * operator's own accounts, one per code and currency. Accounts are created on first posting,
 * never by a read, so a ledger account always means money history.
 */

/** The operator's accounts. Gateways get their own payments-clearing account each. */
export type OperatorAccountCode =
  | 'revenue:calls'
  | 'revenue:other'
  | 'adjustments'
  | 'transfers'
  | `clearing:${string}`;

/** Whose balance a posting moves. */
export type AccountOwner =
  | { kind: 'customer'; id: string }
  | { kind: 'partner'; id: string }
  | { kind: 'operator'; code: OperatorAccountCode };

/** Current balances of customers/partners by owner id; an owner without history has none yet (0). */
export async function balancesOf(db: Db, ownerIds: string[]): Promise<Map<string, Decimal>> {
  const balances = new Map<string, Decimal>();
  if (ownerIds.length === 0) return balances;
  const rows = await db
    .selectFrom('ledger_accounts')
    .select(['owner_id', 'balance'])
    .where('owner_id', 'in', ownerIds)
    .execute();
  for (const row of rows) balances.set(row.owner_id!, new Decimal(row.balance));
  return balances;
}

export async function balanceOf(db: Db, ownerId: string): Promise<Decimal> {
  return (await balancesOf(db, [ownerId])).get(ownerId) ?? new Decimal(0);
}

/** The balance account of a customer or partner, if it has money history. */
export async function findOwnerAccount(db: Db, ownerId: string) {
  return db.selectFrom('ledger_accounts').selectAll().where('owner_id', '=', ownerId).executeTakeFirst();
}

/** What customer and partner representations show about money, as exact decimal strings. */
export interface MoneyView {
  balance: string;
  credit_limit: string;
  /** balance − credit_limit: how much more can be spent before the limit. */
  available: string;
}

export async function moneyViews(
  db: Db,
  accounts: { id: string; credit_limit: string }[],
): Promise<Map<string, MoneyView>> {
  const balances = await balancesOf(
    db,
    accounts.map((account) => account.id),
  );
  return new Map(
    accounts.map((account) => [
      account.id,
      moneyViewOf({
        balance: (balances.get(account.id) ?? new Decimal(0)).toFixed(),
        credit_limit: account.credit_limit,
      }),
    ]),
  );
}

/**
 * The balance of the account whose owner id is in `ownerIdColumn`, as a correlated subquery other
 * modules embed in their own SELECT (`'0'` without money history). Reading a customer with its
 * balance is then one round trip instead of two; the ledger still owns the table and the rule.
 */
export function balanceColumn(ownerIdColumn: 'customers.id' | 'partners.id') {
  return sql<string>`coalesce((select la.balance::text from ledger_accounts la where la.owner_id = ${sql.ref(ownerIdColumn)}), '0')`;
}

/** The money view of an account read together with `balanceColumn`. */
export function moneyViewOf(account: { balance: string; credit_limit: string }): MoneyView {
  const balance = new Decimal(account.balance);
  return {
    balance: formatAmount(balance),
    credit_limit: formatAmount(account.credit_limit),
    available: formatAmount(balance.minus(account.credit_limit)),
  };
}

export async function moneyView(db: Db, account: { id: string; credit_limit: string }): Promise<MoneyView> {
  return (await moneyViews(db, [account])).get(account.id)!;
}
