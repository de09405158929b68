import { sql } from 'kysely';
import { Batcher, batcherPerDb } from '../../db/batcher.js';
import { CLAIM_NOT_HELD, type EffectClaim } from '../../db/effect-claims.js';
import type { Db } from '../../db/index.js';
import { newId } from '../../ids.js';
import { Decimal, formatAmount } from '../../money/index.js';
import { webhookEventsWanted } from '../webhooks/events.js';
import { publishBalanceChanges } from './balance-changes.js';
import {
  loadTransaction,
  type PostedRow,
  type PostedTransaction,
  type PostingHeader,
  postWithStatement,
  referenceReused,
  refusalOf,
} from './posting.js';

/**
 * Partner→customer fund transfers with group commit (docs/decisions/0022-ledger-transfer-group-commit.md).
 * Transfers that arrive together or while earlier ones are being written go together in one
 * statement, ledger_transfer_funds_claimed() (migrations/0025: the requests' Idempotency-Key
 * claims, decision 0025, then ledger_transfer_funds_batch(), migrations/0016): one round trip,
 * one transaction and one WAL flush for all of them, each with its own result. An item the batch
 * statement does not take (a missing account, an unknown customer…) and every item of a batch
 * whose statement failed is posted alone by ledger_transfer_funds() (migrations/0012), which is
 * also the path inside a caller's transaction and while a webhook endpoint may want
 * balance.changed events (those are written in the posting's transaction).
 */

/** One transfer, checked and with its ids generated (operations.ts transferFunds). */
export interface TransferItem {
  header: PostingHeader;
  accountNumber: string;
  /** The calling partner (it reaches only its own customers); null for the operator. */
  partnerScope: string | null;
  /** The currency the request named, if any: it must be the customer's. */
  currency: string | null;
  /** Moves from the partner to the customer; negative moves back. */
  amount: Decimal;
  /** The partner's posting, then the customer's. */
  postingIds: [string, string];
}

export interface TransferOutcome {
  posted: PostedTransaction;
  currency: string;
  customerCreditLimit: string;
}

interface TransferRow extends PostedRow {
  customer_credit_limit: string;
  customer_currency: string;
}

/** One transfer on its own: ledger_transfer_funds() through postWithStatement (one statement). */
export async function transferAlone(db: Db, item: TransferItem): Promise<TransferOutcome> {
  const { header } = item;
  const statement = sql<TransferRow>`select * from ledger_transfer_funds(${item.accountNumber},
    ${item.partnerScope}, ${item.currency}, ${formatAmount(item.amount)}, ${header.id}, ${header.description},
    ${header.referenceKey}, ${header.effectiveAt}::timestamptz, ${item.postingIds}::text[],
    ${[newId('ledgerAccount'), newId('ledgerAccount')]}::text[])`;
  const { posted, rows } = await postWithStatement(db, header, statement);
  const currency = rows[0]!.customer_currency;
  if (posted.replayed) {
    await checkSameTransfer(db, item, posted);
    return { posted, currency, customerCreditLimit: await customerLimitWhenPosted(db, posted) };
  }
  const [partnerPosting, customerPosting] = posted.postings;
  return {
    posted: { ...posted, reference: `transfer:${partnerPosting!.ownerId}:${customerPosting!.ownerId}` },
    currency,
    customerCreditLimit: rows[0]!.customer_credit_limit,
  };
}

/**
 * A transfer found by its reference key answers a retry only if it is the transfer asked for
 * (the same customer and amount): the key outlives the stored HTTP answer (posting.ts,
 * checkSameEffect).
 */
async function checkSameTransfer(db: Db, item: TransferItem, original: PostedTransaction): Promise<void> {
  const customerPosting = original.postings.find((posting) => posting.ownerKind === 'customer');
  const customer = customerPosting?.ownerId
    ? await db
        .selectFrom('customers')
        .select('account_number')
        .where('id', '=', customerPosting.ownerId)
        .executeTakeFirst()
    : undefined;
  const same =
    original.category === 'transfer' &&
    customer?.account_number === item.accountNumber &&
    customerPosting!.amount.eq(item.amount);
  if (!same) throw referenceReused(item.header.referenceKey ?? '');
}

/**
 * The customer's credit limit as its posting recorded it. A replayed transfer answers with it,
 * so a retry's answer is the first one even after the limit changed: retries of a transfer are
 * answered from its ledger transaction, not from a stored copy (decision 0045).
 */
async function customerLimitWhenPosted(db: Db, transaction: PostedTransaction): Promise<string> {
  const customerPosting = transaction.postings.find((posting) => posting.ownerKind === 'customer');
  if (!customerPosting) throw new Error(`transfer ${transaction.id} has no customer posting`);
  const row = await db
    .selectFrom('ledger_postings')
    .select('credit_limit')
    .where('id', '=', customerPosting.id)
    .executeTakeFirstOrThrow();
  if (row.credit_limit === null) throw new Error(`posting ${customerPosting.id} recorded no credit limit`);
  return row.credit_limit;
}

/** A row of ledger_transfer_funds_batch(), one per item in order. */
interface BatchRow {
  n: number;
  status: 'posted' | 'replayed' | 'refused' | 'fallback' | 'claim_taken';
  transaction_id: string;
  created_at: Date | null;
  partner_id: string | null;
  customer_id: string | null;
  partner_account_id: string | null;
  customer_account_id: string | null;
  partner_balance: string | null;
  customer_balance: string | null;
  customer_credit_limit: string | null;
  currency: string | null;
  refusal_code: string | null;
  refusal: unknown;
}

function postedOf(item: TransferItem, row: BatchRow): PostedTransaction {
  const currency = row.currency!;
  return {
    ...item.header,
    reference: `transfer:${row.partner_id}:${row.customer_id}`,
    // Dated when its batch applied it (migrations/0037): the batch answers that as created_at.
    effectiveAt: item.header.effectiveAt ?? row.created_at!,
    createdAt: row.created_at!,
    replayed: false,
    postings: [
      {
        id: item.postingIds[0],
        ledgerAccountId: row.partner_account_id!,
        ownerKind: 'partner',
        ownerId: row.partner_id,
        code: null,
        amount: item.amount.negated(),
        currency,
        balanceAfter: new Decimal(row.partner_balance!),
      },
      {
        id: item.postingIds[1],
        ledgerAccountId: row.customer_account_id!,
        ownerKind: 'customer',
        ownerId: row.customer_id,
        code: null,
        amount: item.amount,
        currency,
        balanceAfter: new Decimal(row.customer_balance!),
      },
    ],
  };
}

/** What one item's row means once the batch has committed. */
async function outcomeOf(db: Db, item: TransferItem, row: BatchRow): Promise<TransferOutcome> {
  switch (row.status) {
    case 'posted': {
      const posted = postedOf(item, row);
      await publishBalanceChanges(db, posted);
      return { posted, currency: row.currency!, customerCreditLimit: row.customer_credit_limit! };
    }
    case 'replayed': {
      const original = await loadTransaction(db, { id: row.transaction_id });
      if (!original) throw new Error(`ledger transaction ${row.transaction_id} vanished`);
      await checkSameTransfer(db, item, original);
      return {
        posted: { ...original, replayed: true },
        currency: row.currency!,
        customerCreditLimit: await customerLimitWhenPosted(db, original),
      };
    }
    case 'refused':
      throw (
        refusalOf({ code: row.refusal_code, detail: JSON.stringify(row.refusal) }) ??
        new Error(`unknown refusal ${row.refusal_code}`)
      );
    case 'fallback':
      return transferAlone(db, item);
    case 'claim_taken':
      throw new Error('a transfer whose claim is taken has no outcome');
  }
}

/**
 * The database answered with an error: the statement ran as its own transaction and rolled
 * back, so its items can safely be posted again one by one. A lost connection is not that (the
 * commit may have happened), and is passed on instead.
 */
function statementFailed(error: unknown): boolean {
  const { code, severity } = (error ?? {}) as { code?: unknown; severity?: unknown };
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** The whole batch statement failed and wrote nothing. */
const BATCH_FAILED = 'batch_failed';

/** A transfer in a batch, with the Idempotency-Key claim its statement writes, if any. */
export interface BatchEntry {
  item: TransferItem;
  claim: EffectClaim | null;
}

async function runBatch(db: Db, entries: BatchEntry[]): Promise<(BatchRow | typeof BATCH_FAILED)[]> {
  const items = entries.map((entry) => entry.item);
  try {
    const { rows } = await sql<BatchRow>`select * from ledger_transfer_funds_claimed(
      ${entries.map((entry) => entry.claim?.scope ?? null)}::text[],
      ${entries.map((entry) => entry.claim?.key ?? null)}::text[],
      ${entries.map((entry) => entry.claim?.fingerprint ?? null)}::text[],
      ${items.map((item) => item.accountNumber)}::text[],
      ${items.map((item) => item.partnerScope)}::text[],
      ${items.map((item) => item.currency)}::text[],
      ${items.map((item) => formatAmount(item.amount))}::text[],
      ${items.map((item) => item.header.id)}::text[],
      ${items.map((item) => item.header.description)}::text[],
      ${items.map((item) => item.header.referenceKey)}::text[],
      ${items.map((item) => item.header.effectiveAt?.toISOString() ?? null)}::timestamptz[],
      ${items.flatMap((item) => item.postingIds)}::text[])`.execute(db);
    return rows;
  } catch (error) {
    if (statementFailed(error)) return entries.map(() => BATCH_FAILED);
    throw error;
  }
}

const batcherOf = batcherPerDb((db: Db) => new Batcher((entries: BatchEntry[]) => runBatch(db, entries)));

/**
 * Posts a transfer: alone inside a caller's transaction or when balance.changed events may be
 * wanted (they must be written in the posting's transaction), otherwise with the transfers
 * arriving at the same time (and alone after all when the batch statement failed: nothing of it
 * was written). With a claim (src/db/effect-claims.ts), only in a batch that writes it: otherwise,
 * or when the key is taken, CLAIM_NOT_HELD and nothing is posted.
 */
export async function postTransfer(
  db: Db,
  item: TransferItem,
  claim: EffectClaim | null = null,
): Promise<TransferOutcome | typeof CLAIM_NOT_HELD> {
  if (db.isTransaction || webhookEventsWanted(db)) return claim ? CLAIM_NOT_HELD : transferAlone(db, item);
  const entry = { item, claim };
  return settle(db, entry, await batcherOf(db).submit(entry));
}

async function settle(
  db: Db,
  { item, claim }: BatchEntry,
  row: BatchRow | typeof BATCH_FAILED,
): Promise<TransferOutcome | typeof CLAIM_NOT_HELD> {
  if (row === BATCH_FAILED) return claim ? CLAIM_NOT_HELD : transferAlone(db, item);
  if (row.status === 'claim_taken') return CLAIM_NOT_HELD;
  if (claim) {
    claim.held = true;
    // Committed as 'replay' (migrations/0027): a retry finds this transfer by its reference key.
    claim.answeredByEffect = row.status === 'posted' || row.status === 'replayed';
  }
  return outcomeOf(db, item, row);
}

/** These transfers as one batch statement, each settled on its own (what the batcher does per batch). */
export async function postTransferBatch(
  db: Db,
  items: TransferItem[],
): Promise<PromiseSettledResult<TransferOutcome>[]> {
  const settled = await postClaimedTransferBatch(
    db,
    items.map((item) => ({ item, claim: null })),
  );
  // Without claims nothing answers CLAIM_NOT_HELD.
  return settled as PromiseSettledResult<TransferOutcome>[];
}

/** The same with an Idempotency-Key claim per transfer (or null). */
export async function postClaimedTransferBatch(
  db: Db,
  entries: BatchEntry[],
): Promise<PromiseSettledResult<TransferOutcome | typeof CLAIM_NOT_HELD>[]> {
  const rows = await runBatch(db, entries);
  return Promise.allSettled(entries.map((entry, index) => settle(db, entry, rows[index]!)));
}
