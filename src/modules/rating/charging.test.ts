import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatAmount } from '../../money/index.js';
import { billedSeconds, callCost } from './charging.js';

const inc = (initialIncrementSeconds: number, incrementSeconds: number) => ({
  initialIncrementSeconds,
  incrementSeconds,
});

test('billed seconds follow the worked examples of the issue (ConnexCS docs)', () => {
  const table: [string, number, number, number, number][] = [
    ['60/6, 0 s bills nothing', 60, 6, 0, 0],
    ['60/6, 10 s bills the 60 s minimum', 60, 6, 10, 60],
    ['60/6, exactly 60 s bills 60', 60, 6, 60, 60],
    ['60/6, 61 s bills 66', 60, 6, 61, 66],
    ['60/6, 67 s bills 72', 60, 6, 67, 72],
    ['30/6, 31 s bills 36', 30, 6, 31, 36],
    ['30/6, 37 s bills 42', 30, 6, 37, 42],
    ['1/1, 7 s bills 7', 1, 1, 7, 7],
    ['6/6, 108 s bills 108', 6, 6, 108, 108],
  ];
  for (const [name, initial, pulse, duration, expected] of table) {
    assert.equal(billedSeconds(duration, inc(initial, pulse)), expected, name);
  }
});

test('0.005 per minute for 108 s at 6/6 costs exactly 0.009', () => {
  const { cost, billedSeconds: billed } = callCost({
    durationSeconds: 108,
    ratePerMinute: '0.005',
    connectionFee: '0',
    ...inc(6, 6),
    roundingDecimals: 8,
    roundingMode: 'half_up',
  });
  assert.equal(billed, 108);
  assert.equal(formatAmount(cost), '0.009');
});

test('the connection fee is added and the sum is rounded once, with the card mode', () => {
  const base = {
    durationSeconds: 61,
    ratePerMinute: '0.0101',
    connectionFee: '0.0005',
    ...inc(60, 6),
    roundingDecimals: 4,
  };
  // 0.0005 + 0.0101 × 66 / 60 = 0.0005 + 0.01111 = 0.01161
  assert.equal(formatAmount(callCost({ ...base, roundingMode: 'half_up' }).cost), '0.0116');
  assert.equal(formatAmount(callCost({ ...base, roundingMode: 'up' }).cost), '0.0117');
  assert.equal(formatAmount(callCost({ ...base, roundingMode: 'down' }).cost), '0.0116');
  // A zero-second call still pays the connection fee (the fee is for connecting).
  assert.equal(
    formatAmount(callCost({ ...base, durationSeconds: 0, roundingMode: 'half_up' }).cost),
    '0.0005',
  );
});

test('malformed durations and increments are programmer errors, not silent zeros', () => {
  assert.throws(() => billedSeconds(-1, inc(60, 6)), RangeError);
  assert.throws(() => billedSeconds(1.5, inc(60, 6)), RangeError);
  assert.throws(() => billedSeconds(10, inc(0, 6)), RangeError);
  assert.throws(() => billedSeconds(10, inc(60, 0)), RangeError);
});

const increments = fc.record({
  initialIncrementSeconds: fc.integer({ min: 1, max: 600 }),
  incrementSeconds: fc.integer({ min: 1, max: 600 }),
});
const duration = fc.integer({ min: 0, max: 86_400 });

test('property: billed ≥ duration, and once past the initial increment billed − d < pulse', () => {
  fc.assert(
    fc.property(increments, duration, (incs, d) => {
      const billed = billedSeconds(d, incs);
      assert.ok(billed >= d);
      if (d > incs.initialIncrementSeconds) {
        assert.ok(billed - d < incs.incrementSeconds);
        assert.equal((billed - incs.initialIncrementSeconds) % incs.incrementSeconds, 0);
      }
    }),
  );
});

test('property: cost never decreases as the call gets longer', () => {
  const rate = fc.tuple(fc.integer({ min: 0, max: 9_999_999 }), fc.integer({ min: 0, max: 99_999_999 }));
  const mode = fc.constantFrom('half_up', 'half_even', 'up', 'down') as fc.Arbitrary<
    'half_up' | 'half_even' | 'up' | 'down'
  >;
  fc.assert(
    fc.property(
      increments,
      duration,
      duration,
      rate,
      mode,
      fc.integer({ min: 0, max: 8 }),
      (incs, a, b, [whole, frac], roundingMode, roundingDecimals) => {
        const ratePerMinute = `${whole}.${String(frac).padStart(8, '0')}`;
        const at = (durationSeconds: number) =>
          callCost({
            durationSeconds,
            ratePerMinute,
            connectionFee: '0.01',
            ...incs,
            roundingDecimals,
            roundingMode,
          }).cost;
        const [short, long] = a <= b ? [a, b] : [b, a];
        assert.ok(at(short).lessThanOrEqualTo(at(long)));
      },
    ),
  );
});
