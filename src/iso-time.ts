/** Last year whose ISO 8601 form has four digits (later ones are written "+010000-…"). */
const END_OF_YEAR_9999_MS = 253_402_300_800_000;
/** 0001-01-01T00:00:00Z: PostgreSQL reads no year 0000 (it writes 1 BC), and the API takes none. */
const START_OF_YEAR_1_MS = -62_135_596_800_000;

/**
 * Whether an instant falls in the years 0001–9999, the ones written with four digits both by
 * ISO 8601 and by PostgreSQL. An input time is checked after its UTC offset is applied
 * (`9999-12-31T23:00:00-05:00` is in year 10000), so no parser hands the database a time it
 * refuses (decision 0049).
 */
export function withinFourDigitYears(date: Date): boolean {
  const ms = date.getTime();
  return ms >= START_OF_YEAR_1_MS && ms < END_OF_YEAR_9999_MS;
}

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
