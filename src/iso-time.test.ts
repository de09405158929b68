import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTimestamp } from './iso-time.js';

test('isoTimestamp writes what toISOString writes, across seconds, edges and random instants', () => {
  const instants = [
    0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1_796_109_622_000, 1_796_109_622_007, 1_796_109_622_070,
    1_796_109_622_700, 1_796_109_622_999, 1_796_109_623_000, 253_402_300_799_999, 253_402_300_800_000, -1,
    -1000, -62_198_755_200_000,
  ];
  // Random instants in order and shuffled: the cached second must never leak into another one.
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  for (let i = 0; i < 5_000; i++) instants.push(Math.floor(random() * 4_102_444_800_000));
  for (let i = 0; i < 2_000; i++) instants.push(1_796_109_622_000 + Math.floor(random() * 3_000));
  for (const ms of instants) {
    const date = new Date(ms);
    assert.equal(isoTimestamp(date), date.toISOString(), `at ${ms}`);
  }
});

test('an invalid date throws as toISOString does', () => {
  assert.throws(() => isoTimestamp(new Date(Number.NaN)), RangeError);
});
