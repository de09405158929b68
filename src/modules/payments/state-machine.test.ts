import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Decimal } from '../../money/index.js';
import {
  balanceEffect,
  decide,
  type PaymentState,
  type RecordedTransaction,
  type Refusal,
  TRANSACTION_KINDS,
  TRANSACTION_STATUSES,
  type TransactionKind,
  type TransactionStatus,
  viewPayment,
} from './state-machine.js';

const tx = (
  kind: TransactionKind,
  amount: string,
  status: TransactionStatus = 'success',
): RecordedTransaction => ({
  kind,
  status,
  amount: new Decimal(amount),
});

/** One payment history per state, the amounts chosen so every limit is reachable. */
const HISTORIES: Record<PaymentState, RecordedTransaction[]> = {
  new: [],
  pending: [tx('authorize', '100', 'pending')],
  authorized: [tx('authorize', '100')],
  captured: [tx('authorize', '100'), tx('capture', '40')],
  purchased: [tx('purchase', '100')],
  refunded: [tx('purchase', '100'), tx('refund', '100')],
  voided: [tx('authorize', '100'), tx('void', '0')],
  credited: [tx('credit', '100')],
  failed: [tx('authorize', '100', 'failed')],
};

/**
 * The whole transition table: for every state, every kind at a small amount, and the answer.
 * 'ok' = allowed; otherwise the refusal's name.
 */
const TABLE: Record<PaymentState, Record<TransactionKind, 'ok' | Refusal>> = {
  new: {
    authorize: 'ok',
    purchase: 'ok',
    credit: 'ok',
    capture: 'not_authorized',
    refund: 'not_authorized',
    void: 'void_not_authorized',
  },
  pending: {
    authorize: 'payment_already_started',
    purchase: 'payment_already_started',
    credit: 'payment_already_started',
    capture: 'transaction_in_flight',
    refund: 'transaction_in_flight',
    void: 'transaction_in_flight',
  },
  authorized: {
    authorize: 'payment_already_started',
    purchase: 'payment_already_started',
    credit: 'payment_already_started',
    capture: 'ok',
    refund: 'nothing_captured',
    void: 'ok',
  },
  captured: {
    authorize: 'payment_already_started',
    purchase: 'payment_already_started',
    credit: 'payment_already_started',
    capture: 'ok',
    refund: 'ok',
    void: 'void_after_capture',
  },
  purchased: {
    authorize: 'payment_already_started',
    purchase: 'payment_already_started',
    credit: 'payment_already_started',
    capture: 'not_authorized',
    refund: 'ok',
    // A purchase is an authorization captured at once: too late to void, refund it instead.
    void: 'void_after_capture',
  },
  refunded: {
    authorize: 'payment_already_started',
    purchase: 'payment_already_started',
    credit: 'payment_already_started',
    capture: 'not_authorized',
    refund: 'refund_exceeds_captured',
    void: 'void_after_capture',
  },
  voided: {
    authorize: 'payment_already_started',
    purchase: 'payment_already_started',
    credit: 'payment_already_started',
    capture: 'payment_voided',
    refund: 'payment_voided',
    void: 'payment_voided',
  },
  credited: {
    authorize: 'payment_already_started',
    purchase: 'payment_already_started',
    credit: 'payment_already_started',
    capture: 'payment_credited',
    refund: 'payment_credited',
    void: 'payment_credited',
  },
  failed: {
    authorize: 'payment_already_started',
    purchase: 'payment_already_started',
    credit: 'payment_already_started',
    capture: 'payment_failed',
    refund: 'payment_failed',
    void: 'payment_failed',
  },
};

const answer = (view: ReturnType<typeof viewPayment>, kind: TransactionKind, amount: string) => {
  const decision = decide(view, kind, new Decimal(amount));
  return decision.allowed ? 'ok' : decision.refusal;
};

test('every state × every transaction kind is allowed or refused as the table says', () => {
  for (const [state, history] of Object.entries(HISTORIES) as [PaymentState, RecordedTransaction[]][]) {
    const view = viewPayment(history);
    assert.equal(view.state, state, `history for ${state}`);
    for (const kind of TRANSACTION_KINDS) {
      assert.equal(answer(view, kind, '10'), TABLE[state][kind], `${state} → ${kind}`);
    }
  }
});

test('captures: partial and several, never beyond the authorized amount', () => {
  const history = [tx('authorize', '100'), tx('capture', '60')];
  assert.equal(answer(viewPayment(history), 'capture', '40'), 'ok');
  assert.equal(answer(viewPayment(history), 'capture', '40.00000001'), 'capture_exceeds_authorized');
  history.push(tx('capture', '40'));
  assert.equal(answer(viewPayment(history), 'capture', '0.01'), 'capture_exceeds_authorized');
  assert.equal(viewPayment(history).captured.toFixed(), '100');
});

test('refunds: partial and several, never more than captured in total', () => {
  const history = [tx('authorize', '100'), tx('capture', '30'), tx('refund', '10')];
  assert.equal(answer(viewPayment(history), 'refund', '20'), 'ok');
  assert.equal(answer(viewPayment(history), 'refund', '20.01'), 'refund_exceeds_captured');
  // What was captured and given back does not stop the rest of the authorization being captured.
  history.push(tx('refund', '20'));
  assert.equal(viewPayment(history).state, 'refunded');
  assert.equal(answer(viewPayment(history), 'capture', '70'), 'ok');
  assert.equal(answer(viewPayment(history), 'void', '0'), 'void_after_capture');
});

test('in-flight captures and refunds reserve their amount; a failed one reserves nothing', () => {
  const pending = [tx('authorize', '100'), tx('capture', '80', 'unknown')];
  assert.equal(answer(viewPayment(pending), 'capture', '20.01'), 'capture_exceeds_authorized');
  assert.equal(answer(viewPayment(pending), 'void', '0'), 'void_after_capture');
  const failed = [tx('authorize', '100'), tx('capture', '80', 'failed')];
  assert.equal(answer(viewPayment(failed), 'capture', '100'), 'ok');
  assert.equal(answer(viewPayment(failed), 'void', '0'), 'ok');
  const refunding = [tx('purchase', '50'), tx('refund', '50', 'pending')];
  assert.equal(answer(viewPayment(refunding), 'refund', '0.01'), 'refund_exceeds_captured');
});

test('amounts must be positive for everything but a void', () => {
  const view = viewPayment([]);
  assert.equal(answer(view, 'purchase', '0'), 'amount_not_positive');
  assert.equal(answer(view, 'purchase', '-1'), 'amount_not_positive');
});

test('balance effects: money in tops up, money back reverses, authorizations move nothing', () => {
  assert.deepEqual(balanceEffect('purchase', new Decimal(5)), {
    category: 'payment',
    amount: new Decimal(5),
  });
  assert.deepEqual(balanceEffect('capture', new Decimal(5)), { category: 'payment', amount: new Decimal(5) });
  assert.equal(balanceEffect('refund', new Decimal(5))?.amount.toFixed(), '-5');
  assert.equal(balanceEffect('credit', new Decimal(5))?.category, 'refund');
  assert.equal(balanceEffect('authorize', new Decimal(5)), null);
  assert.equal(balanceEffect('void', new Decimal(0)), null);
});

const request = fc.record({
  kind: fc.constantFrom(...TRANSACTION_KINDS),
  cents: fc.integer({ min: -100, max: 20_000 }),
  status: fc.constantFrom(...TRANSACTION_STATUSES),
});

test('property: whatever is attempted, only allowed transactions are recorded and the limits hold', () => {
  fc.assert(
    fc.property(fc.array(request, { maxLength: 25 }), (attempts) => {
      const history: RecordedTransaction[] = [];
      for (const attempt of attempts) {
        const amount = new Decimal(attempt.cents).dividedBy(100);
        const view = viewPayment(history);
        const decision = decide(view, attempt.kind, amount);
        if (view.state === 'voided' || view.state === 'failed' || view.state === 'credited') {
          assert.equal(decision.allowed, false, 'nothing after a void, a failure or a credit');
        }
        if (decision.allowed) history.push({ kind: attempt.kind, status: attempt.status, amount });
      }
      const view = viewPayment(history);
      const opening = history.filter((t) => ['authorize', 'purchase', 'credit'].includes(t.kind));
      assert.ok(opening.length <= 1, 'one opening transaction per payment');
      if (history.some((t) => t.kind === 'authorize')) {
        // Also when the authorization never succeeded: authorized is 0 and no capture was allowed.
        assert.ok(view.captured.plus(view.capturing).lessThanOrEqualTo(view.authorized));
      }
      assert.ok(view.refunded.plus(view.refunding).lessThanOrEqualTo(view.captured));
      assert.ok(
        !history.some((t, i) => t.kind === 'void' && t.status === 'success' && i < history.length - 1),
      );
    }),
    { numRuns: 2000 },
  );
});

test('property: a successful capture or refund changes the totals by exactly its amount', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100_000 }),
      fc.array(fc.integer({ min: 1, max: 100_000 }), { maxLength: 10 }),
      (authorizedCents, captureCents) => {
        const history = [tx('authorize', new Decimal(authorizedCents).dividedBy(100).toFixed())];
        let expected = new Decimal(0);
        for (const cents of captureCents) {
          const amount = new Decimal(cents).dividedBy(100);
          if (decide(viewPayment(history), 'capture', amount).allowed) {
            history.push({ kind: 'capture', status: 'success', amount });
            expected = expected.plus(amount);
          } else {
            assert.ok(expected.plus(amount).greaterThan(new Decimal(authorizedCents).dividedBy(100)));
          }
        }
        assert.equal(viewPayment(history).captured.toFixed(), expected.toFixed());
      },
    ),
  );
});
