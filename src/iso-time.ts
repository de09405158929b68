/** Last year whose ISO 8601 form has four digits (later ones are written "+010000-…"). */
const END_OF_YEAR_9999_MS = 253_402_300_800_000;
/** The last millisecond a Date can have and still be written for the database. */
export const LAST_INSTANT_MS = END_OF_YEAR_9999_MS - 1;
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

/** 400 Gregorian years are exactly 146,097 days: shifting by them keeps the calendar. */
const FOUR_CENTURIES_MS = 146_097 * 86_400_000;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/**
 * The grammar parseIsoInstant reads, as a regular expression: the request schemas' pattern for
 * input times (so the OpenAPI document states it) and the oracle the reader is tested against.
 * The calendar and range checks are the reader's alone.
 */
export const INSTANT_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}([Tt ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?([Zz]|[+-]\\d{2}(:?\\d{2})?)?)?$';

export interface ParsedInstant {
  at: Date;
  /** The text was a date alone: `at` is the start of that UTC day. */
  dateOnly: boolean;
}

/** The value of the digits text[from, to), or -1 when one of them is not a digit. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const at = (text: string, index: number) => text.charCodeAt(index);
const [HYPHEN, DOT, COLON, PLUS, SPACE] = [45, 46, 58, 43, 32];
const [UPPER_T, LOWER_T, UPPER_Z, LOWER_Z] = [84, 116, 90, 122];

/**
 * Minutes east of UTC of the zone that text[index…] ends with: nothing (UTC), `Z`, `±HH`,
 * `±HHMM` or `±HH:MM`, under 24 hours; NaN for anything else.
 */
function zoneOffsetMinutes(text: string, index: number): number {
  const length = text.length;
  if (index === length) return 0;
  const sign = at(text, index);
  if (sign === UPPER_Z || sign === LOWER_Z) return index + 1 === length ? 0 : Number.NaN;
  if (sign !== PLUS && sign !== HYPHEN) return Number.NaN;
  const rest = length - index - 1;
  const hours = digits(text, index + 1, index + 3);
  let minutes = 0;
  if (rest === 4) minutes = digits(text, index + 3, index + 5);
  else if (rest === 5 && at(text, index + 3) === COLON) minutes = digits(text, index + 4, index + 6);
  else if (rest !== 2) return Number.NaN;
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return Number.NaN;
  return (sign === HYPHEN ? -1 : 1) * (hours * 60 + minutes);
}

/**
 * Reads the one grammar of every time the API takes (decision 0051), or answers null:
 * `YYYY-MM-DD`, or that date with `T` or a space and `HH:MM[:SS[.fraction]]`, then `Z` or an
 * offset `±HH[[:]MM]`; UTC when no zone is given (seed 003 writes `YYYY-MM-DD HH:MM:SS`).
 * RFC 3339's lower-case `t` and `z` are accepted; the fraction may have up to 9 digits and is
 * cut to the milliseconds a Date holds. Refused: a calendar day that does not exist
 * (`2024-02-30`, which `new Date()` silently rolls into March), hour 24 or over, minute or
 * second 60 or over, an offset of 24 hours or more, and an instant outside the years 0001–9999
 * once the offset is applied. Read by hand rather than by a capturing regex: CDR batches read
 * three times per record, and this is about twice as fast.
 */
export function parseIsoInstant(text: string): ParsedInstant | null {
  const length = text.length;
  if (length < 10 || at(text, 4) !== HYPHEN || at(text, 7) !== HYPHEN) return null;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  if (year < 0 || month < 1 || month > 12 || day < 1) return null;
  if (day > DAYS_IN_MONTH[month - 1]! && !(month === 2 && day === 29 && isLeapYear(year))) return null;
  let hours = 0;
  let minutes = 0;
  let seconds = 0;
  let millis = 0;
  let offsetMinutes = 0;
  if (length > 10) {
    const separator = at(text, 10);
    if ((separator !== UPPER_T && separator !== LOWER_T && separator !== SPACE) || length < 16) return null;
    if (at(text, 13) !== COLON) return null;
    hours = digits(text, 11, 13);
    minutes = digits(text, 14, 16);
    let index = 16;
    if (index < length && at(text, index) === COLON) {
      if (length < 19) return null;
      seconds = digits(text, 17, 19);
      index = 19;
      if (index < length && at(text, index) === DOT) {
        let end = index + 1;
        while (end < length && end - index <= 10 && at(text, end) >= 48 && at(text, end) <= 57) end++;
        const count = end - index - 1;
        if (count < 1 || count > 9) return null;
        const taken = Math.min(count, 3);
        millis = digits(text, index + 1, index + 1 + taken) * 10 ** (3 - taken);
        index = end;
      }
    }
    if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return null;
    offsetMinutes = zoneOffsetMinutes(text, index);
    if (Number.isNaN(offsetMinutes)) return null;
  }
  // Date.UTC reads years 0–99 as 1900–1999: compute four centuries later and step back.
  const early = year < 100;
  const utc = Date.UTC(early ? year + 400 : year, month - 1, day, hours, minutes, seconds, millis);
  const instant = new Date((early ? utc - FOUR_CENTURIES_MS : utc) - offsetMinutes * 60_000);
  return withinFourDigitYears(instant) ? { at: instant, dateOnly: length === 10 } : null;
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
