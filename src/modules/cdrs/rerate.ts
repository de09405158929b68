import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { forbidden, invalid } from '../../errors.js';
import { newId } from '../../ids.js';
import { Decimal, formatAmount } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import { getCustomer } from '../accounts/customers.js';
import { postTransaction } from '../ledger/posting.js';
import type { RatingIndex } from '../rating/rating-index.js';
import { CardCache, cdrRow, priceCdr } from './cdr-pricing.js';
import type { Cdr } from './cdr-queries.js';
import type { CdrInput } from './cdr-record.js';
import { resolveParties } from './parties.js';
import { rollupCdrs } from './stats-rollup.js';

/**
 * Re-rating after a rate correction: every CDR of the customer in the period (rated or not,
 * including ones stored under its id or account number before it existed) is priced again with
 * the cards as they are now, and the difference to what the ledger already charged is posted as
 * ONE adjusting call_charge transaction. Running it again changes nothing and posts nothing,
 * because each CDR remembers what it has been charged.
 */
export interface RerateRequest {
  customer_id: string;
  from: Date;
  to: Date;
}

export interface RerateResult {
  customer_id: string;
  examined: number;
  /** CDRs rewritten: any priced field changed (prefix, destination, rates, costs, state…), charged or not. */
  changed: number;
  rated: number;
  unrated: number;
  difference: string;
  currency: string;
  transaction_id: string | null;
}

/** More CDRs than this in one re-rating holds too many row locks; narrow the period. */
const MAX_RERATE_CDRS = 200_000;

function inputOf(row: Cdr, customerId: string): CdrInput {
  return {
    senderPartnerId: row.sender_partner_id,
    switchId: row.switch_id,
    callId: row.call_id,
    customerId,
    accountNumber: null,
    carrierId: row.carrier_id,
    caller: row.caller,
    callee: row.callee,
    startTime: row.start_time,
    answerTime: row.answer_time,
    endTime: row.end_time,
    durationSeconds: row.duration,
    billsec: row.billsec,
    disposition: row.disposition,
    hangupCause: row.hangup_cause,
    pddMs: row.pdd_ms,
    tags: row.tags,
  };
}

export async function rerateCdrs(db: Db, rating: RatingIndex, principal: Principal, request: RerateRequest) {
  if (principal.role === 'customer') throw forbidden('A customer key cannot re-rate');
  if (request.from >= request.to) throw invalid('from must be before to', 'from');
  const customer = await getCustomer(db, principal, request.customer_id);
  return db.transaction().execute(async (trx): Promise<RerateResult> => {
    const rows = await trx
      .selectFrom('cdrs')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('customer_id', '=', customer.id),
          // A CDR that named this customer but could not be rated for it. One a partner's switch
          // sent naming a customer of another tenant's (the partner could not see it, so it was
          // kept as the partner's) is not this customer's to pay: only the operator's feed
          // (no partner) or the customer's own partner may have named it.
          eb.and([
            eb('customer_id', 'is', null),
            eb('customer_ref', 'in', [customer.id, customer.account_number]),
            customer.partner_id === null
              ? eb('partner_id', 'is', null)
              : eb.or([eb('partner_id', 'is', null), eb('partner_id', '=', customer.partner_id)]),
          ]),
        ]),
      )
      .where('start_time', '>=', request.from)
      .where('start_time', '<', request.to)
      .orderBy('id')
      .limit(MAX_RERATE_CDRS + 1)
      .forUpdate()
      .execute();
    if (rows.length > MAX_RERATE_CDRS)
      throw invalid(`more than ${MAX_RERATE_CDRS} CDRs in the period; narrow it`, 'to');
    const inputs = rows.map((row) => inputOf(row, customer.id));
    const parties = await resolveParties(trx, principal, inputs);
    const cards = new CardCache(rating);
    let difference = new Decimal(0);
    const updates = [];
    let rated = 0;
    for (const [i, row] of rows.entries()) {
      const priced = await priceCdr(inputs[i]!, parties, cards);
      const next = cdrRow(priced, row.id, row.batch_id);
      if (next.rating_state === 'rated') rated++;
      if (sameRating(row, next)) continue;
      // A longer prefix at the same price changes the CDR's prefix and destination, not its charge:
      // the row (and the rollup) follow, and only charges that changed reach the ledger.
      difference = difference.plus(new Decimal(next.charged_amount).minus(row.charged_amount));
      updates.push(next);
    }
    // The ledger before the rollup: the lock order of ingestion (ingest.ts, storeAndCharge).
    const transactionId = difference.isZero()
      ? null
      : await postDifference(trx, customer, difference, request);
    await applyUpdates(trx, updates);
    return {
      customer_id: customer.id,
      examined: rows.length,
      changed: updates.length,
      rated,
      unrated: rows.length - rated,
      difference: formatAmount(difference),
      currency: customer.currency,
      transaction_id: transactionId,
    };
  });
}

/**
 * Every column pricing decides (cdrRow's), with its SQL type: re-rating compares them all and
 * rewrites exactly these, so a field cannot be priced anew and then left stale in the row.
 */
const RATING_COLUMNS = {
  customer_id: 'text',
  partner_id: 'text',
  rating_state: 'text',
  unrated_reason: 'text',
  currency: 'char(3)',
  sell_ratecard_id: 'text',
  sell_prefix: 'text',
  destination: 'text',
  sell_rate: 'numeric',
  billed_seconds: 'integer',
  sell_cost: 'numeric',
  buy_ratecard_id: 'text',
  buy_rate: 'numeric',
  buy_cost: 'numeric',
  buy_currency: 'char(3)',
  margin: 'numeric',
  charged_amount: 'numeric',
} as const satisfies { [column in keyof Cdr & keyof ReturnType<typeof cdrRow>]?: string };

type RatingColumn = keyof typeof RATING_COLUMNS;
const RATING_COLUMN_NAMES = Object.keys(RATING_COLUMNS) as RatingColumn[];

/** Stored numerics come back at their column's scale ("0.01230000"): compared as numbers. */
function sameValue(stored: string | number | null, next: string | number | null, type: string): boolean {
  if (stored === next) return true;
  if (stored === null || next === null || type !== 'numeric') return false;
  return new Decimal(stored).eq(next);
}

function sameRating(stored: Cdr, next: ReturnType<typeof cdrRow>): boolean {
  return RATING_COLUMN_NAMES.every((column) =>
    sameValue(stored[column], next[column], RATING_COLUMNS[column]),
  );
}

async function applyUpdates(trx: Db, updates: ReturnType<typeof cdrRow>[]) {
  if (updates.length === 0) return;
  // The statistics rollup follows the rows: their old sums out, their new sums in (same transaction).
  const ids = updates.map((update) => update.id);
  await rollupCdrs(trx, ids, -1);
  const set = RATING_COLUMN_NAMES.map((column) => sql`${sql.ref(column)} = ${sql.ref(`x.${column}`)}`);
  const record = RATING_COLUMN_NAMES.map(
    (column) => sql`${sql.ref(column)} ${sql.raw(RATING_COLUMNS[column])}`,
  );
  await sql`
    update cdrs set ${sql.join(set)}
    from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as x(id text, ${sql.join(record)})
    where cdrs.id = x.id`.execute(trx);
  await rollupCdrs(trx, ids, 1);
}

async function postDifference(
  trx: Db,
  customer: { id: string; currency: string },
  difference: Decimal,
  request: RerateRequest,
): Promise<string> {
  const rerateId = newId('cdrBatch');
  const transaction = await postTransaction(trx, {
    category: 'call_charge',
    description: `Re-rating of calls ${request.from.toISOString()} – ${request.to.toISOString()}`,
    reference: rerateId,
    referenceKey: `cdr-rerate:${rerateId}`,
    allowOverdraft: true,
    // Whatever the customer's status: closing an account does not undo what it already did.
    recordsPastEvent: true,
    postings: [
      {
        owner: { kind: 'customer', id: customer.id },
        amount: difference.negated(),
        currency: customer.currency,
      },
      { owner: { kind: 'operator', code: 'revenue:calls' }, amount: difference, currency: customer.currency },
    ],
  });
  return transaction.id;
}
