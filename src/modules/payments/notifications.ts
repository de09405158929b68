import type { Db } from '../../db/index.js';
import { newId } from '../../ids.js';

/**
 * The journal of incoming provider notifications (Stripe events, PayPal IPN messages), one row
 * per provider message id, written only for messages whose authenticity was checked: a replay
 * finds its row and changes nothing, and a forged message can never pre-empt a real one.
 */
export type NotificationSource = 'stripe' | 'paypal';

export async function alreadyHandled(
  db: Db,
  source: NotificationSource,
  externalId: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('payment_notifications')
    .select('id')
    .where('source', '=', source)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Records a handled message; a concurrent twin that got there first wins (same outcome). */
export async function recordNotification(
  db: Db,
  source: NotificationSource,
  externalId: string,
  outcome: string,
  payload: string,
): Promise<void> {
  await db
    .insertInto('payment_notifications')
    .values({ id: newId('paymentNotification'), source, external_id: externalId, outcome, payload })
    .onConflict((oc) => oc.columns(['source', 'external_id']).doNothing())
    .execute();
}
