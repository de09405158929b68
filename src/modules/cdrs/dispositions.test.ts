import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dispositionOf, unansweredDisposition } from './dispositions.js';

test('switches’ spellings of a disposition, and what is not one', () => {
  const cases: Array<[string, string | null]> = [
    ['answered', 'answered'],
    ['ANSWERED', 'answered'],
    ['NO ANSWER', 'no_answer'],
    ['no-answer', 'no_answer'],
    [' Busy ', 'busy'],
    ['CONGESTION', 'failed'],
    ['canceled', 'cancelled'],
    ['hung', null],
    ['constructor', null],
    ['__proto__', null],
    ['', null],
  ];
  for (const [spelling, expected] of cases) assert.equal(dispositionOf(spelling), expected, spelling);
});

test('an unanswered call’s hangup cause says busy, no answer, cancelled or failed', () => {
  const cases: Array<[string, string]> = [
    // FreeSWITCH's names of Q.850 causes.
    ['USER_BUSY', 'busy'],
    ['NO_ANSWER', 'no_answer'],
    ['NO_USER_RESPONSE', 'no_answer'],
    ['ORIGINATOR_CANCEL', 'cancelled'],
    ['NORMAL_CLEARING', 'failed'],
    ['NO_ROUTE_DESTINATION', 'failed'],
    // Q.850 numbers, alone or as a Reason header writes them.
    ['17', 'busy'],
    ['Q.850;cause=19', 'no_answer'],
    ['34', 'failed'],
    // SIP final responses, with or without their reason phrase.
    ['486 Busy Here', 'busy'],
    ['600', 'busy'],
    ['480', 'no_answer'],
    ['408 Request Timeout', 'no_answer'],
    ['487', 'cancelled'],
    ['503 Service Unavailable', 'failed'],
    ['404', 'failed'],
    // The first cause that means something wins: a SIP code and its Q.850 cause agree anyway.
    ['486;17', 'busy'],
    ['constructor', 'failed'],
  ];
  for (const [cause, expected] of cases) assert.equal(unansweredDisposition(cause), expected, cause);
});
