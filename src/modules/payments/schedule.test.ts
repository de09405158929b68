import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addInterval, firstProcessingDate, isCalendarDate } from './schedule.js';

test('seed 004: a start date of today is first processed one interval later', () => {
  assert.equal(firstProcessingDate('2026-05-15', 'daily', '2026-05-15'), '2026-05-16');
  assert.equal(firstProcessingDate('2026-05-15', 'weekly', '2026-05-15'), '2026-05-22');
  assert.equal(firstProcessingDate('2026-05-15', 'monthly', '2026-05-15'), '2026-06-15');
  assert.equal(firstProcessingDate('2026-05-15', 'yearly', '2026-05-15'), '2027-05-15');
  assert.equal(firstProcessingDate('2026-05-20', 'daily', '2026-05-15'), '2026-05-20');
});

test('monthly and yearly steps keep the anchor day, clamped to short months', () => {
  assert.equal(addInterval('2026-01-31', 'monthly', 31), '2026-02-28');
  assert.equal(addInterval('2026-02-28', 'monthly', 31), '2026-03-31');
  assert.equal(addInterval('2026-12-31', 'monthly', 31), '2027-01-31');
  assert.equal(addInterval('2028-02-29', 'yearly', 29), '2029-02-28');
  assert.equal(addInterval('2026-12-31', 'daily', 31), '2027-01-01');
});

test('calendar dates are checked, not just shaped', () => {
  assert.ok(isCalendarDate('2028-02-29'));
  assert.ok(!isCalendarDate('2026-02-29'));
  assert.ok(!isCalendarDate('2026-13-01'));
  assert.ok(!isCalendarDate('15/05/2026'));
});
