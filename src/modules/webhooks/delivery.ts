import http from 'node:http';
import https from 'node:https';
import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { unseal } from '../payments/secrets.js';
import type { EgressPolicy } from './egress.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from './signing.js';

/**
 * The delivery worker. webhook_deliveries is a PostgreSQL-backed queue: a worker claims due rows
 * with FOR UPDATE SKIP LOCKED and, in the same statement, pushes their next_attempt_at to the end
 * of a lease, then commits before any HTTP call. Another worker (another process) neither waits
 * for nor sees those rows, so one event is not sent twice by two workers; a worker that dies
 * mid-attempt leaves the row due again when its lease ends (at-least-once delivery: receivers
 * deduplicate on Tollgate-Event-Id). No database transaction stays open across the network.
 */

/** Waits after failed attempts 1, 2, …: 30 s, 2 min, 10 min, 1 h, 6 h, 24 h; then the delivery fails. */
export const RETRY_DELAYS_SECONDS = [30, 120, 600, 3_600, 21_600, 86_400] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;
export const DELIVERY_TIMEOUT_MS = 10_000;
/** Longer than the timeout: a live attempt's row never becomes due again under it. */
const LEASE_SECONDS = 60;
export const DELIVERY_BATCH_SIZE = 20;
/** Receivers' error texts are kept short: a delivery log, not a copy of their pages. */
const MAX_ERROR_LENGTH = 300;

interface ClaimedDelivery {
  endpoint_id: string;
  event_id: string;
  payload: string;
  attempts: number;
  url: string;
  secret_sealed: string;
}

const plusSeconds = (date: Date, seconds: number) => new Date(date.getTime() + seconds * 1000);

async function claimDue(db: Db, now: Date, limit: number): Promise<ClaimedDelivery[]> {
  const result = await sql<ClaimedDelivery>`
    with due as (
      select d.endpoint_id, d.event_id
      from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
      where d.status = 'pending' and d.next_attempt_at <= ${now} and e.status = 'active'
      order by d.next_attempt_at
      limit ${limit}
      for update of d skip locked
    )
    update webhook_deliveries w
    set attempts = w.attempts + 1, last_attempt_at = ${now}, next_attempt_at = ${plusSeconds(now, LEASE_SECONDS)}
    from due, webhook_endpoints e
    where w.endpoint_id = due.endpoint_id and w.event_id = due.event_id and e.id = w.endpoint_id
    returning w.endpoint_id, w.event_id, w.payload, w.attempts, e.url, e.secret_sealed`.execute(db);
  return result.rows;
}

interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

/**
 * POSTs the body and answers the status. node:http rather than fetch, for its `lookup` option:
 * the policy resolves the host and the socket connects to the address it checked. It never
 * follows a redirect: the signed body must reach the registered URL.
 */
function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  egress: EgressPolicy,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: egress.lookup,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response) => {
        // Only the status matters; leave the body unread rather than buffer whatever came back.
        resolve(response.statusCode ?? 0);
        response.destroy();
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function send(
  delivery: ClaimedDelivery,
  secretsKey: Buffer,
  now: Date,
  timeoutMs: number,
  egress: EgressPolicy,
): Promise<AttemptResult> {
  const url = new URL(delivery.url);
  // An address is connected to without a lookup, so it is checked here; names on lookup.
  const refused = egress.literalRefusal(url.hostname);
  if (refused) return { ok: false, statusCode: null, error: `${refused}: not delivered` };
  let secret: string;
  try {
    secret = unseal(secretsKey, delivery.secret_sealed);
  } catch {
    return {
      ok: false,
      statusCode: null,
      error: 'the signing secret cannot be unsealed (secrets key changed?)',
    };
  }
  const timestamp = Math.floor(now.getTime() / 1000);
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Tollgate-Webhooks/1',
    [SIGNATURE_HEADER]: signatureHeader(secret, delivery.payload, timestamp),
    [EVENT_ID_HEADER]: delivery.event_id,
  };
  try {
    const status = await post(url, headers, delivery.payload, timeoutMs, egress);
    const ok = status >= 200 && status < 300;
    return { ok, statusCode: status, error: ok ? null : `HTTP ${status}` };
  } catch (error) {
    const timedOut = (error as Error).name === 'AbortError';
    const message = timedOut ? `no answer within ${timeoutMs} ms` : (error as Error).message;
    return { ok: false, statusCode: null, error: message.slice(0, MAX_ERROR_LENGTH) };
  }
}

type Outcome = 'delivered' | 'retrying' | 'failed';

/** Records an attempt; the attempts guard keeps a worker whose lease ran out from overwriting a newer attempt. */
async function record(db: Db, delivery: ClaimedDelivery, result: AttemptResult, now: Date): Promise<Outcome> {
  const outcome: Outcome = result.ok
    ? 'delivered'
    : delivery.attempts >= MAX_ATTEMPTS
      ? 'failed'
      : 'retrying';
  const next = outcome === 'retrying' ? plusSeconds(now, RETRY_DELAYS_SECONDS[delivery.attempts - 1]!) : now;
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: outcome === 'retrying' ? 'pending' : outcome,
      next_attempt_at: next,
      last_status_code: result.statusCode,
      last_error: result.error,
      delivered_at: result.ok ? now : null,
    })
    .where('endpoint_id', '=', delivery.endpoint_id)
    .where('event_id', '=', delivery.event_id)
    .where('attempts', '=', delivery.attempts)
    .execute();
  return outcome;
}

export interface DeliveryOptions {
  secretsKey: Buffer;
  /** Which addresses deliveries may reach (egress.ts). */
  egress: EgressPolicy;
  batchSize?: number;
  timeoutMs?: number;
}

export interface DeliverySummary {
  claimed: number;
  delivered: number;
  retrying: number;
  failed: number;
}

/**
 * One pass: claims up to a batch of deliveries due at `now` (tests pass a fake clock), sends
 * them concurrently and records each outcome.
 */
export async function deliverDueEvents(
  db: Db,
  now: Date,
  options: DeliveryOptions,
): Promise<DeliverySummary> {
  const claimed = await claimDue(db, now, options.batchSize ?? DELIVERY_BATCH_SIZE);
  const outcomes = await Promise.all(
    claimed.map(async (delivery) => {
      const result = await send(
        delivery,
        options.secretsKey,
        now,
        options.timeoutMs ?? DELIVERY_TIMEOUT_MS,
        options.egress,
      );
      return record(db, delivery, result, now);
    }),
  );
  const count = (outcome: Outcome) => outcomes.filter((o) => o === outcome).length;
  return {
    claimed: claimed.length,
    delivered: count('delivered'),
    retrying: count('retrying'),
    failed: count('failed'),
  };
}
