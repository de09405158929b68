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
      const delta = new Decimal(next.charged_amount).minus(row.charged_amount);
      const unchanged =
        delta.isZero() &&
        next.rating_state === row.rating_state &&
        next.buy_cost === formatNullable(row.buy_cost);
      if (unchanged && row.customer_id) continue;
      difference = difference.plus(delta);
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

const formatNullable = (value: string | null) => (value === null ? null : formatAmount(value));

async function applyUpdates(trx: Db, updates: ReturnType<typeof cdrRow>[]) {
  if (updates.length === 0) return;
  // The statistics rollup follows the rows: their old sums out, their new sums in (same transaction).
  const ids = updates.map((update) => update.id);
  await rollupCdrs(trx, ids, -1);
  await sql`
    update cdrs set customer_id = x.customer_id, partner_id = x.partner_id, rating_state = x.rating_state,
      unrated_reason = x.unrated_reason, currency = x.currency, sell_ratecard_id = x.sell_ratecard_id,
      sell_prefix = x.sell_prefix, destination = x.destination, sell_rate = x.sell_rate,
      billed_seconds = x.billed_seconds, sell_cost = x.sell_cost, buy_ratecard_id = x.buy_ratecard_id,
      buy_rate = x.buy_rate, buy_cost = x.buy_cost, buy_currency = x.buy_currency, margin = x.margin,
      charged_amount = x.charged_amount
    from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as x(id text, customer_id text, partner_id text,
      rating_state text, unrated_reason text, currency char(3), sell_ratecard_id text, sell_prefix text,
      destination text, sell_rate numeric, billed_seconds integer, sell_cost numeric, buy_ratecard_id text,
      buy_rate numeric, buy_cost numeric, buy_currency char(3), margin numeric, charged_amount numeric)
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
