import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { DomainError, forbidden, tooLarge } from '../../errors.js';
import { newId } from '../../ids.js';
import { Decimal, formatAmount } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import { postTransaction } from '../ledger/posting.js';
import type { RatingIndex } from '../rating/rating-index.js';
import { CardCache, cdrRow, type PricedCdr, priceCdr } from './cdr-pricing.js';
import { type CdrInput, checkCdr } from './cdr-record.js';
import { resolveParties } from './parties.js';

/**
 * CDR ingestion: check every record, price the good ones, then in ONE database transaction
 * store them (a CDR already stored under the same switch and call id is a duplicate and is
 * skipped) and charge each customer once for the batch through the ledger. Storing and
 * charging commit together, so a retried batch can neither double-charge nor lose a charge.
 * Charging always posts, even past the credit limit: the calls already happened.
 */
export type RawRecord = { index: number; value: unknown } | { index: number; error: string };

export interface IngestOptions {
  atomic: boolean;
  maxRecords: number;
}

export interface Rejection extends Record<string, unknown> {
  index: number;
  reason: string;
  param?: string;
}

export interface IngestResult {
  batch_id: string;
  received: number;
  accepted: number;
  duplicates: number;
  rated: number;
  unrated: number;
  charged: { customer_id: string; amount: string; currency: string; transaction_id: string }[];
  rejected: Rejection[];
}

/** Rows per INSERT statement: one jsonb parameter each, so no bind-parameter limit applies. */
const INSERT_CHUNK_ROWS = 2_000;

async function checkAll(records: AsyncIterable<RawRecord> | Iterable<RawRecord>, maxRecords: number) {
  const accepted: { index: number; cdr: CdrInput }[] = [];
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  let received = 0;
  for await (const record of records) {
    received++;
    if (received > maxRecords) {
      throw tooLarge(`A batch takes at most ${maxRecords} CDRs; split it (CDR_BATCH_MAX)`);
    }
    if ('error' in record) {
      rejected.push({ index: record.index, reason: record.error });
      continue;
    }
    const check = checkCdr(record.value);
    if (!check.ok) {
      rejected.push({
        index: record.index,
        reason: check.reason,
        ...(check.param ? { param: check.param } : {}),
      });
      continue;
    }
    const key = `${check.cdr.switchId}\u0000${check.cdr.callId}`;
    if (seen.has(key)) {
      rejected.push({
        index: record.index,
        reason: `call_id '${check.cdr.callId}' appears twice in this batch`,
        param: 'call_id',
      });
      continue;
    }
    seen.add(key);
    accepted.push({ index: record.index, cdr: check.cdr });
  }
  return { accepted, rejected, received };
}

interface StoredRow {
  id: string;
  customer_id: string | null;
  charged_amount: string;
  currency: string | null;
  rating_state: string;
}

async function insertRows(trx: Db, rows: ReturnType<typeof cdrRow>[]): Promise<StoredRow[]> {
  const stored: StoredRow[] = [];
  for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
    const chunk = JSON.stringify(rows.slice(start, start + INSERT_CHUNK_ROWS));
    const result = await sql<StoredRow>`
      insert into cdrs (id, switch_id, call_id, batch_id, customer_id, customer_ref, partner_id, carrier_id, caller, callee,
        start_time, answer_time, end_time, duration, billsec, disposition, hangup_cause, pdd_ms, tags, rating_state,
        unrated_reason, currency, sell_ratecard_id, sell_prefix, destination, sell_rate, billed_seconds, sell_cost,
        buy_ratecard_id, buy_rate, buy_cost, buy_currency, margin, charged_amount)
      select id, switch_id, call_id, batch_id, customer_id, customer_ref, partner_id, carrier_id, caller, callee,
        start_time, answer_time, end_time, duration, billsec, disposition, hangup_cause, pdd_ms, coalesce(tags, '{}'),
        rating_state, unrated_reason, currency, sell_ratecard_id, sell_prefix, destination, sell_rate, billed_seconds,
        sell_cost, buy_ratecard_id, buy_rate, buy_cost, buy_currency, margin, charged_amount
      from jsonb_to_recordset(${chunk}::jsonb) as x(id text, switch_id text, call_id text, batch_id text, customer_id text,
        customer_ref text, partner_id text, carrier_id text, caller text, callee text, start_time timestamptz,
        answer_time timestamptz, end_time timestamptz, duration integer, billsec integer, disposition text,
        hangup_cause text, pdd_ms integer, tags jsonb, rating_state text, unrated_reason text, currency char(3),
        sell_ratecard_id text, sell_prefix text, destination text, sell_rate numeric, billed_seconds integer,
        sell_cost numeric, buy_ratecard_id text, buy_rate numeric, buy_cost numeric, buy_currency char(3),
        margin numeric, charged_amount numeric)
      on conflict (switch_id, call_id) do nothing
      returning id, customer_id, charged_amount::text as charged_amount, currency, rating_state`.execute(trx);
    stored.push(...result.rows);
  }
  return stored;
}

/** One call_charge transaction per customer per batch; the batch id makes reposting impossible. */
async function chargeCustomers(trx: Db, batchId: string, stored: StoredRow[]) {
  const totals = new Map<string, { amount: Decimal; currency: string }>();
  for (const row of stored) {
    if (row.rating_state !== 'rated' || !row.customer_id || !row.currency) continue;
    const total = totals.get(row.customer_id) ?? { amount: new Decimal(0), currency: row.currency };
    total.amount = total.amount.plus(row.charged_amount);
    totals.set(row.customer_id, total);
  }
  const charged: IngestResult['charged'] = [];
  for (const [customerId, { amount, currency }] of [...totals].sort(([a], [b]) => a.localeCompare(b))) {
    if (amount.isZero()) continue;
    const transaction = await postTransaction(trx, {
      category: 'call_charge',
      description: `Calls, CDR batch ${batchId}`,
      reference: batchId,
      referenceKey: `cdr-batch:${batchId}:${customerId}`,
      allowOverdraft: true,
      postings: [
        { owner: { kind: 'customer', id: customerId }, amount: amount.negated(), currency },
        { owner: { kind: 'operator', code: 'revenue:calls' }, amount, currency },
      ],
    });
    charged.push({
      customer_id: customerId,
      amount: formatAmount(amount),
      currency,
      transaction_id: transaction.id,
    });
  }
  return charged;
}

export async function ingestCdrs(
  db: Db,
  rating: RatingIndex,
  principal: Principal,
  records: AsyncIterable<RawRecord> | Iterable<RawRecord>,
  options: IngestOptions,
): Promise<IngestResult> {
  if (principal.role === 'customer') throw forbidden('A customer key cannot post CDRs');
  const { accepted, rejected, received } = await checkAll(records, options.maxRecords);
  if (options.atomic && rejected.length > 0) {
    throw new DomainError(
      'invalid',
      `Batch rejected, nothing stored: ${rejected.length} bad record(s)`,
      'cdrs',
      rejected,
    );
  }
  const parties = await resolveParties(
    db,
    principal,
    accepted.map((entry) => entry.cdr),
  );
  const cards = new CardCache(rating);
  const priced: PricedCdr[] = [];
  for (const { cdr } of accepted) {
    const entry = await priceCdr(cdr, parties, cards);
    // A partner's switch naming a customer it cannot see: kept where that partner can find it.
    if (!entry.customerId && principal.role === 'partner') entry.partnerId = principal.partnerId;
    priced.push(entry);
  }
  const batchId = newId('cdrBatch');
  const rows = priced.map((entry) => cdrRow(entry, newId('cdr'), batchId));
  const { stored, charged } = await db.transaction().execute(async (trx) => {
    const stored = await insertRows(trx, rows);
    return { stored, charged: await chargeCustomers(trx, batchId, stored) };
  });
  const rated = stored.filter((row) => row.rating_state === 'rated').length;
  return {
    batch_id: batchId,
    received,
    accepted: stored.length,
    duplicates: accepted.length - stored.length,
    rated,
    unrated: stored.length - rated,
    charged,
    rejected,
  };
}
