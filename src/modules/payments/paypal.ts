import type { Db } from '../../db/index.js';
import { conflict, DomainError, invalid, notFound } from '../../errors.js';
import type { Decimal } from '../../money/index.js';
import { OPERATOR, type Principal } from '../../tenancy.js';
import { type Customer, findCustomerByAccountNumber, getCustomer } from '../accounts/customers.js';
import { paymentAmount } from './amounts.js';
import { type CustomerRef, resolveCustomer } from './customer-ref.js';
import { recordExternalPayment, recordExternalRefund } from './external-payments.js';
import { credentialsOf, type GatewayRow, getGateway } from './gateway-configs.js';
import { timeoutMsOf } from './gateways/index.js';
import { PaypalError, paypalClient } from './gateways/paypal-client.js';
import { alreadyHandled, recordNotification } from './notifications.js';
import type { TransactionRow } from './settle.js';
import type { PaymentContext } from './transactions.js';

/**
 * PayPal (seed 000): Instant Checkout — the customer approves an order in PayPal's checkout,
 * Tollgate captures it and tops the balance up — and IPN — PayPal tells us about money sent to
 * the operator's account (MassPay, a plain "send money"), and the customer named in `custom`
 * is topped up. Both record the PayPal transaction id (the capture id is the IPN's `txn_id`), so
 * a capture followed by its IPN, or a repeated IPN, tops up once.
 */
export class PaypalUnavailable extends Error {}

function clientOf(ctx: PaymentContext, gateway: GatewayRow) {
  const credentials = credentialsOf(ctx.secrets, gateway);
  return paypalClient({
    clientId: credentials.client_id!,
    clientSecret: credentials.client_secret!,
    mode: gateway.mode,
    baseUrl: gateway.settings.base_url,
    ipnVerifyUrl: gateway.settings.ipn_verify_url,
    timeoutMs: timeoutMsOf(gateway),
  });
}

export async function getPaypalGateway(db: Db, id: string): Promise<GatewayRow> {
  const gateway = await getGateway(db, id);
  if (gateway.type !== 'paypal' || gateway.status !== 'active') throw notFound('PayPal gateway');
  return gateway;
}

/** `custom` names the customer by id or account number. */
async function customerNamed(db: Db, custom: string | null): Promise<Customer | null> {
  if (!custom) return null;
  const lookup = custom.startsWith('cus_')
    ? getCustomer(db, OPERATOR, custom)
    : findCustomerByAccountNumber(db, OPERATOR, custom);
  return lookup.catch(() => null);
}

async function customerOfReported(db: Db, gatewayId: string, txnId: string): Promise<Customer | null> {
  const row = await db
    .selectFrom('payment_transactions')
    .select('customer_id')
    .where('gateway_key', '=', gatewayId)
    .where('kind', '=', 'purchase')
    .where('gateway_reference', '=', txnId)
    .executeTakeFirst();
  return row ? getCustomer(db, OPERATOR, row.customer_id) : null;
}

/**
 * A PayPal amount as a payment amount in `currency` (positive, no finer than its minor unit), or
 * null when unusable. A payment's must be positive as written: a negative `Completed` mc_gross is
 * no payment. Refunds and reversals carry a negative mc_gross, so their sign is dropped.
 */
function paypalAmount(text: string | null, currency: string, kind: 'payment' | 'refund'): Decimal | null {
  const magnitude = kind === 'refund' ? (text ?? '').replace(/^-/, '') : (text ?? '');
  try {
    return paymentAmount(magnitude, currency);
  } catch (error) {
    if (error instanceof DomainError) return null;
    throw error;
  }
}

async function applyVerifiedIpn(
  ctx: PaymentContext,
  gateway: GatewayRow,
  ipn: URLSearchParams,
): Promise<string> {
  const receiver = gateway.settings.receiver_email?.toLowerCase();
  if (!receiver || ipn.get('receiver_email')?.toLowerCase() !== receiver)
    return 'ignored: not our receiver_email';
  if (ipn.get('mc_currency') !== gateway.currency) return `ignored: currency is not ${gateway.currency}`;
  const txnId = ipn.get('txn_id')!;
  const status = ipn.get('payment_status');
  const kind = status === 'Completed' ? 'payment' : 'refund';
  const amount = paypalAmount(ipn.get('mc_gross'), gateway.currency, kind);
  if (!amount) return 'ignored: no valid mc_gross';
  if (status === 'Completed') {
    // A capture we made (Instant Checkout) is already on record under this txn_id: its customer.
    const customer =
      (await customerOfReported(ctx.db, gateway.id, txnId)) ??
      (await customerNamed(ctx.db, ipn.get('custom')));
    if (!customer) return 'ignored: custom names no customer';
    if (customer.currency !== gateway.currency) return `ignored: the customer pays in ${customer.currency}`;
    const row = await recordExternalPayment(ctx, {
      customer,
      method: 'paypal',
      gatewayKey: gateway.id,
      gatewayId: gateway.id,
      amount,
      currency: gateway.currency,
      gatewayReference: txnId,
      reference: txnId,
      description: `PayPal ${ipn.get('txn_type') ?? 'payment'} ${txnId}`,
    });
    return `topped up ${row.customer_id} (${row.id})`;
  }
  if (status === 'Refunded' || status === 'Reversed') {
    const parent = ipn.get('parent_txn_id');
    if (!parent) return 'ignored: no parent_txn_id';
    const result = await recordExternalRefund(ctx, {
      gatewayKey: gateway.id,
      parentReference: parent,
      gatewayReference: txnId,
      amount,
      description: `PayPal ${status.toLowerCase()} ${txnId} of ${parent}`,
    });
    return result.outcome === 'refunded'
      ? `reversed (${result.transaction.id})`
      : `ignored: ${result.reason}`;
  }
  return `ignored: payment_status ${status ?? 'missing'}`;
}

/**
 * An IPN message: verified by posting it back unchanged; only a VERIFIED one can change
 * anything, and only VERIFIED ones are journaled (so a forged txn_id cannot pre-empt a real one).
 * Deduplicated by txn_id and payment_status (PayPal sends Pending, then Completed, for one txn_id).
 */
export async function handlePaypalIpn(
  ctx: PaymentContext,
  gateway: GatewayRow,
  rawBody: Buffer,
): Promise<string> {
  const ipn = new URLSearchParams(rawBody.toString('latin1'));
  const txnId = ipn.get('txn_id');
  if (!txnId) return 'ignored: no txn_id';
  const verdict = await clientOf(ctx, gateway)
    .verifyIpn(rawBody)
    .catch((error: Error) => {
      throw new PaypalUnavailable(error.message);
    });
  if (verdict !== 'VERIFIED') return 'invalid: PayPal did not verify the message';
  const externalId = `${txnId}:${ipn.get('payment_status') ?? ''}`;
  if (await alreadyHandled(ctx.db, 'paypal', externalId)) return 'duplicate';
  const outcome = await applyVerifiedIpn(ctx, gateway, ipn);
  await recordNotification(ctx.db, 'paypal', externalId, outcome, rawBody.toString('latin1'));
  return outcome;
}

export interface CaptureInput extends CustomerRef {
  gateway_id: string;
  order_id: string;
}

function paypalFailure(error: unknown): Error {
  if (error instanceof PaypalError) {
    if (error.httpStatus === 404) return notFound('PayPal order');
    if (error.issue === 'ORDER_ALREADY_CAPTURED')
      return conflict('The PayPal order was already captured', 'order_id');
    if (error.httpStatus === 422)
      return new DomainError(
        'payment_declined',
        `PayPal refused the capture: ${error.issue ?? error.message}`,
        'order_id',
      );
    return new DomainError('unavailable', `PayPal answered: ${error.message}`);
  }
  return new DomainError(
    'unavailable',
    `PayPal did not answer: ${(error as Error).message}; retry with the same order_id`,
  );
}

/**
 * Instant Checkout: checks the approved order is for this customer (its custom_id, when set) and
 * in its currency, captures it (PayPal-Request-Id makes a retry the same capture), and tops up
 * by what was captured. A capture PayPal holds as PENDING is recorded pending; its IPN settles it.
 */
export async function capturePaypalOrder(
  ctx: PaymentContext,
  principal: Principal,
  input: CaptureInput,
): Promise<TransactionRow> {
  const gateway = await getPaypalGateway(ctx.db, input.gateway_id).catch(() => {
    throw invalid(`gateway_id '${input.gateway_id}' does not name an active PayPal gateway`, 'gateway_id');
  });
  const customer = await resolveCustomer(ctx.db, principal, input);
  if (customer.currency !== gateway.currency)
    throw invalid(
      `The gateway takes ${gateway.currency}; the customer pays in ${customer.currency}`,
      'gateway_id',
    );
  const client = clientOf(ctx, gateway);
  const order = await client.getOrder(input.order_id).catch((error) => {
    throw paypalFailure(error);
  });
  const unit = order.purchase_units?.[0];
  if (unit?.custom_id && unit.custom_id !== customer.id && unit.custom_id !== customer.account_number)
    throw invalid('The PayPal order was made for another customer', 'order_id');
  if (unit?.amount && unit.amount.currency_code !== customer.currency)
    throw invalid(
      `The PayPal order is in ${unit.amount.currency_code}, not ${customer.currency}`,
      'order_id',
    );
  const captured = await client.captureOrder(input.order_id).catch((error) => {
    throw paypalFailure(error);
  });
  const capture = captured.purchase_units?.[0]?.payments?.captures?.[0];
  if (!capture || (capture.status !== 'COMPLETED' && capture.status !== 'PENDING'))
    throw new DomainError(
      'payment_declined',
      `PayPal did not capture the order (${capture?.status ?? captured.status})`,
      'order_id',
    );
  const amount =
    capture.amount.currency_code === customer.currency
      ? paypalAmount(capture.amount.value, customer.currency, 'payment')
      : null;
  if (!amount)
    throw new DomainError(
      'unavailable',
      `PayPal answered an unusable amount: ${JSON.stringify(capture.amount)}`,
    );
  return recordExternalPayment(ctx, {
    customer,
    method: 'paypal',
    gatewayKey: gateway.id,
    gatewayId: gateway.id,
    amount,
    currency: customer.currency,
    gatewayReference: capture.id,
    reference: input.order_id,
    description: `PayPal order ${input.order_id}`,
    status: capture.status === 'COMPLETED' ? 'success' : 'pending',
  });
}
