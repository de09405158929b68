import { getGateway } from './gateway-configs.js';
import { adapterFor } from './gateways/index.js';
import { applyAnswer } from './settle.js';
import type { PaymentContext } from './transactions.js';

/** Transactions younger than this may still be answered by the live request; leave them be. */
export const RECONCILE_MIN_AGE_SECONDS = 60;
export const RECONCILE_BATCH_MAX = 200;

/**
 * Asks the gateway again about transactions left `pending` or `unknown` and records the answer
 * (posting to the ledger when they went through). Those still undecided stay as they are.
 */
export async function reconcileTransactions(
  ctx: PaymentContext,
): Promise<{ checked: number; settled: number }> {
  const cutoff = new Date(ctx.now().getTime() - RECONCILE_MIN_AGE_SECONDS * 1000);
  const rows = await ctx.db
    .selectFrom('payment_transactions as t')
    .innerJoin('payments as p', 'p.id', 't.payment_id')
    .select(['t.id', 't.kind', 't.gateway_reference', 't.gateway_request_key', 'p.gateway_id'])
    .select((eb) =>
      eb
        .selectFrom('payment_transactions as o')
        .select('o.gateway_reference')
        .whereRef('o.payment_id', '=', 't.payment_id')
        .where('o.kind', 'in', ['authorize', 'purchase'])
        .orderBy('o.id')
        .limit(1)
        .as('opening_reference'),
    )
    .where('t.status', 'in', ['pending', 'unknown'])
    .where('t.updated_at', '<', cutoff)
    .where('p.method', 'in', ['card', 'bank'])
    .orderBy('t.id')
    .limit(RECONCILE_BATCH_MAX)
    .execute();
  let settled = 0;
  for (const row of rows) {
    const gateway = row.gateway_id ? await getGateway(ctx.db, row.gateway_id) : null;
    const answer = await adapterFor(gateway, ctx.secrets)
      .lookup({
        kind: row.kind,
        reference: row.gateway_reference,
        requestKey: row.gateway_request_key ?? row.id,
        openingReference: row.opening_reference ?? null,
      })
      .catch(() => null);
    if (!answer || answer.status === 'pending' || answer.status === 'unknown') continue;
    const after = await applyAnswer(ctx.db, row.id, answer);
    if (after.status === answer.status) settled++;
  }
  return { checked: rows.length, settled };
}
