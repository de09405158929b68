import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signatures of outgoing events, the same scheme as Stripe's: the header
 * `Tollgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`, keyed with
 * the endpoint's whole secret string (`whsec_…`). The timestamp inside the signed text lets a
 * receiver refuse replays older than its tolerance.
 */
export const SIGNATURE_HEADER = 'Tollgate-Signature';
export const EVENT_ID_HEADER = 'Tollgate-Event-Id';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function newSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

const hmacHex = (secret: string, timestamp: number, body: string) =>
  createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');

export function signatureHeader(secret: string, body: string, timestampSeconds: number): string {
  return `t=${timestampSeconds},v1=${hmacHex(secret, timestampSeconds, body)}`;
}

/**
 * What a receiver does (documented in docs/webhooks.md, used by the tests): parse the header,
 * recompute, compare in constant time, refuse a timestamp outside the tolerance.
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  const parts = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const [key, value] = item.split('=', 2);
    if (key && value) parts.set(key.trim(), [...(parts.get(key.trim()) ?? []), value.trim()]);
  }
  const timestamp = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, timestamp, body), 'hex');
  return (parts.get('v1') ?? []).some((candidate) => {
    const given = Buffer.from(candidate, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
