import type { ColumnType } from 'kysely';

/** Tables owned by the CDRs module (migrations/0006_cdrs.sql). Numerics travel as text. */

export type Disposition = 'answered' | 'busy' | 'no_answer' | 'failed' | 'cancelled';
export const DISPOSITIONS: readonly Disposition[] = ['answered', 'busy', 'no_answer', 'failed', 'cancelled'];

export type RatingState = 'rated' | 'unrated';

type CreatedAt = ColumnType<Date, Date | undefined, never>;

export interface CdrsTable {
  id: string;
  /** The partner whose key sent the CDR; null: the operator's feed (migrations/0029). */
  sender_partner_id: string | null;
  switch_id: string;
  call_id: string;
  batch_id: string;
  customer_id: string | null;
  customer_ref: string;
  partner_id: string | null;
  carrier_id: string | null;
  caller: string;
  callee: string;
  start_time: Date;
  answer_time: Date | null;
  end_time: Date;
  duration: number;
  billsec: number;
  disposition: Disposition;
  hangup_cause: string | null;
  pdd_ms: number | null;
  tags: ColumnType<Record<string, string>, string, string>;
  rating_state: RatingState;
  unrated_reason: string | null;
  currency: string | null;
  sell_ratecard_id: string | null;
  sell_prefix: string | null;
  destination: string | null;
  sell_rate: string | null;
  billed_seconds: number | null;
  sell_cost: string | null;
  buy_ratecard_id: string | null;
  buy_rate: string | null;
  buy_cost: string | null;
  buy_currency: string | null;
  margin: string | null;
  charged_amount: ColumnType<string, string | undefined, string>;
  created_at: CreatedAt;
}

export interface LiveCallsTable {
  id: string;
  call_id: string;
  customer_id: string;
  callee: string;
  started_at: ColumnType<Date, Date | undefined, never>;
  expires_at: Date;
}

export interface CdrsTables {
  cdrs: CdrsTable;
  live_calls: LiveCallsTable;
}
