import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
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

const OPERATOR_CODE = /^(revenue:calls|revenue:other|adjustments|transfers|clearing:[a-z0-9_-]{1,40})$/;

/** Whose balance a posting moves. */
export type AccountOwner =
  | { kind: 'customer'; id: string }
  | { kind: 'partner'; id: string }
  | { kind: 'operator'; code: OperatorAccountCode };

export interface LockedAccount {
  id: string;
  owner_kind: 'customer' | 'partner' | 'operator';
  owner_id: string | null;
  code: string | null;
  currency: string;
  balance: Decimal;
  /** The owner's lowest allowed balance; null for operator accounts (no limit). */
  creditLimit: Decimal | null;
}

export function ownerKey(owner: AccountOwner, currency: string): string {
  return owner.kind === 'operator' ? `operator:${owner.code}:${currency}` : `${owner.kind}:${owner.id}`;
}

function accountKey(row: {
  owner_kind: string;
  owner_id: string | null;
  code: string | null;
  currency: string;
}) {
  return row.owner_kind === 'operator'
    ? `operator:${row.code}:${row.currency}`
    : `${row.owner_kind}:${row.owner_id}`;
}

export interface AccountSelector {
  ids: string[];
  owners: { owner: AccountOwner; currency: string }[];
}

/**
 * Locks the named balance rows in id order (SELECT … FOR UPDATE ORDER BY id: PostgreSQL takes
 * the row locks in output order, so two transactions touching the same accounts always queue
 * instead of deadlocking) and reads the owners' current credit limits with them. The limits are
 * read from the accounts module's tables in the same statement: one round trip on the hot path.
 */
export async function lockAccounts(trx: Db, selector: AccountSelector): Promise<Map<string, LockedAccount>> {
  const ownerIds = selector.owners.flatMap(({ owner }) => (owner.kind === 'operator' ? [] : [owner.id]));
  const operatorPairs = selector.owners.flatMap(({ owner, currency }) =>
    owner.kind === 'operator' ? [`${owner.code}|${currency}`] : [],
  );
  const result = await sql<
    Omit<LockedAccount, 'balance' | 'creditLimit'> & { balance: string; credit_limit: string | null }
  >`
    select la.id, la.owner_kind, la.owner_id, la.code, la.currency, la.balance,
           coalesce(c.credit_limit, p.credit_limit) as credit_limit
    from ledger_accounts la
    left join customers c on la.owner_kind = 'customer' and c.id = la.owner_id
    left join partners p on la.owner_kind = 'partner' and p.id = la.owner_id
    where la.id = any(${selector.ids}::text[])
       or la.owner_id = any(${ownerIds}::text[])
       or (la.code || '|' || la.currency) = any(${operatorPairs}::text[])
    order by la.id
    for update of la`.execute(trx);
  const locked = new Map<string, LockedAccount>();
  for (const row of result.rows) {
    const account: LockedAccount = {
      id: row.id,
      owner_kind: row.owner_kind,
      owner_id: row.owner_id,
      code: row.code,
      currency: row.currency,
      balance: new Decimal(row.balance),
      creditLimit:
        row.owner_kind === 'operator' || row.credit_limit === null ? null : new Decimal(row.credit_limit),
    };
    locked.set(row.id, account);
    locked.set(accountKey(row), account);
  }
  return locked;
}

async function ownerCurrency(trx: Db, owner: Exclude<AccountOwner, { kind: 'operator' }>): Promise<string> {
  const table = owner.kind === 'customer' ? 'customers' : 'partners';
  const row = await trx.selectFrom(table).select('currency').where('id', '=', owner.id).executeTakeFirst();
  if (!row) throw notFound(owner.kind === 'customer' ? 'Customer' : 'Partner');
  return row.currency;
}

/**
 * Creates the missing balance accounts (concurrent creators race harmlessly: the unique keys
 * keep one, and the later creator waits for the first to commit). A customer's or partner's account is in its own currency; a posting in another
 * currency is refused, as there is no silent conversion in a ledger.
 */
export async function createMissingAccounts(
  trx: Db,
  missing: { owner: AccountOwner; currency: string }[],
): Promise<void> {
  // A stable creation order: two transactions creating the same new accounts queue on the
  // first one instead of each waiting for the other's uncommitted insert.
  const ordered = [...missing].sort((a, b) =>
    ownerKey(a.owner, a.currency).localeCompare(ownerKey(b.owner, b.currency)),
  );
  for (const { owner, currency } of ordered) {
    if (owner.kind === 'operator') {
      if (!OPERATOR_CODE.test(owner.code)) throw new Error(`unknown operator account code '${owner.code}'`);
      await trx
        .insertInto('ledger_accounts')
        .values({
          id: newId('ledgerAccount'),
          owner_kind: 'operator',
          owner_id: null,
          code: owner.code,
          currency,
        })
        .onConflict((oc) => oc.columns(['code', 'currency']).doNothing())
        .execute();
      continue;
    }
    const own = await ownerCurrency(trx, owner);
    if (own !== currency) {
      throw invalid(`The ${owner.kind}'s account is in ${own}; cannot post ${currency} to it`, 'currency');
    }
    await trx
      .insertInto('ledger_accounts')
      .values({
        id: newId('ledgerAccount'),
        owner_kind: owner.kind,
        owner_id: owner.id,
        code: null,
        currency,
      })
      .onConflict((oc) => oc.column('owner_id').doNothing())
      .execute();
  }
}

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
