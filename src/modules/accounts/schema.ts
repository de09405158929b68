import type { ColumnType, Generated } from 'kysely';

/** Tables owned by the accounts module (migrations/0002_accounts.sql). */

export type AccountStatus = 'active' | 'suspended' | 'closed';

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | undefined, Date>;

export interface AccountNumbersTable {
  account_number: string;
  owner_id: string;
}

interface AccountColumns {
  id: string;
  account_number: string;
  name: string;
  status: ColumnType<AccountStatus, AccountStatus | undefined, AccountStatus>;
  currency: string;
  /** numeric(28,8): text in and out, never a JS number. */
  credit_limit: ColumnType<string, string | undefined, string>;
  email: string | null;
  phone: string | null;
  address: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export type PartnersTable = AccountColumns;

export interface CustomersTable extends AccountColumns {
  partner_id: string | null;
  /** The customer's sell rate card (rating module, migrations/0004_rating.sql). */
  ratecard_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Calls in progress allowed at once; null is unlimited (cdrs module, migrations/0006_cdrs.sql). */
  concurrent_call_limit: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface ApiKeysTable {
  id: string;
  key_hash: string;
  key_prefix: string;
  description: string | null;
  role: 'admin' | 'partner' | 'customer';
  partner_id: string | null;
  customer_id: string | null;
  allowed_ips: ColumnType<string[], string[] | undefined, string[]>;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Generated<Date>;
}

export interface AccountsTables {
  account_numbers: AccountNumbersTable;
  partners: PartnersTable;
  customers: CustomersTable;
  api_keys: ApiKeysTable;
}
