import { monotonicFactory } from 'ulid';

/**
 * Prefixed, opaque, time-sortable ids (`cus_01j…`): a stray id in a log says what it is, and
 * sorting by id is sorting by creation, which gives cursor pagination a stable order for free.
 */
const nextUlid = monotonicFactory();

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
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${nextUlid().toLowerCase()}`;
}

/** Shape check only: an id of the right kind that may or may not exist. */
export function isId(kind: IdKind, value: string): boolean {
  return new RegExp(`^${ID_PREFIXES[kind]}_[0-9a-hjkmnp-tv-z]{26}$`).test(value);
}
