import { type RawBuilder, sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { DomainError, forbidden, tooLarge } from '../../errors.js';
import { newId } from '../../ids.js';
import { Decimal, formatAmount } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import { MAX_POSTINGS, postTransaction } from '../ledger/posting.js';
import type { RatingIndex } from '../rating/rating-index.js';
import { CardCache, cdrRow, type PricedCdr, priceCdr } from './cdr-pricing.js';
import { type CdrInput, checkCdr } from './cdr-record.js';
import { type CdrCopyConnections, COPY_COLUMNS, copyLine, STAGING_TABLE } from './copy-ingest.js';
import { nextTurn, RECORDS_PER_TURN } from './event-loop-turns.js';
import { resolveParties } from './parties.js';
import { rollupCdrs, rollupStaged, stageRollup } from './stats-rollup.js';

/**
 * CDR ingestion: check every record, price the good ones, then in ONE database transaction
 * store them (a CDR already stored under the same switch and call id is a duplicate and is
 * skipped) and charge each customer once for the batch through the ledger (one posting per
 * customer, all in one ledger transaction per currency: decision 0042). Storing and
 * charging commit together, so a retried batch can neither double-charge nor lose a charge.
 * Charging always posts, even past the credit limit: the calls already happened.
 */
export type RawRecord = { index: number; value: unknown } | { index: number; error: string };

export interface IngestOptions {
  atomic: boolean;
  maxRecords: number;
  /** PostgreSQL: store through COPY on dedicated connections (copy-ingest.ts); else unnest. */
  copy?: CdrCopyConnections | null;
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

async function checkAll(
  records: AsyncIterable<RawRecord> | Iterable<RawRecord>,
  maxRecords: number,
  senderPartnerId: string | null,
) {
  const accepted: { index: number; cdr: CdrInput }[] = [];
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  const nowMs = Date.now();
  let received = 0;
  for await (const record of records) {
    received++;
    if (received % RECORDS_PER_TURN === 0) await nextTurn();
    if (received > maxRecords) {
      throw tooLarge(`A batch takes at most ${maxRecords} CDRs; split it (CDR_BATCH_MAX)`);
    }
    if ('error' in record) {
      rejected.push({ index: record.index, reason: record.error });
      continue;
    }
    const check = checkCdr(record.value, nowMs, senderPartnerId);
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

/** Rows per INSERT statement (each column travels as one array parameter). */
const INSERT_CHUNK_ROWS = 10_000;
/**
 * Most customers charged in one ledger transaction: their postings plus one revenue posting. A
 * batch of the default size always fits; only a CDR_BATCH_MAX above it can need a second one.
 */
const CUSTOMERS_PER_CHARGE = MAX_POSTINGS - 1;

type CdrRow = ReturnType<typeof cdrRow>;

/** The SQL type of every stored column (their order is COPY_COLUMNS, shared by both insert paths). */
const COLUMN_TYPES: Record<keyof CdrRow, string> = {
  id: 'text',
  sender_partner_id: 'text',
  switch_id: 'text',
  call_id: 'text',
  batch_id: 'text',
  customer_id: 'text',
  customer_ref: 'text',
  partner_id: 'text',
  carrier_id: 'text',
  caller: 'text',
  callee: 'text',
  start_time: 'timestamptz',
  answer_time: 'timestamptz',
  end_time: 'timestamptz',
  duration: 'int',
  billsec: 'int',
  disposition: 'text',
  hangup_cause: 'text',
  pdd_ms: 'int',
  tags: 'jsonb',
  rating_state: 'text',
  unrated_reason: 'text',
  currency: 'text',
  sell_ratecard_id: 'text',
  sell_prefix: 'text',
  destination: 'text',
  sell_rate: 'numeric',
  billed_seconds: 'int',
  sell_cost: 'numeric',
  buy_ratecard_id: 'text',
  buy_rate: 'numeric',
  buy_cost: 'numeric',
  buy_currency: 'text',
  margin: 'numeric',
  charged_amount: 'numeric',
};

/** What a batch stored, per customer, currency and rating state (summed in SQL, not per CDR). */
interface StoredGroup {
  customer_id: string | null;
  currency: string | null;
  rating_state: string;
  stored: number;
  charged: string;
}

/** What the stored CDRs in `source` (a relation with the cdrs columns) add up to, per customer. */
function storedGroups(source: RawBuilder<unknown>) {
  return sql<StoredGroup>`
    select customer_id, currency, rating_state, count(*)::int as stored,
      sum(charged_amount)::text as charged
    from ${source}
    group by 1, 2, 3`;
}

/**
 * Stores the rows of `source` (a relation with the cdrs columns), skipping CDRs already stored
 * under the same sender, switch and call id, and answers what was stored per customer: ONE statement
 * (a data-modifying CTE), whatever the batch size. The statistics rollup is added to after the
 * charges (see storeAndCharge).
 */
function storeFrom(source: RawBuilder<unknown>) {
  const columns = sql.join(COPY_COLUMNS.map((column) => sql.ref(column)));
  return sql<StoredGroup>`
    with stored as (
      insert into cdrs (${columns})
      select ${columns} from ${source}
      on conflict (sender_partner_id, switch_id, call_id) do nothing
      returning customer_id, charged_amount, currency, rating_state
    )
    ${storedGroups(sql`stored`)}`;
}

/**
 * Once all of the batch is in `cdrs` (none was a duplicate): what it stored per customer, read in
 * the same pass that stages its rollup sums (one lookup of the batch's rows by id).
 */
function batchGroupsStagingRollup(ids: readonly string[]) {
  return sql<StoredGroup>`
    with batch as (
      select start_time, customer_id, partner_id, carrier_id, disposition, billsec, pdd_ms, sell_cost,
        buy_cost, buy_currency, margin, currency, rating_state, charged_amount
      from cdrs where id = any(${ids}::text[])
    ), staged as (${stageRollup(sql`batch`)})
    ${storedGroups(sql`batch`)}`;
}

/** COPY's unique violation on (sender, switch, call id): some CDR of the batch was stored before. */
function isStoredBefore(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: string; constraint?: string };
  return code === '23505' && constraint === 'cdrs_sender_switch_call_key';
}

/**
 * PostgreSQL: COPY the batch straight into `cdrs` (decision 0043). COPY has no ON CONFLICT, so a
 * batch holding a CDR stored before fails with a unique violation and is stored again, in a new
 * transaction, the deduplicating way: COPY into the staging table, then one INSERT … SELECT … ON
 * CONFLICT DO NOTHING. A concurrent resubmission waits on the first one's keys either way.
 */
async function storeByCopy(
  connections: CdrCopyConnections,
  priced: PricedCdr[],
  ids: readonly string[],
  batchId: string,
) {
  try {
    return await connections.transaction(async (trx, copy) => {
      await copy('cdrs', COPY_COLUMNS, copyChunks(priced, ids, batchId));
      const stored = (await batchGroupsStagingRollup(ids).execute(trx)).rows;
      const charged = await chargeCustomers(trx, batchId, stored);
      await rollupStaged(trx);
      return { stored, charged };
    });
  } catch (error) {
    if (!isStoredBefore(error)) throw error;
  }
  return connections.transaction(async (trx, copy) => {
    await copy(STAGING_TABLE, COPY_COLUMNS, copyChunks(priced, ids, batchId));
    return storeAndCharge(trx, batchId, ids, storeFrom(sql.table(STAGING_TABLE)));
  });
}

/** Lines of COPY text per chunk: small enough to stay in the young generation, big enough to batch. */
const COPY_CHUNK_ROWS = 500;

function* copyChunks(priced: PricedCdr[], ids: readonly string[], batchId: string): Generator<string> {
  for (let start = 0; start < priced.length; start += COPY_CHUNK_ROWS) {
    let text = '';
    const end = Math.min(start + COPY_CHUNK_ROWS, priced.length);
    for (let i = start; i < end; i++) text += `${copyLine(priced[i]!, ids[i]!, batchId)}\n`;
    yield text;
  }
}

/** unnest() of one array per column: a chunk is one statement with 34 parameters. */
function insertStatements(rows: CdrRow[]) {
  const statements = [];
  for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
    const chunk = rows.slice(start, start + INSERT_CHUNK_ROWS);
    const arrays = COPY_COLUMNS.map((column) => {
      const values = chunk.map((row) => (column === 'tags' ? JSON.stringify(row.tags) : row[column]));
      return sql`${values}::${sql.raw(COLUMN_TYPES[column])}[]`;
    });
    const source = sql`unnest(${sql.join(arrays)}) as source (${sql.join(COPY_COLUMNS.map((column) => sql.ref(column)))})`;
    statements.push(storeFrom(source));
  }
  return statements;
}

/**
 * In the batch's transaction: store, charge, then add the stored CDRs (those of `ids` that are
 * in `cdrs` now: duplicates were not stored) to the statistics rollup. Locks are taken in one
 * order everywhere (CDR rows, then ledger accounts, then rollup rows; re-rating does the same), so
 * concurrent batches and re-ratings queue rather than deadlock, and a batch's insert runs while
 * the previous batch, which shares its customers' rollup rows, is still charging.
 */
async function storeAndCharge(
  trx: Db,
  batchId: string,
  ids: readonly string[],
  ...statements: ReturnType<typeof storeFrom>[]
) {
  const stored: StoredGroup[] = [];
  for (const statement of statements) stored.push(...(await statement.execute(trx)).rows);
  const charged = await chargeCustomers(trx, batchId, stored);
  await rollupCdrs(trx, ids, 1);
  return { stored, charged };
}

/**
 * Charges what the newly stored CDRs cost: one posting per customer per batch, in one ledger
 * transaction per currency (one round trip) with the revenue posting balancing them; only a batch
 * of more than CUSTOMERS_PER_CHARGE customers is split. The batch id, currency and chunk number
 * make each transaction impossible to repost.
 */
async function chargeCustomers(trx: Db, batchId: string, stored: StoredGroup[]) {
  const totals = new Map<string, { amount: Decimal; currency: string }>();
  for (const row of stored) {
    if (row.rating_state !== 'rated' || !row.customer_id || !row.currency) continue;
    const total = totals.get(row.customer_id) ?? { amount: new Decimal(0), currency: row.currency };
    total.amount = total.amount.plus(row.charged);
    totals.set(row.customer_id, total);
  }
  const owed = [...totals]
    .filter(([, total]) => !total.amount.isZero())
    .sort(([a], [b]) => a.localeCompare(b));
  const charged: IngestResult['charged'] = [];
  const currencies = [...new Set(owed.map(([, total]) => total.currency))];
  for (const currency of currencies) {
    const inCurrency = owed.filter(([, total]) => total.currency === currency);
    for (let start = 0; start < inCurrency.length; start += CUSTOMERS_PER_CHARGE) {
      const group = inCurrency.slice(start, start + CUSTOMERS_PER_CHARGE);
      const revenue = group.reduce((sum, [, total]) => sum.plus(total.amount), new Decimal(0));
      const transaction = await postTransaction(trx, {
        category: 'call_charge',
        description: `Calls, CDR batch ${batchId}`,
        reference: batchId,
        referenceKey: `cdr-batch:${batchId}:${currency}:${start / CUSTOMERS_PER_CHARGE}`,
        allowOverdraft: true,
        // Calls made before the account closed are charged all the same (a debt, not a sale).
        recordsPastEvent: true,
        postings: [
          ...group.map(([customerId, total]) => ({
            owner: { kind: 'customer' as const, id: customerId },
            amount: total.amount.negated(),
            currency,
          })),
          { owner: { kind: 'operator', code: 'revenue:calls' }, amount: revenue, currency },
        ],
      });
      for (const [customerId, total] of group) {
        charged.push({
          customer_id: customerId,
          amount: formatAmount(total.amount),
          currency,
          transaction_id: transaction.id,
        });
      }
    }
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
  const { accepted, rejected, received } = await checkAll(
    records,
    options.maxRecords,
    principal.role === 'partner' ? principal.partnerId : null,
  );
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
    if (priced.length % RECORDS_PER_TURN === RECORDS_PER_TURN - 1) await nextTurn();
    priced.push(await priceCdr(cdr, parties, cards));
  }
  const batchId = newId('cdrBatch');
  const ids = priced.map(() => newId('cdr'));
  const { stored, charged } =
    priced.length === 0
      ? { stored: [], charged: [] }
      : options.copy
        ? await storeByCopy(options.copy, priced, ids, batchId)
        : await db.transaction().execute(async (trx) => {
            const rows = priced.map((entry, i) => cdrRow(entry, ids[i]!, batchId));
            return storeAndCharge(trx, batchId, ids, ...insertStatements(rows));
          });
  const count = (state?: string) =>
    stored.reduce((sum, group) => (state && group.rating_state !== state ? sum : sum + group.stored), 0);
  const accepted_ = count();
  const rated = count('rated');
  return {
    batch_id: batchId,
    received,
    accepted: accepted_,
    duplicates: accepted.length - accepted_,
    rated,
    unrated: accepted_ - rated,
    charged,
    rejected,
  };
}
