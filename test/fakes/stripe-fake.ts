import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { type FakeAnswer, type FakeRequest, HttpFake, json } from './http-fake.js';

/**
 * A local stand-in for api.stripe.com speaking its documented wire format: form-encoded
 * requests with bracketed keys, JSON objects shaped like Stripe's (`object`, `id`, `status`…),
 * `{ error: { type, code, decline_code, message, payment_intent } }` with HTTP 402 for declines,
 * Idempotency-Key replays. It knows Stripe's test PaymentMethods (pm_card_visa,
 * pm_card_chargeDeclined…); it is not Stripe, and the adapter has been tested only against it.
 */
const DECLINES: Record<string, { code: string; decline_code?: string; message: string }> = {
  pm_card_chargeDeclined: {
    code: 'card_declined',
    decline_code: 'generic_decline',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    code: 'card_declined',
    decline_code: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
  pm_card_chargeDeclinedExpiredCard: { code: 'expired_card', message: 'Your card has expired.' },
  pm_card_chargeDeclinedIncorrectCvc: {
    code: 'incorrect_cvc',
    message: "Your card's security code is incorrect.",
  },
  pm_card_chargeDeclinedProcessingError: {
    code: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
  },
};
const APPROVING = new Set(['pm_card_visa', 'pm_card_mastercard', 'pm_card_amex']);

// Stripe's objects and form parameters are loosely shaped here on purpose: this is a fake.
// biome-ignore lint/suspicious/noExplicitAny: loosely shaped provider JSON
type Params = Record<string, any>;
// biome-ignore lint/suspicious/noExplicitAny: loosely shaped provider JSON
type StripeObject = Record<string, any>;

/** `a[b][c]=1&list[0]=x` → `{ a: { b: { c: '1' } }, list: { 0: 'x' } }` (Stripe's form encoding). */
export function parseForm(body: string): Params {
  const out: Params = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split(/\[|\]\[|\]/).filter((part) => part !== '');
    let node = out;
    for (const part of path.slice(0, -1)) node = node[part] ??= {};
    node[path.at(-1)!] = value;
  }
  return out;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const invalidRequest = (message: string, code?: string, param?: string) =>
  json(400, {
    error: { type: 'invalid_request_error', message, ...(code ? { code } : {}), ...(param ? { param } : {}) },
  });
const missing = (what: string, value: string) =>
  json(404, {
    error: {
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: `No such ${what}: '${value}'`,
    },
  });

export class StripeFake extends HttpFake {
  readonly intents = new Map<string, StripeObject>();
  readonly refunds = new Map<string, StripeObject>();
  /** Stored PaymentMethods: id → the test PaymentMethod whose behaviour it keeps. */
  readonly methods = new Map<string, string>();
  private readonly replies = new Map<string, FakeAnswer>();
  /** PaymentMethods whose payments stay `processing` (an asynchronous payment). */
  readonly processing = new Set<string>();

  constructor(readonly secretKey = 'sk_test_fake_0123456789') {
    super((request) => this.route(request));
  }

  private route(request: FakeRequest): FakeAnswer {
    if (request.headers.authorization !== `Bearer ${this.secretKey}`)
      return json(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    const key = request.headers['idempotency-key'];
    const replayKey = typeof key === 'string' ? `${request.path}\n${key}` : null;
    if (replayKey && this.replies.has(replayKey)) return this.replies.get(replayKey)!;
    const answer = this.dispatch(request, parseForm(request.body));
    if (replayKey && answer.status !== 401 && answer.status < 500) this.replies.set(replayKey, answer);
    return answer;
  }

  private dispatch(request: FakeRequest, params: Params): FakeAnswer {
    const parts = request.path.split('/').filter(Boolean); // ['v1', 'payment_intents', id?, action?]
    const [, resource, objectId, action] = parts;
    const post = request.method === 'POST';
    if (resource === 'payment_intents') {
      if (post && !objectId) return this.createIntent(params);
      if (!post && objectId === 'search') return this.searchIntents(request.query.get('query') ?? '');
      const intent = objectId ? this.intents.get(objectId) : undefined;
      if (!intent) return missing('payment_intent', objectId ?? '');
      if (!post && !action) return json(200, intent);
      if (post && action === 'capture') return this.capture(intent, params);
      if (post && action === 'cancel') return this.cancel(intent);
    }
    if (resource === 'refunds') {
      if (post && !objectId) return this.createRefund(params);
      if (!post && objectId)
        return this.refunds.get(objectId)
          ? json(200, this.refunds.get(objectId))
          : missing('refund', objectId);
      if (!post) {
        const forIntent = [...this.refunds.values()].filter(
          (r) => r.payment_intent === request.query.get('payment_intent'),
        );
        return json(200, { object: 'list', data: forIntent, has_more: false, url: '/v1/refunds' });
      }
    }
    if (resource === 'customers' && post && !objectId)
      return json(200, { id: id('cus'), object: 'customer', metadata: params.metadata ?? {} });
    if (resource === 'setup_intents' && post && !objectId) return this.createSetupIntent(params);
    if (resource === 'payment_methods' && post && action === 'detach') {
      if (!this.methods.delete(objectId!)) return missing('payment_method', objectId!);
      return json(200, { id: objectId, object: 'payment_method', customer: null });
    }
    return json(404, {
      error: {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${request.method}: ${request.path})`,
      },
    });
  }

  /** The test PaymentMethod behind what the request names (a stored one keeps its original's behaviour). */
  private behaviourOf(params: Params): string | null {
    const named = params.payment_method as string | undefined;
    if (named)
      return (
        this.methods.get(named) ??
        (APPROVING.has(named) || DECLINES[named] || this.processing.has(named) ? named : null)
      );
    return params.payment_method_data?.card?.number ? 'pm_card_visa' : null;
  }

  private createIntent(params: Params): FakeAnswer {
    const amount = Number(params.amount);
    if (!Number.isInteger(amount) || amount < 50)
      return invalidRequest('Amount must be at least 50 cents', 'amount_too_small', 'amount');
    const behaviour = this.behaviourOf(params);
    if (!behaviour)
      return invalidRequest(
        `No such PaymentMethod: '${params.payment_method}'`,
        'resource_missing',
        'payment_method',
      );
    const intent: StripeObject = {
      id: id('pi'),
      object: 'payment_intent',
      amount,
      amount_capturable: 0,
      amount_received: 0,
      currency: params.currency,
      capture_method: params.capture_method ?? 'automatic',
      customer: params.customer ?? null,
      payment_method: params.payment_method ?? id('pm'),
      metadata: params.metadata ?? {},
      description: params.description ?? null,
      latest_charge: null,
      last_payment_error: null,
      livemode: false,
      created: Math.floor(Date.now() / 1000),
      status: 'requires_payment_method',
    };
    this.intents.set(intent.id, intent);
    const decline = DECLINES[behaviour];
    if (decline) {
      intent.last_payment_error = { type: 'card_error', ...decline };
      return json(402, { error: { type: 'card_error', ...decline, payment_intent: intent } });
    }
    intent.latest_charge = id('ch');
    if (this.processing.has(behaviour)) intent.status = 'processing';
    else if (intent.capture_method === 'manual') {
      intent.status = 'requires_capture';
      intent.amount_capturable = amount;
    } else {
      intent.status = 'succeeded';
      intent.amount_received = amount;
    }
    return json(200, intent);
  }

  private searchIntents(query: string): FakeAnswer {
    const match = /^metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'$/.exec(query);
    if (!match) return invalidRequest(`Unsupported search query: ${query}`);
    const value = match[2]!.replace(/\\'/g, "'");
    const data = [...this.intents.values()].filter((intent) => intent.metadata[match[1]!] === value);
    return json(200, {
      object: 'search_result',
      data,
      has_more: false,
      next_page: null,
      url: '/v1/payment_intents/search',
    });
  }

  private capture(intent: StripeObject, params: Params): FakeAnswer {
    if (intent.status !== 'requires_capture')
      return invalidRequest(
        `This PaymentIntent could not be captured because it has a status of ${intent.status}.`,
        'payment_intent_unexpected_state',
      );
    const amount =
      params.amount_to_capture === undefined ? intent.amount_capturable : Number(params.amount_to_capture);
    if (amount > intent.amount_capturable)
      return invalidRequest(
        'The amount to capture is greater than the capturable amount',
        'amount_too_large',
        'amount_to_capture',
      );
    // Stripe releases what is not captured: one capture per PaymentIntent.
    Object.assign(intent, { status: 'succeeded', amount_received: amount, amount_capturable: 0 });
    return json(200, intent);
  }

  private cancel(intent: StripeObject): FakeAnswer {
    if (
      !['requires_capture', 'requires_payment_method', 'requires_confirmation', 'requires_action'].includes(
        intent.status,
      )
    )
      return invalidRequest(
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}.`,
        'payment_intent_unexpected_state',
      );
    Object.assign(intent, {
      status: 'canceled',
      amount_capturable: 0,
      cancellation_reason: 'requested_by_customer',
    });
    return json(200, intent);
  }

  private createRefund(params: Params): FakeAnswer {
    const intent = this.intents.get(params.payment_intent);
    if (!intent) return missing('payment_intent', params.payment_intent);
    const refunded = [...this.refunds.values()]
      .filter((r) => r.payment_intent === intent.id)
      .reduce((sum, r) => sum + r.amount, 0);
    const amount = params.amount === undefined ? intent.amount_received - refunded : Number(params.amount);
    if (intent.status !== 'succeeded')
      return invalidRequest(
        'This PaymentIntent has no successful charge to refund.',
        'charge_not_refundable',
      );
    if (amount > intent.amount_received - refunded)
      return invalidRequest(
        `Refund amount (${amount}) is greater than unrefunded amount on charge (${intent.amount_received - refunded})`,
        'amount_too_large',
        'amount',
      );
    const refund = {
      id: id('re'),
      object: 'refund',
      amount,
      currency: intent.currency,
      charge: intent.latest_charge,
      payment_intent: intent.id,
      metadata: params.metadata ?? {},
      status: 'succeeded',
      created: Math.floor(Date.now() / 1000),
    };
    this.refunds.set(refund.id, refund);
    return json(200, refund);
  }

  private createSetupIntent(params: Params): FakeAnswer {
    const behaviour = this.behaviourOf(params);
    if (!behaviour)
      return invalidRequest(`No such PaymentMethod: '${params.payment_method}'`, 'resource_missing');
    const setup: StripeObject = {
      id: id('seti'),
      object: 'setup_intent',
      customer: params.customer,
      usage: params.usage,
    };
    const decline = DECLINES[behaviour];
    // Stripe checks the card when it is set up; a declining test card is refused.
    if (decline && behaviour !== 'pm_card_chargeDeclinedProcessingError')
      return json(402, {
        error: {
          type: 'card_error',
          ...decline,
          setup_intent: { ...setup, status: 'requires_payment_method' },
        },
      });
    const stored = id('pm');
    this.methods.set(stored, behaviour);
    return json(200, { ...setup, status: 'succeeded', payment_method: stored });
  }

  /** A webhook delivery as Stripe sends it: the JSON event and its Stripe-Signature header. */
  signedEvent(type: string, object: StripeObject, secret: string, eventId = id('evt')) {
    const payload = JSON.stringify({
      id: eventId,
      object: 'event',
      type,
      api_version: Stripe.API_VERSION,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: { object },
    });
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
    return { payload, header, eventId };
  }
}
