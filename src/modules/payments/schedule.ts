import { parseIsoInstant } from '../../iso-time.js';
import type { RecurringInterval } from './schema.js';

/**
 * Calendar arithmetic for recurring payments, on YYYY-MM-DD strings in UTC. Monthly and yearly
 * steps keep the day the schedule was anchored on, clamped to short months: a schedule
 * anchored on the 31st runs on 30 April, then 31 May.
 */
export const INTERVALS: readonly RecurringInterval[] = ['daily', 'weekly', 'monthly', 'yearly'];

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isCalendarDate(text: string): boolean {
  return parseIsoInstant(text)?.dateOnly === true;
}

export const utcDate = (now: Date) => now.toISOString().slice(0, 10);

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

function addMonths(text: string, months: number, anchorDay: number): string {
  const [, y, m] = DATE.exec(text)!;
  const index = Number(y) * 12 + (Number(m) - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  const day = Math.min(anchorDay, daysInMonth(year, month));
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

export function addDays(text: string, days: number): string {
  const date = new Date(`${text}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return utcDate(date);
}

export function addInterval(text: string, interval: RecurringInterval, anchorDay: number): string {
  switch (interval) {
    case 'daily':
      return addDays(text, 1);
    case 'weekly':
      return addDays(text, 7);
    case 'monthly':
      return addMonths(text, 1, anchorDay);
    case 'yearly':
      return addMonths(text, 12, anchorDay);
    default: {
      const unreachable: never = interval;
      throw new Error(`unknown interval ${String(unreachable)}`);
    }
  }
}

const dayNumber = (text: string) => Date.parse(`${text}T00:00:00Z`) / 86_400_000;
const monthIndex = (text: string) => Number(text.slice(0, 4)) * 12 + Number(text.slice(5, 7)) - 1;

export interface Schedule {
  interval: RecurringInterval;
  /** Always a date of the schedule (the first one, or one interval before it). */
  start_date: string;
  anchor_day: number;
}

/**
 * The first date of the schedule after `date`, computed from its start (not stepped from
 * `date`), so a charge made off the calendar — a retry one, three or seven days after a failed
 * occurrence — is followed by the next occurrence of the original calendar, never by the
 * retry's date plus an interval.
 */
export function nextOccurrenceAfter(schedule: Schedule, date: string): string {
  const { interval, start_date: start, anchor_day: anchorDay } = schedule;
  if (date < start) return start;
  switch (interval) {
    case 'daily':
      return addDays(date, 1);
    case 'weekly':
      return addDays(date, 7 - ((dayNumber(date) - dayNumber(start)) % 7));
    case 'monthly':
    case 'yearly': {
      const step = interval === 'monthly' ? 1 : 12;
      const months = Math.floor((monthIndex(date) - monthIndex(start)) / step) * step;
      const candidate = addMonths(start, months, anchorDay);
      return candidate > date ? candidate : addMonths(start, months + step, anchorDay);
    }
    default: {
      const unreachable: never = interval;
      throw new Error(`unknown interval ${String(unreachable)}`);
    }
  }
}

/**
 * Seed 004: a new recurring payment is never processed on the day it is set up. A start date
 * of today puts the first processing date one interval later; a future start date is kept.
 */
export function firstProcessingDate(startDate: string, interval: RecurringInterval, today: string): string {
  return startDate === today ? addInterval(startDate, interval, Number(startDate.slice(8))) : startDate;
}

/** After a failed charge: retry 1, 3 and 7 days later, then suspend (docs/payments.md). */
export const RETRY_DELAYS_DAYS = [1, 3, 7] as const;
export const MAX_FAILURES = RETRY_DELAYS_DAYS.length + 1;
