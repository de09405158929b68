import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { newId } from '../../ids.js';

/**
 * The outbox: an event becomes one delivery row per matching active endpoint, written in the
 * caller's database transaction, so an event exists exactly when the change it reports
 * committed (a rolled-back posting leaves nothing to deliver). Matching is one INSERT … SELECT:
 * no per-endpoint round trips on the money path.
 */
export const EVENT_TYPES = [
  'balance.changed',
  'payment.succeeded',
  'payment.failed',
  'payment.refunded',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventInput {
  type: EventType;
  /** The customer the event is about: its endpoints, its partner's and the operator's receive it. */
  customerId?: string | null;
  /** The partner the event is about (a partner's own balance); for a customer event its partner is looked up. */
  partnerId?: string | null;
  data: Record<string, unknown>;
}

/** What every endpoint receives, byte for byte the same: the body of the POST. */
export interface EventPayload {
  id: string;
  type: EventType;
  created_at: string;
  data: Record<string, unknown>;
}

/**
 * Fast path: most installations have no endpoint at all, and every posting asks. When the last
 * look found no active endpoint, postings skip the outbox. That answer is looked at again in the
 * background once it is NO_ENDPOINT_RECHECK_MS old (one `exists` query, never on a request's
 * path; until it answers, the old answer stands), and is no longer trusted once it is
 * NO_ENDPOINT_TRUST_MS old (the query failing or stuck). Endpoint changes in this process reset
 * it at once; one made by another process (several servers on one PostgreSQL) is noticed within
 * about a second. This is one process-wide flag: a process serves one database (tests run each
 * file in its own process).
 *
 * Before, the answer expired after a second and the next postings took the transactional path
 * to find out (a transaction, the outbox statement, a second commit; a fund transfer also lost
 * its batch): under load that was about one request in 150 on a path several times as costly.
 */
const NO_ENDPOINT_RECHECK_MS = 1000;
const NO_ENDPOINT_TRUST_MS = 5000;
let noEndpointSeenAt: number | null = null;
let endpointGeneration = 0;
let recheck: Promise<void> | null = null;

/** Call after an endpoint is created, changed or deleted (committed). */
export function endpointsChanged(): void {
  endpointGeneration++;
  noEndpointSeenAt = null;
}

/** Records what a look at the endpoints found, unless an endpoint changed since it started. */
function sawEndpoints(anyEndpoint: boolean, generation: number): void {
  if (generation !== endpointGeneration) return;
  noEndpointSeenAt = anyEndpoint ? null : Date.now();
}

async function recheckEndpoints(db: Db): Promise<void> {
  const generation = endpointGeneration;
  try {
    const { rows } = await sql<{ any_endpoint: boolean }>`
      select exists (select 1 from webhook_endpoints where status = 'active') as any_endpoint`.execute(db);
    sawEndpoints(rows[0]!.any_endpoint, generation);
  } catch {
    // Unknown: postings go back to the transactional path, which finds out for itself.
    if (generation === endpointGeneration) noEndpointSeenAt = null;
  } finally {
    recheck = null;
  }
}

const noEndpointSeenLately = () =>
  noEndpointSeenAt !== null && Date.now() - noEndpointSeenAt < NO_ENDPOINT_RECHECK_MS;

/**
 * False while no active endpoint was seen lately: the ledger then posts as one autocommitted
 * statement instead of a transaction with the outbox insert in it. Never waits for the database.
 */
export function webhookEventsWanted(db: Db): boolean {
  if (noEndpointSeenAt === null) return true;
  const age = Date.now() - noEndpointSeenAt;
  if (age >= NO_ENDPOINT_RECHECK_MS && recheck === null) recheck = recheckEndpoints(db);
  return age >= NO_ENDPOINT_TRUST_MS;
}

/** Writes the events' deliveries in `trx` (the caller's transaction). Returns how many rows it wrote. */
export async function enqueueEvents(trx: Db, events: readonly EventInput[]): Promise<number> {
  // In a caller's transaction the statement below finds out for itself once the answer is old.
  if (events.length === 0 || noEndpointSeenLately()) return 0;
  const createdAt = new Date().toISOString();
  const rows = events.map((event) => {
    const payload: EventPayload = {
      id: newId('webhookEvent'),
      type: event.type,
      created_at: createdAt,
      data: event.data,
    };
    return sql`(${payload.id}, ${event.type}, ${event.customerId ?? null}::text, ${event.partnerId ?? null}::text, ${JSON.stringify(payload)})`;
  });
  const generation = endpointGeneration;
  const result = await sql<{ inserted: number; any_endpoint: boolean }>`
    with ev (event_id, event_type, customer_id, partner_id, payload) as (values ${sql.join(rows)}),
    inserted as (
      insert into webhook_deliveries (endpoint_id, event_id, event_type, payload)
      select e.id, ev.event_id, ev.event_type, ev.payload
      from ev join webhook_endpoints e
        on e.status = 'active'
       and (ev.event_type = any (e.events) or '*' = any (e.events))
       and (e.owner_kind = 'operator'
            or (e.owner_kind = 'customer' and e.customer_id = ev.customer_id)
            or (e.owner_kind = 'partner' and e.partner_id = coalesce(
                  ev.partner_id, (select c.partner_id from customers c where c.id = ev.customer_id))))
      returning 1
    )
    select (select count(*) from inserted)::int as inserted,
           exists (select 1 from webhook_endpoints where status = 'active') as any_endpoint`.execute(trx);
  const { inserted, any_endpoint } = result.rows[0]!;
  // Only when no endpoint changed meanwhile: a stale "none" must not hide a new endpoint.
  sawEndpoints(any_endpoint, generation);
  return inserted;
}

export const enqueueEvent = (trx: Db, event: EventInput) => enqueueEvents(trx, [event]);
