import { parseIsoInstant } from '../../iso-time.js';
import { normaliseNumber } from '../rating/values.js';
import { dispositionOf, unansweredDisposition } from './dispositions.js';
import { DISPOSITIONS, type Disposition } from './schema.js';

/**
 * One CDR as the switch sent it, checked and normalised, or the reason it cannot be stored.
 * Pure: no database. JSON and NDJSON records arrive typed; CSV records arrive as text, so every
 * number and null is accepted in both forms.
 */
export interface CdrInput {
  /**
   * The partner whose key sent the CDR, null for the operator's own feed. Each sender's switches
   * are its own: a call id is unique per sender and switch (migrations/0029).
   */
  senderPartnerId: string | null;
  switchId: string;
  callId: string;
  customerId: string | null;
  accountNumber: string | null;
  carrierId: string | null;
  caller: string;
  callee: string;
  startTime: Date;
  answerTime: Date | null;
  endTime: Date;
  durationSeconds: number;
  billsec: number;
  disposition: Disposition;
  hangupCause: string | null;
  pddMs: number | null;
  tags: Record<string, string>;
}

export type CdrCheck = { ok: true; cdr: CdrInput } | { ok: false; reason: string; param?: string };

export const CDR_FIELDS = [
  'switch_id',
  'call_id',
  'customer_id',
  'account_number',
  'carrier_id',
  'caller',
  'callee',
  'start_time',
  'answer_time',
  'end_time',
  'duration',
  'billsec',
  'disposition',
  'hangup_cause',
  'pdd_ms',
  'tags',
] as const;
const KNOWN_FIELDS: ReadonlySet<string> = new Set(CDR_FIELDS);

const DEFAULT_SWITCH = 'default';
const TOKEN = /^[\x21-\x7e]{1,128}$/;
const MAX_TAGS = 20;
/** Shared by every CDR without tags (never mutated). */
const NO_TAGS: Record<string, string> = Object.freeze({}) as Record<string, string>;
/** A day: a longer single call is a broken switch clock, not a call. */
const MAX_DURATION_SECONDS = 86_400;
/**
 * How far past the server's clock a CDR's end_time may be. A switch sends a CDR after the call;
 * one that ends later than this is a clock that is wrong, or local time sent as UTC, and
 * charging it would charge a call that has not happened.
 */
const MAX_CLOCK_SKEW_MS = 3_600_000;

const NUL = '\u0000';

class Rejected extends Error {
  constructor(
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

function text(record: Record<string, unknown>, name: string): string | null {
  const value = record[name];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') throw new Rejected(`${name} must be a string`, name);
  return value.trim();
}

function required(record: Record<string, unknown>, name: string, read = text): string {
  const value = read(record, name);
  if (value === null) throw new Rejected(`Missing required parameter '${name}'`, name);
  return value;
}

/** Free text (not checked by a pattern) as PostgreSQL can store it: without NUL characters. */
function freeText(record: Record<string, unknown>, name: string): string | null {
  const value = text(record, name);
  if (value?.includes(NUL)) throw new Rejected(`${name} must not contain NUL characters (\\u0000)`, name);
  return value;
}

function token(record: Record<string, unknown>, name: string): string | null {
  const value = text(record, name);
  if (value !== null && !TOKEN.test(value))
    throw new Rejected(`${name} must be 1 to 128 printable characters`, name);
  return value;
}

function timestamp(record: Record<string, unknown>, name: string): Date | null {
  const value = text(record, name);
  if (value === null) return null;
  const parsed = parseIsoInstant(value);
  // A date alone says nothing of when in the day a call happened.
  if (!parsed || parsed.dateOnly)
    throw new Rejected(`${name} '${value}' is not an ISO 8601 timestamp in the years 0001–9999`, name);
  return parsed.at;
}

function wholeNumber(record: Record<string, unknown>, name: string, max: number): number | null {
  const raw = record[name];
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0 && raw <= max)
    return raw === 0 ? 0 : raw;
  const value = text(record, name);
  if (value === null) return null;
  if (!/^-?\d+$/.test(value)) throw new Rejected(`${name} must be a whole number`, name);
  const number = Number(value);
  if (number < 0) throw new Rejected(`${name} must not be negative`, name);
  if (number > max) throw new Rejected(`${name} must be at most ${max}`, name);
  return number;
}

function tags(record: Record<string, unknown>): Record<string, string> {
  const value = record.tags;
  if (value === undefined || value === null || value === '') return NO_TAGS;
  const parsed = typeof value === 'string' ? parseJsonTags(value) : value;
  if (typeof parsed !== 'object' || Array.isArray(parsed) || parsed === null) {
    throw new Rejected('tags must be an object of strings', 'tags');
  }
  const entries = Object.entries(parsed);
  if (entries.length > MAX_TAGS) throw new Rejected(`tags takes at most ${MAX_TAGS} keys`, 'tags');
  for (const [key, inner] of entries) {
    if (typeof inner !== 'string' || key.length > 64 || inner.length > 256) {
      throw new Rejected('tags must map keys (≤ 64 chars) to strings (≤ 256 chars)', 'tags');
    }
    if (key.includes(NUL) || inner.includes(NUL))
      throw new Rejected('tags must not contain NUL characters (\\u0000)', 'tags');
  }
  return parsed as Record<string, string>;
}

function parseJsonTags(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new Rejected('tags must be a JSON object', 'tags');
  }
}

/**
 * The disposition the record gives, or else the one its times and hangup cause say: answered
 * when it has an answer time or billed seconds, otherwise what the hangup cause names.
 */
function disposition(
  record: Record<string, unknown>,
  times: { answerTime: Date | null; billsec: number },
  hangupCause: string | null,
): Disposition {
  const value = text(record, 'disposition');
  if (value === null) {
    if (times.answerTime || times.billsec > 0) return 'answered';
    if (hangupCause) return unansweredDisposition(hangupCause);
    throw new Rejected(
      "Missing required parameter 'disposition' (or a hangup_cause to tell it from)",
      'disposition',
    );
  }
  const named = dispositionOf(value);
  if (!named) throw new Rejected(`disposition must be one of ${DISPOSITIONS.join(', ')}`, 'disposition');
  return named;
}

/** Whole seconds between two times, rounded up: a switch's 10.2 s call lasted into the 11th second. */
const secondsBetween = (from: Date, to: Date) => Math.ceil((to.getTime() - from.getTime()) / 1000);

function checkTimes(record: Record<string, unknown>, nowMs: number) {
  const startTime = timestamp(record, 'start_time');
  const endTime = timestamp(record, 'end_time');
  if (!startTime) throw new Rejected("Missing required parameter 'start_time'", 'start_time');
  if (!endTime) throw new Rejected("Missing required parameter 'end_time'", 'end_time');
  if (endTime < startTime) throw new Rejected('end_time is before start_time', 'end_time');
  if (endTime.getTime() > nowMs + MAX_CLOCK_SKEW_MS)
    throw new Rejected('end_time is in the future: the call has not ended yet', 'end_time');
  const answerTime = timestamp(record, 'answer_time');
  if (answerTime && (answerTime < startTime || answerTime > endTime)) {
    throw new Rejected('answer_time is outside the call (start_time … end_time)', 'answer_time');
  }
  const durationSeconds =
    wholeNumber(record, 'duration', MAX_DURATION_SECONDS) ?? secondsBetween(startTime, endTime);
  if (durationSeconds > MAX_DURATION_SECONDS)
    throw new Rejected('the call lasts more than a day', 'end_time');
  const billsec =
    wholeNumber(record, 'billsec', MAX_DURATION_SECONDS) ??
    (answerTime ? secondsBetween(answerTime, endTime) : 0);
  if (billsec > durationSeconds) throw new Rejected('billsec is longer than duration', 'billsec');
  return { startTime, endTime, answerTime, durationSeconds, billsec };
}

function checkRecord(
  record: Record<string, unknown>,
  nowMs: number,
  senderPartnerId: string | null,
): CdrInput {
  const unknown = Object.keys(record).find((key) => !KNOWN_FIELDS.has(key));
  if (unknown) throw new Rejected(`Unknown parameter '${unknown}'`, unknown);
  const callId = token(record, 'call_id');
  if (!callId) throw new Rejected("Missing required parameter 'call_id'", 'call_id');
  const customerId = token(record, 'customer_id');
  const accountNumber = token(record, 'account_number');
  if (!customerId && !accountNumber)
    throw new Rejected("Missing required parameter 'customer_id'", 'customer_id');
  const rawCallee = required(record, 'callee');
  const callee = normaliseNumber(rawCallee);
  if (!callee) throw new Rejected(`callee '${rawCallee}' is not a phone number`, 'callee');
  const caller = required(record, 'caller', freeText);
  if (caller.length > 64) throw new Rejected('caller is longer than 64 characters', 'caller');
  const carrierId = token(record, 'carrier_id');
  // Carriers are the operator's: a partner's switch naming one would put its calls into the
  // operator's carrier costs and quality statistics.
  if (carrierId !== null && senderPartnerId !== null)
    throw new Rejected(
      "carrier_id names the operator's carriers; a partner's CDRs cannot name one",
      'carrier_id',
    );
  const times = checkTimes(record, nowMs);
  const hangupCause = freeText(record, 'hangup_cause');
  if (hangupCause && hangupCause.length > 32)
    throw new Rejected('hangup_cause is longer than 32 characters', 'hangup_cause');
  const state = disposition(record, times, hangupCause);
  if (state === 'answered' && !times.answerTime && times.billsec === 0 && record.billsec === undefined) {
    throw new Rejected('an answered call needs answer_time or billsec', 'answer_time');
  }
  if (state !== 'answered' && times.billsec > 0)
    throw new Rejected(`a ${state} call cannot have billsec`, 'billsec');
  return {
    senderPartnerId,
    switchId: token(record, 'switch_id') ?? DEFAULT_SWITCH,
    callId,
    customerId,
    accountNumber,
    carrierId,
    caller: normaliseNumber(caller) ?? caller,
    callee,
    ...times,
    disposition: state,
    hangupCause,
    pddMs: wholeNumber(record, 'pdd_ms', 600_000),
    tags: tags(record),
  };
}

/**
 * `nowMs`: the server's clock when the batch arrived (end times may not be far past it);
 * `senderPartnerId`: the partner whose key sent it, null for the operator.
 */
export function checkCdr(record: unknown, nowMs: number, senderPartnerId: string | null): CdrCheck {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { ok: false, reason: 'a CDR must be an object' };
  }
  try {
    return { ok: true, cdr: checkRecord(record as Record<string, unknown>, nowMs, senderPartnerId) };
  } catch (error) {
    if (error instanceof Rejected)
      return { ok: false, reason: error.message, ...(error.param ? { param: error.param } : {}) };
    throw error;
  }
}
