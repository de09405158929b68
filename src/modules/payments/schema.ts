import type { ColumnType } from 'kysely';
import type { PaymentState, TransactionKind, TransactionStatus } from './state-machine.js';

/** Tables owned by the payments module (migrations/0005_payments.sql). Numerics travel as text. */

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | undefined, Date>;
type Amount = ColumnType<string, string | undefined, string>;

export type GatewayType = 'test' | 'stripe' | 'paypal' | 'moneris';

export interface PaymentGatewaysTable {
  id: string;
  type: GatewayType;
  name: string;
  mode: 'test' | 'live';
  currency: string;
  credentials_sealed: string;
  settings: ColumnType<Record<string, string>, string | undefined, string>;
  is_default: ColumnType<boolean, boolean | undefined, boolean>;
  status: ColumnType<'active' | 'disabled', 'active' | 'disabled' | undefined, 'active' | 'disabled'>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface PaymentProfilesTable {
  id: string;
  customer_id: string;
  gateway_id: string | null;
  kind: 'card' | 'bank';
  token: string;
  brand: string | null;
  last4: string;
  exp_month: number | null;
  exp_year: number | null;
  holder_name: string;
  billing_address: string | null;
  billing_city: string | null;
  billing_state: string | null;
  billing_postal_code: string | null;
  billing_country: string | null;
  email: string | null;
  currency: string;
  is_default: ColumnType<boolean, boolean | undefined, boolean>;
  status: ColumnType<'active' | 'removed', 'active' | 'removed' | undefined, 'active' | 'removed'>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export type PaymentMethod = 'card' | 'bank' | 'thirdparty' | 'paypal';

export interface PaymentsTable {
  id: string;
  customer_id: string;
  profile_id: string | null;
  gateway_id: string | null;
  method: PaymentMethod;
  currency: string;
  state: ColumnType<PaymentState, PaymentState | undefined, PaymentState>;
  authorized_amount: Amount;
  captured_amount: Amount;
  refunded_amount: Amount;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface PaymentTransactionsTable {
  id: string;
  payment_id: string;
  customer_id: string;
  kind: TransactionKind;
  amount: string;
  currency: string;
  status: TransactionStatus;
  gateway_key: string;
  gateway_reference: string | null;
  /** The idempotency key sent to the gateway (migrations/0007). */
  gateway_request_key: ColumnType<string | null, string | null | undefined, string | null>;
  error_code: string | null;
  error_message: string | null;
  reference: string | null;
  description: string | null;
  ledger_transaction_id: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export type RecurringInterval = 'daily' | 'weekly' | 'monthly' | 'yearly';
export type RecurringStatus = 'active' | 'suspended' | 'removed';

export interface RecurringPaymentsTable {
  id: string;
  customer_id: string;
  profile_id: string;
  amount: string;
  currency: string;
  interval: RecurringInterval;
  /** Calendar dates (UTC) as YYYY-MM-DD text. */
  start_date: string;
  anchor_day: number;
  next_date: string;
  status: ColumnType<RecurringStatus, RecurringStatus | undefined, RecurringStatus>;
  failure_count: ColumnType<number, number | undefined, number>;
  last_error: string | null;
  last_run_at: Date | null;
  description: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface PaymentNotificationsTable {
  id: string;
  source: 'stripe' | 'paypal';
  external_id: string;
  outcome: string;
  payload: string;
  created_at: CreatedAt;
}

export interface PaypalIpnInboxTable {
  id: string;
  gateway_id: string;
  /** The message exactly as received (latin1 text of the raw bytes). */
  body: string;
  status: ColumnType<'pending' | 'done' | 'failed', 'pending' | undefined, 'pending' | 'done' | 'failed'>;
  outcome: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | undefined, Date>;
  claimed_until: Date | null;
  received_at: ColumnType<Date, Date | undefined, never>;
}

export interface PaymentsTables {
  payment_gateways: PaymentGatewaysTable;
  payment_profiles: PaymentProfilesTable;
  payments: PaymentsTable;
  payment_transactions: PaymentTransactionsTable;
  recurring_payments: RecurringPaymentsTable;
  payment_notifications: PaymentNotificationsTable;
  paypal_ipn_inbox: PaypalIpnInboxTable;
}
