import { randomFillSync } from 'node:crypto';
import { monotonicFactory, ulid } from 'ulid';

/**
 * Prefixed, opaque, time-sortable ids (`cus_01j…`): a stray id in a log says what it is, and
 * sorting by id is sorting by creation, which gives cursor pagination a stable order for free.
 */
const nextUlid = monotonicFactory(bufferedRandom());

/**
 * ulid's default source of randomness asks the operating system's CSPRNG for one byte per
 * character (`getRandomValues` on a 1-byte array): 16 calls for each id made in a new
 * millisecond, a measurable part of a fund transfer (three ids; docs/operations.md, seventh
 * session). This hands out the bytes of one 4 KiB draw from the same CSPRNG, in the same form
 * (a byte / 256, so each of the 32 characters is equally likely), and draws again when they are
 * used up. No byte is handed out twice.
 */
function bufferedRandom(): () => number {
  const bytes = new Uint8Array(4096);
  let next = bytes.length;
  return () => {
    if (next === bytes.length) {
      randomFillSync(bytes);
      next = 0;
    }
    return bytes[next++]! / 256;
  };
}

export const ID_PREFIXES = {
  partner: 'par',
  customer: 'cus',
  apiKey: 'key',
  ledgerAccount: 'lac',
  ledgerTransaction: 'ltx',
  ledgerPosting: 'lpo',
  ratecard: 'rc',
  rate: 'rt',
  carrier: 'car',
  paymentGateway: 'gw',
  paymentProfile: 'pp',
  payment: 'pay',
  paymentTransaction: 'ptx',
  recurringPayment: 'rp',
  paymentNotification: 'pn',
  paypalIpn: 'ipn',
  cdr: 'cdr',
  cdrBatch: 'cdb',
  webhookEndpoint: 'whe',
  webhookEvent: 'evt',
  liveCall: 'lcl',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${nextUlid().toLowerCase()}`;
}

/** Shape check only: an id of the right kind that may or may not exist. */
export function isId(kind: IdKind, value: string): boolean {
  return new RegExp(`^${ID_PREFIXES[kind]}_[0-9a-hjkmnp-tv-z]{26}$`).test(value);
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Ids for a bulk write (a rate deck's rows): one fresh ULID, then each next id adds one to its
 * 80-bit random part, as the monotonic factory does within a millisecond, without a clock read
 * and a random draw per id. The start is a fresh random draw, not the shared monotonic factory's
 * next value, so a sequence cannot run into ids the factory hands out meanwhile (the chance of
 * two random starts landing within a deck's length of each other is nil).
 */
export function newIdSequence(kind: IdKind): () => string {
  const head = `${ID_PREFIXES[kind]}_`;
  const digits = Array.from(ulid().toLowerCase(), (c) => CROCKFORD.indexOf(c));
  // Ids differ in the last few characters only: keep the first 20 as one string.
  let stem = '';
  let stemDigits = -1;
  return () => {
    let i = digits.length - 1;
    while (digits[i] === 31) digits[i--] = 0;
    if (i < 10) throw new Error('id sequence overflow');
    digits[i]!++;
    if (i < 20 || stemDigits < 0) {
      stem =
        head +
        digits
          .slice(0, 20)
          .map((d) => CROCKFORD[d])
          .join('');
      stemDigits = 20;
    }
    let tail = '';
    for (let j = 20; j < 26; j++) tail += CROCKFORD[digits[j]!];
    return stem + tail;
  };
}
