import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { newId } from '../../ids.js';
import { getPaypalGateway, handlePaypalIpn, PaypalUnavailable } from './paypal.js';
import type { PaymentContext } from './transactions.js';

/**
 * PayPal IPN, the way PayPal's protocol (and the issue) asks: store the message, answer 200 at
 * once, then verify it by posting it back and apply it. Storing first means a message PayPal
 * stops resending (it got its 200) is never lost: when PayPal's verification endpoint does not
 * answer, the message stays in the inbox and the payments jobs retry it on a schedule.
 * Duplicates are still harmless: applying an IPN is deduplicated by txn_id and status.
 */

/** Retries after 1 min, 5 min, 30 min, 2 h and 12 h; then the message is marked failed. */
const RETRY_DELAYS_SECONDS = [60, 300, 1_800, 7_200, 43_200];
/** A claimed message is left alone this long by other workers. */
const CLAIM_SECONDS = 60;
const BATCH = 50;

export async function receiveIpn(db: Db, gatewayId: string, rawBody: Buffer): Promise<string> {
  await getPaypalGateway(db, gatewayId);
  const id = newId('paypalIpn');
  await db
    .insertInto('paypal_ipn_inbox')
    .values({ id, gateway_id: gatewayId, body: rawBody.toString('latin1') })
    .execute();
  return id;
}

interface InboxRow {
  id: string;
  gateway_id: string;
  body: string;
  attempts: number;
}

/** Claims due messages (SKIP LOCKED: several processes never work on one message at once). */
async function claimDue(db: Db, now: Date, onlyId?: string): Promise<InboxRow[]> {
  const result = await sql<InboxRow>`
    update paypal_ipn_inbox set claimed_until = ${new Date(now.getTime() + CLAIM_SECONDS * 1000)}
    where id in (
      select id from paypal_ipn_inbox
      where status = 'pending' and next_attempt_at <= ${now}
        and (claimed_until is null or claimed_until < ${now})
        ${onlyId ? sql`and id = ${onlyId}` : sql``}
      order by next_attempt_at limit ${BATCH}
      for update skip locked)
    returning id, gateway_id, body, attempts`.execute(db);
  return result.rows;
}

async function processOne(ctx: PaymentContext, row: InboxRow, now: Date): Promise<string> {
  try {
    const gateway = await getPaypalGateway(ctx.db, row.gateway_id);
    const outcome = await handlePaypalIpn(ctx, gateway, Buffer.from(row.body, 'latin1'));
    await ctx.db
      .updateTable('paypal_ipn_inbox')
      .set({ status: 'done', outcome, attempts: row.attempts + 1, claimed_until: null })
      .where('id', '=', row.id)
      .execute();
    return outcome;
  } catch (error) {
    if (!(error instanceof PaypalUnavailable)) throw error;
    const delay = RETRY_DELAYS_SECONDS[row.attempts];
    await ctx.db
      .updateTable('paypal_ipn_inbox')
      .set({
        status: delay === undefined ? 'failed' : 'pending',
        outcome: `unverified: ${error.message}`,
        attempts: row.attempts + 1,
        next_attempt_at: new Date(now.getTime() + (delay ?? 0) * 1000),
        claimed_until: null,
      })
      .where('id', '=', row.id)
      .execute();
    return delay === undefined ? 'failed' : 'retry';
  }
}

/**
 * Processes due messages (all of them, or just `onlyId`); returns each one's outcome
 * (`topped: …`, `duplicate`, `invalid: …`, `ignored: …`, `reversed: …`, `retry`, `failed`).
 */
export async function processIpnInbox(
  ctx: PaymentContext,
  options: { now?: Date; onlyId?: string } = {},
): Promise<Map<string, string>> {
  const now = options.now ?? ctx.now();
  const outcomes = new Map<string, string>();
  for (const row of await claimDue(ctx.db, now, options.onlyId))
    outcomes.set(row.id, await processOne(ctx, row, now));
  return outcomes;
}
