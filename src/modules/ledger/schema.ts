import type { ColumnType, Generated } from 'kysely';

/** Tables owned by the ledger module (migrations/0003_ledger.sql). Numerics travel as text. */

export type LedgerOwnerKind = 'customer' | 'partner' | 'operator';

type Numeric = ColumnType<string, string, string>;
type CreatedAt = ColumnType<Date, Date | undefined, never>;

export interface LedgerAccountsTable {
  id: string;
  owner_kind: LedgerOwnerKind;
  owner_id: string | null;
  code: string | null;
  currency: string;
  balance: ColumnType<string, string | undefined, string>;
  created_at: CreatedAt;
}

export interface LedgerTransactionsTable {
  id: string;
  category: string;
  description: string;
  reference: string | null;
  reference_key: string | null;
  effective_at: Date;
  allow_overdraft: boolean;
  created_at: CreatedAt;
}

export interface LedgerPostingsTable {
  id: string;
  seq: Generated<number>;
  transaction_id: string;
  account_id: string;
  amount: Numeric;
  currency: string;
  balance_after: Numeric;
  credit_limit: string | null;
  category: string;
  effective_at: Date;
}

export interface LedgerTables {
  ledger_accounts: LedgerAccountsTable;
  ledger_transactions: LedgerTransactionsTable;
  ledger_postings: LedgerPostingsTable;
}
