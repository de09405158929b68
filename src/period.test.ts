import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from './errors.js';
import { parsePeriod } from './period.js';

const NOW = new Date('2025-06-15T12:00:00Z');
const period = (from?: string, to?: string) => {
  const p = parsePeriod(from, to, NOW);
  return [p.from?.toISOString() ?? null, p.to.toISOString()];
};

test('a date as `to` includes that whole UTC day; a timestamp is the exclusive end', () => {
  assert.deepEqual(period('2025-05-01', '2025-05-31'), [
    '2025-05-01T00:00:00.000Z',
    '2025-06-01T00:00:00.000Z',
  ]);
  assert.deepEqual(period('2025-05-01T10:00:00+02:00', '2025-05-01 12:30:00'), [
    '2025-05-01T08:00:00.000Z',
    '2025-05-01T12:30:00.000Z',
  ]);
  assert.deepEqual(period('2025-05-01', '2025-05-01'), [
    '2025-05-01T00:00:00.000Z',
    '2025-05-02T00:00:00.000Z',
  ]);
});

test('to=9999-12-31 ends at the last millisecond of year 9999, which the database can store', () => {
  assert.deepEqual(period('0001-01-01', '9999-12-31'), [
    '0001-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
  ]);
});

test('without bounds the period runs from the beginning to now', () => {
  assert.deepEqual(period(), [null, NOW.toISOString()]);
  assert.deepEqual(period('2025-01-01'), ['2025-01-01T00:00:00.000Z', NOW.toISOString()]);
});

test('malformed or impossible dates, and from after to, are invalid and name the parameter', () => {
  const param = (from?: string, to?: string) => {
    try {
      parsePeriod(from, to, NOW);
      return 'accepted';
    } catch (error) {
      return error instanceof DomainError && error.kind === 'invalid' ? error.param : 'crash';
    }
  };
  assert.equal(param('2025-02-29'), 'from');
  assert.equal(param('2024-02-29'), 'accepted');
  assert.equal(param(undefined, '2025-13-01'), 'to');
  assert.equal(param('2025-01-01T25:00:00Z'), 'from');
  assert.equal(param('yesterday'), 'from');
  assert.equal(param('1700000000'), 'from');
  assert.equal(param('2025-05-02', '2025-05-01'), 'from');
  assert.equal(param('2025-05-01T12:00:00Z', '2025-05-01T11:59:59Z'), 'from');
});
