import { invalid } from './errors.js';
import { LAST_INSTANT_MS, parseIsoInstant } from './iso-time.js';

/**
 * Periods as the API names them (`from`, `to`) for statements, CDR lists, exports, statistics
 * and re-rating: one reading, so `to=2025-05-31` means the same on every route.
 */

/** [from, to): `from` null means since the beginning. */
export interface Period {
  from: Date | null;
  to: Date;
}

const DAY_MS = 86_400_000;

/** A date (`YYYY-MM-DD`, the whole UTC day) or an ISO 8601 timestamp (UTC when it has no zone). */
export function parseInstant(text: string, param: string): { at: Date; wholeDay: boolean } {
  const parsed = parseIsoInstant(text);
  if (!parsed) throw invalid(`${param} '${text}' is not a date (YYYY-MM-DD) or an ISO 8601 timestamp`, param);
  return { at: parsed.at, wholeDay: parsed.dateOnly };
}

/**
 * The period a request names: `to` as a date includes that whole UTC day; as a timestamp it is
 * the exclusive end. Without `to` the period ends now; without `from` it starts at the beginning.
 */
export function parsePeriod(from: string | undefined, to: string | undefined, now = new Date()): Period {
  const start = from === undefined ? null : parseInstant(from, 'from').at;
  const end = to === undefined ? null : parseInstant(to, 'to');
  if (start && end && start.getTime() > end.at.getTime()) throw invalid("'from' is after 'to'", 'from');
  // The day after 9999-12-31 is in year 10000, which no driver writes: that period ends at the
  // last millisecond of 9999 instead (only a time of exactly 23:59:59.999 falls outside it).
  const endAt = end
    ? new Date(Math.min(end.at.getTime() + (end.wholeDay ? DAY_MS : 0), LAST_INSTANT_MS))
    : now;
  return { from: start, to: endAt };
}
