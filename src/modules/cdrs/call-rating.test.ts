import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Decimal, formatAmount, type RoundingMode } from '../../money/index.js';
import { billedSeconds, callCost } from '../rating/charging.js';
import { fromUnits } from '../rating/units.js';
import { costUnits, unitsText } from './call-rating.js';

/** The integer pricing of CDRs is the charging rule exactly: the same cost as callCost's Decimal. */
const units = fc.oneof(
  fc.integer({ min: 0, max: 100_000_000 }),
  fc.bigInt({ min: 0n, max: 999_999_999_999_999n }).map(Number),
);

test('costUnits equals callCost for any rate, fee, increments, duration, rounding', () => {
  fc.assert(
    fc.property(
      units,
      units,
      fc.integer({ min: 1, max: 86_400 }),
      fc.integer({ min: 1, max: 120 }),
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: 0, max: 8 }),
      fc.constantFrom<RoundingMode>('half_up', 'half_even', 'up', 'down'),
      (rate, fee, seconds, initial, increment, decimals, mode) => {
        const increments = { initialIncrementSeconds: initial, incrementSeconds: increment };
        const expected = callCost({
          durationSeconds: seconds,
          ratePerMinute: fromUnits(rate),
          connectionFee: fromUnits(fee),
          ...increments,
          roundingDecimals: decimals,
          roundingMode: mode,
        }).cost;
        const got = costUnits(rate, fee, billedSeconds(seconds, increments), decimals, mode);
        assert.equal(unitsText(got), formatAmount(expected));
      },
    ),
    { numRuns: 3_000 },
  );
});

test('ties round as each mode says', () => {
  // 60 billed seconds at r × 1e-8 per minute cost exactly r × 1e-8, rounded to 7 places.
  const tie = (mode: RoundingMode, rate: number) => unitsText(costUnits(rate, 0, 60, 7, mode));
  assert.equal(tie('half_up', 5), '0.0000001');
  assert.equal(tie('half_even', 5), '0');
  assert.equal(tie('half_even', 15), '0.0000002');
  assert.equal(tie('up', 1), '0.0000001');
  assert.equal(tie('down', 19), '0.0000001');
});

test('unitsText writes amounts as formatAmount does', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 28n), max: 10n ** 28n }), (value) => {
      assert.equal(unitsText(value), formatAmount(new Decimal(value.toString()).dividedBy(1e8)));
    }),
  );
});
