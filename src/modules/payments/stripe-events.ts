import Stripe from 'stripe';
import { invalid } from '../../errors.js';
import { credentialsOf, type GatewayRow } from './gateway-configs.js';
import { intentAnswer, refundAnswer } from './gateways/stripe.js';
import type { GatewayAnswer } from './gateways/types.js';
import { alreadyHandled, recordNotification } from './notifications.js';
import { applyAnswer, type TransactionRow } from './settle.js';
import type { PaymentContext } from './transactions.js';

/**
 * Stripe webhooks: the `Stripe-Signature` header is verified over the raw body with the
 * gateway's webhook secret (HMAC-SHA256 over `t.payload`, 300 s tolerance, constant-time compare:
 * `stripe.webhooks.constructEvent`), then the event settles transactions still `pending` or
 * `unknown`. Events are deduplicated by id.
 */
export const STRIPE_SIGNATURE_TOLERANCE_SECONDS = 300;

export interface EventOutcome {
  event_id: string;
  type: string;
  duplicate: boolean;
  settled: number;
}

const IN_FLIGHT = ['pending', 'unknown'] as const;
const OPENING = new Set(['authorize', 'purchase']);

/**
 * Verifies the signature; a forged, altered or stale payload is refused (400) and changes nothing.
 * A signed payload that is not shaped like an event (no id or type, no data.object) is refused
 * too: the signature proves who sent it, not that it is well formed.
 */
export function verifyStripeEvent(
  ctx: PaymentContext,
  gateway: GatewayRow,
  rawBody: Buffer,
  signature: string | undefined,
) {
  if (!signature) throw invalid('Missing Stripe-Signature header', 'Stripe-Signature');
  const secret = credentialsOf(ctx.secrets, gateway).webhook_secret ?? '';
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, signature, secret, STRIPE_SIGNATURE_TOLERANCE_SECONDS);
  } catch (error) {
    throw invalid(`Stripe-Signature does not verify: ${(error as Error).message}`, 'Stripe-Signature');
  }
  const shaped = event as Partial<Stripe.Event> | null;
  const object = (shaped?.data as { object?: unknown } | null | undefined)?.object;
  if (
    typeof shaped?.id !== 'string' ||
    typeof shaped.type !== 'string' ||
    typeof object !== 'object' ||
    !object
  )
    throw invalid('The body is not a Stripe event (id, type and data.object are required)', 'body');
  return event;
}

/** In-flight transactions of this gateway's payments opened by the intent (by reference or request key). */
async function inFlightOfIntent(ctx: PaymentContext, gateway: GatewayRow, intent: Stripe.PaymentIntent) {
  const requestKey = intent.metadata?.tollgate_request_key ?? null;
  return ctx.db
    .selectFrom('payment_transactions as t')
    .selectAll('t')
    .where('t.gateway_key', '=', gateway.id)
    .where('t.status', 'in', IN_FLIGHT)
    .where('t.payment_id', 'in', (eb) =>
      eb
        .selectFrom('payment_transactions as o')
        .select('o.payment_id')
        .where('o.gateway_key', '=', gateway.id)
        .where('o.kind', 'in', ['authorize', 'purchase'])
        .where((w) =>
          w.or([
            w('o.gateway_reference', '=', intent.id),
            ...(requestKey ? [w('o.gateway_request_key', '=', requestKey)] : []),
          ]),
        ),
    )
    .execute();
}

/**
 * An event settles what it proves: success of the kind it completes, and a decline or cancel
 * of an opening transaction. It never marks a capture or void in flight as failed: an event
 * about the authorization may arrive while they are still being answered (reconciliation asks).
 */
function settles(row: TransactionRow, answer: GatewayAnswer): boolean {
  if (answer.status === 'success') return true;
  return OPENING.has(row.kind) && (answer.status === 'failed' || answer.status === 'error');
}

async function settleIntent(
  ctx: PaymentContext,
  gateway: GatewayRow,
  intent: Stripe.PaymentIntent,
): Promise<number> {
  // Signed by Stripe, yet not an intent (or a refund below): nothing to settle.
  if (typeof intent?.id !== 'string') return 0;
  let settled = 0;
  for (const row of await inFlightOfIntent(ctx, gateway, intent)) {
    if (row.kind === 'refund' || row.kind === 'credit') continue;
    const answer = intentAnswer(row.kind, intent);
    if (!settles(row, answer)) continue;
    if ((await applyAnswer(ctx.db, row.id, answer)).status === answer.status) settled++;
  }
  return settled;
}

async function settleRefund(
  ctx: PaymentContext,
  gateway: GatewayRow,
  refund: Stripe.Refund,
): Promise<number> {
  if (typeof refund?.id !== 'string') return 0;
  const answer = refundAnswer(refund);
  if (answer.status === 'pending') return 0;
  const requestKey = refund.metadata?.tollgate_request_key ?? null;
  const rows = await ctx.db
    .selectFrom('payment_transactions')
    .selectAll()
    .where('gateway_key', '=', gateway.id)
    .where('kind', '=', 'refund')
    .where('status', 'in', IN_FLIGHT)
    .where((w) =>
      w.or([
        w('gateway_reference', '=', refund.id),
        ...(requestKey ? [w('gateway_request_key', '=', requestKey)] : []),
      ]),
    )
    .execute();
  let settled = 0;
  for (const row of rows) if ((await applyAnswer(ctx.db, row.id, answer)).status === answer.status) settled++;
  return settled;
}

async function dispatch(ctx: PaymentContext, gateway: GatewayRow, event: Stripe.Event): Promise<number> {
  switch (event.type) {
    case 'payment_intent.succeeded':
    case 'payment_intent.amount_capturable_updated':
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled':
      return settleIntent(ctx, gateway, event.data.object);
    case 'charge.refunded': {
      let settled = 0;
      const refunds = event.data.object.refunds?.data;
      for (const refund of Array.isArray(refunds) ? refunds : [])
        settled += await settleRefund(ctx, gateway, refund);
      return settled;
    }
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
      return settleRefund(ctx, gateway, event.data.object);
    default:
      return 0;
  }
}

export async function handleStripeEvent(
  ctx: PaymentContext,
  gateway: GatewayRow,
  rawBody: Buffer,
  signature: string | undefined,
): Promise<EventOutcome> {
  const event = verifyStripeEvent(ctx, gateway, rawBody, signature);
  const base = { event_id: event.id, type: event.type };
  if (await alreadyHandled(ctx.db, 'stripe', event.id)) return { ...base, duplicate: true, settled: 0 };
  const settled = await dispatch(ctx, gateway, event);
  await recordNotification(
    ctx.db,
    'stripe',
    event.id,
    settled > 0 ? `settled ${settled}` : 'nothing to settle',
    rawBody.toString('utf8'),
  );
  return { ...base, duplicate: false, settled };
}
