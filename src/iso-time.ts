/** Last year whose ISO 8601 form has four digits (later ones are written "+010000-…"). */
const END_OF_YEAR_9999_MS = 253_402_300_800_000;

let cachedSecond = Number.NaN;
/** `YYYY-MM-DDTHH:MM:SS.` of cachedSecond. */
let cachedPrefix = '';

/**
 * `date.toISOString()`, with the text up to the second reused while the second lasts. V8's
 * toISOString was about a thirtieth of a rate lookup's CPU (docs/operations.md, eighth session),
 * and answers stamped with "now" share their second with thousands of others.
 * Dates before 1970 or after year 9999, and invalid ones, go to toISOString itself (which throws
 * the usual RangeError for an invalid date).
 */
export function isoTimestamp(date: Date): string {
  const ms = date.getTime();
  if (!(ms >= 0 && ms < END_OF_YEAR_9999_MS)) return date.toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedPrefix = date.toISOString().slice(0, 20);
    cachedSecond = second;
  }
  const millis = ms - second * 1000;
  return cachedPrefix + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z';
}
