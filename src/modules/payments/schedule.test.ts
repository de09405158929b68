import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addInterval, firstProcessingDate, isCalendarDate, nextOccurrenceAfter } from './schedule.js';

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

test('after a charge off the calendar (a retry), the next occurrence is the original calendar’s', () => {
  const monthly = { interval: 'monthly', start_date: '2026-01-31', anchor_day: 31 } as const;
  assert.equal(nextOccurrenceAfter(monthly, '2027-01-31'), '2027-02-28', 'on schedule: one interval');
  assert.equal(nextOccurrenceAfter(monthly, '2027-02-01'), '2027-02-28', 'retried 1 Feb: 28 Feb is kept');
  assert.equal(nextOccurrenceAfter(monthly, '2027-02-28'), '2027-03-31');
  assert.equal(nextOccurrenceAfter(monthly, '2026-01-10'), '2026-01-31', 'before the start: the start');
  // 2026-05-04 is a Monday.
  const weekly = { interval: 'weekly', start_date: '2026-05-04', anchor_day: 4 } as const;
  assert.equal(nextOccurrenceAfter(weekly, '2026-05-04'), '2026-05-11');
  assert.equal(nextOccurrenceAfter(weekly, '2026-05-12'), '2026-05-18', 'retried on Tuesday: still Mondays');
  assert.equal(nextOccurrenceAfter(weekly, '2026-05-17'), '2026-05-18');
  const yearly = { interval: 'yearly', start_date: '2028-02-29', anchor_day: 29 } as const;
  assert.equal(nextOccurrenceAfter(yearly, '2029-03-01'), '2030-02-28');
  assert.equal(nextOccurrenceAfter(yearly, '2031-12-31'), '2032-02-29');
  const daily = { interval: 'daily', start_date: '2026-05-04', anchor_day: 4 } as const;
  assert.equal(nextOccurrenceAfter(daily, '2026-05-09'), '2026-05-10');
});
