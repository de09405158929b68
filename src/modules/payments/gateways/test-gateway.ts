import { randomBytes } from 'node:crypto';
import { cardBrand, normaliseCardNumber } from '../card.js';
import type { FollowUpRequest, GatewayAdapter, GatewayAnswer, MoneyRequest, PaymentSource } from './types.js';

/**
 * The built-in `test` gateway: deterministic, no network, so the whole system works out of the
 * box. The card number decides the outcome (the table below); every other valid number, and
 * every bank account, approves. A stored card keeps its outcome in its token (`tok_test_<outcome>_…`),
 * never the number. Follow-ups (capture, void, refund) always succeed.
 */
export const TEST_CARDS = {
  '4242424242424242': 'approve',
  '4000000000000002': 'card_declined',
  '4000000000009995': 'insufficient_funds',
  '4000000000000119': 'processing_error',
  '4000000000003220': 'pending',
  '4000000000000259': 'timeout',
} as const;

type Outcome = (typeof TEST_CARDS)[keyof typeof TEST_CARDS];
const OUTCOMES = new Set<string>(Object.values(TEST_CARDS));

const reference = () => `test_${randomBytes(10).toString('hex')}`;

function outcomeOf(source: PaymentSource): Outcome {
  if (source.kind === 'bank') return 'approve';
  if (source.kind === 'token') {
    const stored = /^tok_test_([a-z_]+?)_[0-9a-f]{16}$/.exec(source.token)?.[1];
    return stored && OUTCOMES.has(stored) ? (stored as Outcome) : 'approve';
  }
  return TEST_CARDS[normaliseCardNumber(source.card.number) as keyof typeof TEST_CARDS] ?? 'approve';
}

function answer(outcome: Outcome): GatewayAnswer {
  switch (outcome) {
    case 'approve':
      return { status: 'success', reference: reference() };
    case 'card_declined':
      return {
        status: 'failed',
        reference: reference(),
        errorCode: 'card_declined',
        message: 'The card was declined',
      };
    case 'insufficient_funds':
      return {
        status: 'failed',
        reference: reference(),
        errorCode: 'insufficient_funds',
        message: 'The card has insufficient funds',
      };
    case 'processing_error':
      return {
        status: 'error',
        reference: null,
        errorCode: 'processing_error',
        message: 'The gateway could not process the card',
      };
    case 'pending':
      return { status: 'pending', reference: reference(), message: 'Awaiting the card issuer' };
    case 'timeout':
      return {
        status: 'unknown',
        reference: null,
        errorCode: 'timeout',
        message: 'No answer from the gateway',
      };
    default: {
      const unreachable: never = outcome;
      throw new Error(`unknown test outcome ${String(unreachable)}`);
    }
  }
}

const money = async (request: MoneyRequest) => answer(outcomeOf(request.source));
const followUp = async (_request: FollowUpRequest): Promise<GatewayAnswer> => ({
  status: 'success',
  reference: reference(),
});

export const testGateway: GatewayAdapter = {
  type: 'test',
  authorize: money,
  purchase: money,
  credit: money,
  bankDebit: money,
  bankCredit: money,
  capture: followUp,
  void: followUp,
  refund: followUp,
  async storePaymentMethod(source) {
    const random = randomBytes(8).toString('hex');
    if (source.kind === 'bank') return { token: `tok_test_approve_${random}`, brand: null };
    const outcome = outcomeOf(source);
    return {
      token: `tok_test_${outcome}_${random}`,
      brand: cardBrand(normaliseCardNumber(source.card.number)),
    };
  },
  async deletePaymentMethod() {},
  /** What was pending or unanswered has, by the time anyone asks again, gone through. */
  async lookup(query) {
    return { status: 'success', reference: query.reference ?? reference() };
  },
};
