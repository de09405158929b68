import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Decimal, type RoundingMode } from '../../money/index.js';
import { callCost } from '../rating/charging.js';
import type { RateVersion } from '../rating/prefix-index.js';
import type { LoadedCard } from '../rating/rating-index.js';
import { affordableSeconds } from './call-authorization.js';

/**
 * max_duration_seconds is the longest call whose cost, rounded as the CDR will be charged, the
 * funds pay for: against a brute force over every duration up to the cap.
 */
interface Pricing {
  rate: string;
  fee: string;
  initial: number;
  increment: number;
  decimals: number;
  mode: RoundingMode;
}

const rateOf = (p: Pricing): RateVersion => ({
  prefix: '1',
  destination: 'Test',
  rate: p.rate,
  connectionFee: p.fee,
  initialIncrementSeconds: p.initial,
  incrementSeconds: p.increment,
  effectiveFrom: new Date(0),
  effectiveTo: null,
  blocked: false,
});

// Only the rounding of the card is read.
const cardOf = (p: Pricing) =>
  ({ card: { rounding_decimals: p.decimals, rounding_mode: p.mode } }) as unknown as LoadedCard;

const affordable = (available: string, p: Pricing, cap = 10_800) =>
  affordableSeconds(new Decimal(available), rateOf(p), cardOf(p), cap);

function bruteForce(available: string, p: Pricing, cap: number): number {
  for (let seconds = cap; seconds > 0; seconds--) {
    const { cost } = callCost({
      durationSeconds: seconds,
      ratePerMinute: p.rate,
      connectionFee: p.fee,
      initialIncrementSeconds: p.initial,
      incrementSeconds: p.increment,
      roundingDecimals: p.decimals,
      roundingMode: p.mode,
    });
    if (cost.lte(available)) return seconds;
  }
  return 0;
}

test('a card that rounds the cost down affords the longer call it charges no more for', () => {
  const perMinute = { rate: '1', fee: '0', initial: 1, increment: 1 };
  // 119 s cost 1.98…, charged 1: the exact cost alone said 60.
  assert.equal(affordable('1', { ...perMinute, decimals: 0, mode: 'down' }), 119);
  // 0.06/min: 14 s cost 0.014, charged 0.01; 15 s are charged 0.02.
  assert.equal(
    affordable('0.01', { rate: '0.06', fee: '0', initial: 1, increment: 1, decimals: 2, mode: 'half_up' }),
    14,
  );
  // Rounding up takes seconds away instead: 1 buys 1 s less than a minute's exact cost would.
  assert.equal(affordable('1', { ...perMinute, decimals: 0, mode: 'up' }), 60);
  assert.equal(affordable('1', { ...perMinute, decimals: 0, mode: 'half_up' }), 89);
});

test('affordableSeconds is the longest duration whose rounded cost fits, for any pricing', () => {
  fc.assert(
    fc.property(
      fc.record({
        rate: fc
          .integer({ min: 0, max: 500_000_000 })
          .map((units) => new Decimal(units).dividedBy(1e8).toFixed()),
        fee: fc.constantFrom('0', '0.01', '0.5'),
        initial: fc.integer({ min: 1, max: 90 }),
        increment: fc.integer({ min: 1, max: 60 }),
        decimals: fc.integer({ min: 0, max: 8 }),
        mode: fc.constantFrom<RoundingMode>('half_up', 'half_even', 'up', 'down'),
      }),
      fc.integer({ min: 0, max: 300_000_000 }).map((units) => new Decimal(units).dividedBy(1e8).toFixed()),
      fc.integer({ min: 0, max: 900 }),
      (pricing, available, cap) => {
        assert.equal(affordable(available, pricing, cap), bruteForce(available, pricing, cap));
      },
    ),
    { numRuns: 300 },
  );
});
