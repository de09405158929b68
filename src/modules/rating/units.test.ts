import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Decimal, formatAmount } from '../../money/index.js';
import { fromUnits, MAX_RATE_TEXT, toUnits, unitsDifference } from './units.js';

test('unitsDifference: the exact signed difference, as canonical text', () => {
  assert.equal(unitsDifference(toUnits('0.01353')!, toUnits('0.0061')!), '0.00743');
  assert.equal(unitsDifference(toUnits('0.0061')!, toUnits('0.01353')!), '-0.00743');
  assert.equal(unitsDifference(toUnits('1.5')!, toUnits('1.5')!), '0');
  assert.equal(unitsDifference(toUnits('0')!, toUnits(MAX_RATE_TEXT)!), `-${MAX_RATE_TEXT}`);
});

test('unitsDifference agrees with Decimal subtraction over the whole range', () => {
  const max = toUnits(MAX_RATE_TEXT)!;
  const units = fc.integer({ min: 0, max });
  fc.assert(
    fc.property(units, units, (a, b) => {
      const expected = formatAmount(new Decimal(fromUnits(a)).minus(fromUnits(b)));
      assert.equal(unitsDifference(a, b), expected);
    }),
    { numRuns: 5000 },
  );
});
