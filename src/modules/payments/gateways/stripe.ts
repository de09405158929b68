import Stripe from 'stripe';
import { cardBrand, normaliseCardNumber } from '../card.js';
import type { TransactionKind } from '../state-machine.js';
import { toStripeMinorUnits } from './minor-units.js';
import {
  type FollowUpRequest,
  type GatewayAdapter,
  type GatewayAnswer,
  type LookupQuery,
  MethodRefused,
  type MoneyRequest,
  noAnswer,
  type PaymentSource,
} from './types.js';

/**
 * The `stripe` gateway through the official `stripe` package: PaymentIntents (manual capture for
 * authorizations, automatic for purchases), Refunds, SetupIntents for stored cards. A stored card
 * is the token `<customer id>/<payment method id>`. Tested only against test/fakes/stripe-fake.ts.
 */
export interface StripeSettings {
  secretKey: string;
  mode: 'test' | 'live';
  /** Where the API lives (tests: a local fake); default https://api.stripe.com. */
  baseUrl?: string;
  timeoutMs: number;
}

/**
 * Stripe's documented test cards as the PaymentMethod ids test mode accepts, so a card number
 * typed in test mode never leaves Tollgate as a number.
 */
export const STRIPE_TEST_PAYMENT_METHODS: Record<string, string> = {
  '4242424242424242': 'pm_card_visa',
  '5555555555554444': 'pm_card_mastercard',
  '378282246310005': 'pm_card_amex',
  '4000000000000002': 'pm_card_chargeDeclined',
  '4000000000009995': 'pm_card_chargeDeclinedInsufficientFunds',
  '4000000000000069': 'pm_card_chargeDeclinedExpiredCard',
  '4000000000000127': 'pm_card_chargeDeclinedIncorrectCvc',
  '4000000000000119': 'pm_card_chargeDeclinedProcessingError',
};

const NO_REDIRECTS = { enabled: true, allow_redirects: 'never' as const };

const NOT_SUPPORTED: GatewayAnswer = {
  status: 'error',
  reference: null,
  errorCode: 'not_supported',
  message: 'The stripe gateway takes card payments only (no bank debits/credits, no unreferenced credits)',
};

export function clientOptions(settings: StripeSettings): ConstructorParameters<typeof Stripe>[1] {
  const url = settings.baseUrl ? new URL(settings.baseUrl) : null;
  const protocol = url?.protocol === 'http:' ? 'http' : 'https';
  return {
    // No silent retries: an unanswered call is `unknown` and reconciliation asks again.
    maxNetworkRetries: 0,
    timeout: settings.timeoutMs,
    telemetry: false,
    ...(url ? { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol } : {}),
  };
}

/** PaymentIntent fields naming the card: a stored one, a test PaymentMethod, or (live) raw card data. */
type MethodParams = Pick<
  Stripe.PaymentIntentCreateParams,
  'customer' | 'payment_method' | 'payment_method_data'
>;

function methodParams(source: PaymentSource, mode: StripeSettings['mode']): MethodParams {
  if (source.kind === 'token') {
    const [customer, paymentMethod] = source.token.split('/');
    return { customer, payment_method: paymentMethod };
  }
  if (source.kind === 'bank') throw new Error('bank sources are refused before this point');
  const number = normaliseCardNumber(source.card.number);
  const testMethod = mode === 'test' ? STRIPE_TEST_PAYMENT_METHODS[number] : undefined;
  if (testMethod) return { payment_method: testMethod };
  // Raw card data: Stripe accepts it only on accounts it has enabled for it (PCI SAQ D), and
  // its typings leave it out.
  const card = {
    number,
    exp_month: source.card.expMonth,
    exp_year: source.card.expYear,
    cvc: source.card.cvv,
  };
  return {
    payment_method_data: { type: 'card', card } as Stripe.PaymentIntentCreateParams.PaymentMethodData,
  };
}

const declined = (
  code: string | undefined,
  message: string | undefined,
  reference: string | null,
): GatewayAnswer => ({
  status: 'failed',
  reference,
  errorCode: code ?? 'card_declined',
  message: message ?? 'The card was declined',
});

/** What a PaymentIntent's status means for the transaction kind that touched it. */
export function intentAnswer(kind: TransactionKind, intent: Stripe.PaymentIntent): GatewayAnswer {
  const reference = intent.id;
  const failure = intent.last_payment_error;
  const done: Record<string, Stripe.PaymentIntent.Status> = {
    authorize: 'requires_capture',
    purchase: 'succeeded',
    capture: 'succeeded',
    void: 'canceled',
  };
  if (intent.status === done[kind]) return { status: 'success', reference };
  if (intent.status === 'processing') return { status: 'pending', reference };
  if (intent.status === 'requires_payment_method')
    return declined(failure?.decline_code || failure?.code, failure?.message, reference);
  if (intent.status === 'requires_action')
    return declined('authentication_required', 'The card needs the holder to authenticate', reference);
  return {
    status: 'error',
    reference,
    errorCode: `payment_intent_${intent.status}`,
    message: `The PaymentIntent is ${intent.status}`,
  };
}

export function refundAnswer(refund: Stripe.Refund): GatewayAnswer {
  const reference = refund.id;
  if (refund.status === 'succeeded') return { status: 'success', reference };
  if (refund.status === 'pending' || refund.status === 'requires_action')
    return { status: 'pending', reference };
  return {
    status: refund.status === 'failed' ? 'failed' : 'error',
    reference,
    errorCode: refund.failure_reason ?? `refund_${refund.status}`,
    message: `The refund is ${refund.status}`,
  };
}

/**
 * Stripe's errors as answers: a card error is a decline; a 5xx, a timeout or a broken
 * connection leaves the outcome unknown (Stripe documents 500s as possibly processed);
 * anything else (invalid request, auth, rate limit, idempotency) did not happen.
 */
export function errorAnswer(error: unknown): GatewayAnswer {
  if (error instanceof Stripe.errors.StripeCardError)
    return declined(error.decline_code || error.code, error.message, error.payment_intent?.id ?? null);
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError)
    return noAnswer(error);
  if (error instanceof Stripe.errors.StripeError)
    return { status: 'error', reference: null, errorCode: error.code ?? error.type, message: error.message };
  return noAnswer(error);
}

const answering = async (call: () => Promise<GatewayAnswer>) => call().catch(errorAnswer);

export function stripeGateway(settings: StripeSettings): GatewayAdapter {
  const stripe = new Stripe(settings.secretKey, clientOptions(settings));

  const openIntent =
    (captureMethod: 'manual' | 'automatic', kind: TransactionKind) => (request: MoneyRequest) => {
      if (request.source.kind === 'bank') return Promise.resolve(NOT_SUPPORTED);
      return answering(async () => {
        const intent = await stripe.paymentIntents.create(
          {
            amount: toStripeMinorUnits(request.amount, request.currency),
            currency: request.currency.toLowerCase(),
            capture_method: captureMethod,
            confirm: true,
            // Server-side confirmation: no redirect-based methods, so no return_url.
            automatic_payment_methods: NO_REDIRECTS,
            off_session: request.source.kind === 'token',
            ...methodParams(request.source, settings.mode),
            ...(request.description ? { description: request.description } : {}),
            // Names the intent when the call times out: reconciliation searches by it.
            metadata: { tollgate_request_key: request.idempotencyKey },
          },
          { idempotencyKey: request.idempotencyKey },
        );
        return intentAnswer(kind, intent);
      });
    };

  const searchByKey = async (requestKey: string) => {
    const found = await stripe.paymentIntents.search({
      query: `metadata['tollgate_request_key']:'${requestKey.replace(/'/g, "\\'")}'`,
      limit: 1,
    });
    return found.data[0] ?? null;
  };

  return {
    type: 'stripe',
    authorize: openIntent('manual', 'authorize'),
    purchase: openIntent('automatic', 'purchase'),
    credit: async () => NOT_SUPPORTED,
    bankDebit: async () => NOT_SUPPORTED,
    bankCredit: async () => NOT_SUPPORTED,
    capture: (request: FollowUpRequest) =>
      answering(async () => {
        const intent = await stripe.paymentIntents.capture(
          request.reference,
          { amount_to_capture: toStripeMinorUnits(request.amount, request.currency) },
          { idempotencyKey: request.idempotencyKey },
        );
        return intentAnswer('capture', intent);
      }),
    void: (request: FollowUpRequest) =>
      answering(async () => {
        const intent = await stripe.paymentIntents.cancel(
          request.reference,
          {},
          { idempotencyKey: request.idempotencyKey },
        );
        return intentAnswer('void', intent);
      }),
    refund: (request: FollowUpRequest) =>
      answering(async () => {
        const refund = await stripe.refunds.create(
          {
            payment_intent: request.reference,
            amount: toStripeMinorUnits(request.amount, request.currency),
            metadata: { tollgate_request_key: request.idempotencyKey },
          },
          { idempotencyKey: request.idempotencyKey },
        );
        return refundAnswer(refund);
      }),
    async storePaymentMethod(source, customerRef) {
      if (source.kind === 'bank')
        throw new MethodRefused('not_supported', 'The stripe gateway stores cards only');
      const customer = await stripe.customers.create({ metadata: { tollgate_customer: customerRef } });
      try {
        const setup = await stripe.setupIntents.create({
          customer: customer.id,
          confirm: true,
          usage: 'off_session',
          automatic_payment_methods: NO_REDIRECTS,
          ...(methodParams(source, settings.mode) as Stripe.SetupIntentCreateParams),
        });
        if (setup.status !== 'succeeded' || typeof setup.payment_method !== 'string')
          throw new MethodRefused(
            `setup_intent_${setup.status}`,
            `The card could not be stored (${setup.status})`,
          );
        return {
          token: `${customer.id}/${setup.payment_method}`,
          brand: cardBrand(normaliseCardNumber(source.card.number)),
        };
      } catch (error) {
        if (error instanceof Stripe.errors.StripeCardError)
          throw new MethodRefused(error.decline_code || error.code || 'card_declined', error.message);
        throw error;
      }
    },
    async deletePaymentMethod(token) {
      const [, paymentMethod] = token.split('/');
      if (paymentMethod) await stripe.paymentMethods.detach(paymentMethod);
    },
    lookup: (query: LookupQuery) =>
      answering(async () => {
        if (query.kind === 'refund') {
          if (query.reference) return refundAnswer(await stripe.refunds.retrieve(query.reference));
          if (!query.openingReference) return noAnswer(new Error('no payment to look the refund up on'));
          const refunds = await stripe.refunds.list({ payment_intent: query.openingReference, limit: 100 });
          const refund = refunds.data.find((r) => r.metadata?.tollgate_request_key === query.requestKey);
          return refund
            ? refundAnswer(refund)
            : {
                status: 'error',
                reference: null,
                errorCode: 'not_found',
                message: 'Stripe has no such refund',
              };
        }
        const id =
          query.kind === 'authorize' || query.kind === 'purchase' ? query.reference : query.openingReference;
        const intent = id ? await stripe.paymentIntents.retrieve(id) : await searchByKey(query.requestKey);
        if (!intent)
          return {
            status: 'error',
            reference: null,
            errorCode: 'not_found',
            message: 'Stripe never received the payment',
          };
        return intentAnswer(query.kind, intent);
      }),
  };
}
