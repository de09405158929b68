import { invalid } from '../../errors.js';
import { parseIsoInstant } from '../../iso-time.js';
import { MAX_RATE_TEXT, toUnits } from './units.js';

/** Validation of the values a rate card and its rates are made of, shared by the API and deck import. */

export const MAX_PREFIX_DIGITS = 16;
export const MAX_INCREMENT_SECONDS = 86_400;
/** A rate's destination name, through the API or in a deck. */
export const MAX_DESTINATION_LENGTH = 200;
const PREFIX = /^\d{1,16}$/;

/** Reasons are sentences without the field name, so the API and the import report can both use them. */
export function prefixProblem(text: string): string | null {
  if (PREFIX.test(text)) return null;
  if (/^\d+$/.test(text)) return `prefix has more than ${MAX_PREFIX_DIGITS} digits`;
  return 'prefix must be digits only (1 to 16)';
}

/** A rate or fee: non-negative, at most 8 decimals, at most 9,999,999.99999999. */
export function amountProblem(text: string): string | null {
  if (toUnits(text) !== null) return null;
  if (/^-/.test(text.trim())) return 'must not be negative';
  if (/^\d+(\.\d+)?$/.test(text)) return `must have at most 8 decimals and be at most ${MAX_RATE_TEXT}`;
  return 'is not a decimal number';
}

/** Canonical text of a value amountProblem accepted ("0.01230" → "0.0123"). */
export function canonicalAmount(text: string): string {
  if (!text.includes('.')) return text;
  const last = text.charCodeAt(text.length - 1);
  if (last !== 48 && last !== 46) return text; // ends in neither '0' nor '.': already canonical
  return text.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

export function incrementProblem(value: number): string | null {
  return Number.isInteger(value) && value >= 1 && value <= MAX_INCREMENT_SECONDS
    ? null
    : `must be a whole number of seconds from 1 to ${MAX_INCREMENT_SECONDS}`;
}

/** A time as the API takes it (src/iso-time.ts), UTC unless an offset is given. Null when invalid. */
export function parseTimestamp(text: string): Date | null {
  // A deck repeats one effective_from on most of its lines: remember the last answer.
  if (text === lastTimestamp.text) return lastTimestamp.date;
  const date = parseTimestampText(text);
  lastTimestamp = { text, date };
  return date;
}

let lastTimestamp: { text: string; date: Date | null } = { text: '', date: null };

function parseTimestampText(text: string): Date | null {
  return parseIsoInstant(text.trim())?.at ?? null;
}

export function requireTimestamp(text: string, param: string): Date {
  const date = parseTimestamp(text);
  if (!date)
    throw invalid(`${param} '${text}' is not a valid timestamp (ISO 8601 or YYYY-MM-DD HH:MM:SS)`, param);
  return date;
}

export function requireAmount(text: string, param: string): string {
  const problem = amountProblem(text);
  if (problem) throw invalid(`${param} ${problem}`, param);
  return canonicalAmount(text);
}

export function requireIncrement(value: number, param: string): number {
  const problem = incrementProblem(value);
  if (problem) throw invalid(`${param} ${problem}`, param);
  return value;
}

/**
 * A dialled number as the index wants it: digits only, E.164 without '+'. Null when it is not a
 * number. The written form "+44 (0)20 7946 0000" puts the trunk prefix in brackets for callers
 * inside the country; it is not dialled from abroad, so it is dropped (else the number would
 * match 44's rate, not 4420's).
 */
export function normaliseNumber(text: string): string | null {
  const written = text.includes('(0)') ? text.replace(/\(0\)/g, '') : text;
  const digits = written
    .trim()
    .replace(/^\+/, '')
    .replace(/[\s().-]/g, '');
  return /^\d{1,32}$/.test(digits) ? digits : null;
}
