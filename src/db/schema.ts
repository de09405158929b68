import type { ColumnType } from 'kysely';
import type { AccountsTables } from '../modules/accounts/schema.js';
import type { CdrsTables } from '../modules/cdrs/schema.js';
import type { LedgerTables } from '../modules/ledger/schema.js';
import type { PaymentsTables } from '../modules/payments/schema.js';
import type { RatingTables } from '../modules/rating/schema.js';
import type { WebhooksTables } from '../modules/webhooks/schema.js';

/** Platform tables owned by the HTTP layer (migrations/0001_platform.sql). */
interface IdempotencyKeysTable {
  scope: string;
  key: string;
  fingerprint: string;
  /** 'replay': done, answered by running the request again (its effect replays; migrations/0027). */
  state: 'running' | 'done' | 'replay';
  status_code: number | null;
  content_type: string | null;
  body: string | null;
  created_at: ColumnType<Date, Date | undefined, Date>;
}

/** The whole database as Kysely sees it: each module contributes its own tables. */
export interface Database
  extends AccountsTables,
    LedgerTables,
    RatingTables,
    PaymentsTables,
    CdrsTables,
    WebhooksTables {
  idempotency_keys: IdempotencyKeysTable;
}
