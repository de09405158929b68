import { DISPOSITIONS, type Disposition } from './schema.js';

/**
 * A CDR's disposition, as the switch wrote it or as its hangup cause says. Asterisk writes one
 * (`ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`, `CONGESTION`); FreeSWITCH's CSV has none, only the
 * hangup cause (`USER_BUSY`, `NO_ANSWER`…), and others send a SIP code or a Q.850 cause number.
 */

/**
 * Switches' own spellings. CONGESTION is a call the network could not complete: a failure, as
 * NER counts it. Case, spaces and hyphens do not matter.
 */
const SPELLINGS: Record<string, Disposition> = {
  ...Object.fromEntries(DISPOSITIONS.map((name) => [name, name])),
  congestion: 'failed',
  canceled: 'cancelled',
};

/** The disposition a spelling names, or null when it names none. */
export function dispositionOf(value: string): Disposition | null {
  if ((DISPOSITIONS as readonly string[]).includes(value)) return value as Disposition;
  const spelling = value
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  return Object.hasOwn(SPELLINGS, spelling) ? SPELLINGS[spelling]! : null;
}

/**
 * What an unanswered call's hangup cause says of it. Q.850 causes by number (17 user busy,
 * 18 no user responding, 19 no answer) or by the name FreeSWITCH gives them, and SIP final
 * responses (486 Busy Here, 600 Busy Everywhere, 408 Request Timeout, 480 Temporarily
 * Unavailable, 487 Request Terminated: the caller hung up first). Anything else failed.
 */
const CAUSES: Record<string, Disposition> = {
  '17': 'busy',
  user_busy: 'busy',
  '486': 'busy',
  '600': 'busy',
  '18': 'no_answer',
  no_user_response: 'no_answer',
  '19': 'no_answer',
  no_answer: 'no_answer',
  '408': 'no_answer',
  '480': 'no_answer',
  originator_cancel: 'cancelled',
  '487': 'cancelled',
};

export function unansweredDisposition(hangupCause: string): Disposition {
  for (const token of hangupCause.toLowerCase().split(/[^a-z0-9_]+/)) {
    if (Object.hasOwn(CAUSES, token)) return CAUSES[token]!;
  }
  return 'failed';
}
