import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import { invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Principal } from '../../tenancy.js';
import { getCustomer } from '../accounts/customers.js';
import { getPartner } from '../accounts/partners.js';
import { seal } from '../payments/secrets.js';
import type { EgressPolicy } from './egress.js';
import { EVENT_TYPES, endpointsChanged } from './events.js';
import type { EndpointOwnerKind, EndpointStatus, WebhookEndpointsTable } from './schema.js';
import { newSigningSecret } from './signing.js';

/**
 * Webhook endpoints: where events are POSTed. The operator's receive every event, a partner's
 * its own and its customers' events, a customer's its own. Another tenant's endpoint is not
 * found. The signing secret is shown once (at creation and on rotation) and stored sealed.
 */
export type Endpoint = Selectable<WebhookEndpointsTable>;

export const MAX_ENDPOINTS_PER_OWNER = 16;
const MAX_URL_LENGTH = 2048;
const MAX_DESCRIPTION = 500;

export interface EndpointFields {
  url?: string;
  description?: string | null;
  events?: string[];
  status?: EndpointStatus;
}

export interface EndpointCreateInput extends EndpointFields {
  url: string;
  events: string[];
  partner_id?: string;
  customer_id?: string;
}

/**
 * http or https, absolute, no credentials in it (they would show in every listing), and not an
 * address deliveries may not reach (egress.ts: a loopback or private address, localhost).
 */
export function checkUrl(text: string, egress: EgressPolicy): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`url '${text}' is not an absolute URL`, 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('url must be http or https', 'url');
  if (url.username || url.password) throw invalid('url must not carry a user name or password', 'url');
  if (text.length > MAX_URL_LENGTH) throw invalid(`url is longer than ${MAX_URL_LENGTH} characters`, 'url');
  const refused = egress.hostRefusal(url.hostname);
  if (refused) {
    throw invalid(
      `url points to ${refused}; deliveries go to public addresses only (the operator may allow networks with WEBHOOK_ALLOWED_NETWORKS)`,
      'url',
    );
  }
  return url.toString();
}

/** Known event types, or exactly ["*"] for all; duplicates collapse. */
export function checkEvents(events: string[]): string[] {
  if (events.length === 0) throw invalid('events must list at least one event type, or "*"', 'events');
  if (events.includes('*')) {
    if (events.some((event) => event !== '*')) throw invalid('"*" stands alone in events', 'events');
    return ['*'];
  }
  const unknown = events.find((event) => !(EVENT_TYPES as readonly string[]).includes(event));
  if (unknown) throw invalid(`unknown event type '${unknown}'; known: ${EVENT_TYPES.join(', ')}`, 'events');
  return [...new Set(events)];
}

function checkDescription(description: string | null | undefined) {
  if (description && description.length > MAX_DESCRIPTION)
    throw invalid(`description is longer than ${MAX_DESCRIPTION} characters`, 'description');
}

/** Endpoints a principal may see and manage: all, its own and its customers', or its own. */
export function visibleEndpoints(db: Db, principal: Principal) {
  const query = db.selectFrom('webhook_endpoints').selectAll();
  if (principal.role === 'customer') return query.where('customer_id', '=', principal.customerId!);
  if (principal.role === 'partner') {
    const partnerId = principal.partnerId!;
    return query.where((eb) =>
      eb.or([
        eb('partner_id', '=', partnerId),
        eb('customer_id', 'in', eb.selectFrom('customers').select('id').where('partner_id', '=', partnerId)),
      ]),
    );
  }
  return query;
}

export async function getEndpoint(db: Db, principal: Principal, id: string): Promise<Endpoint> {
  const endpoint = await visibleEndpoints(db, principal).where('id', '=', id).executeTakeFirst();
  if (!endpoint) throw notFound('Webhook endpoint');
  return endpoint;
}

interface Owner {
  kind: EndpointOwnerKind;
  partnerId: string | null;
  customerId: string | null;
}

/**
 * Whose endpoint this is. No owner given: the caller's own (the operator's for an admin key).
 * An admin may name any partner or customer, a partner one of its customers; a customer only itself.
 */
async function resolveOwner(db: Db, principal: Principal, input: EndpointCreateInput): Promise<Owner> {
  if (input.partner_id && input.customer_id)
    throw invalid('give partner_id or customer_id, not both', 'customer_id');
  if (input.customer_id) {
    const customer = await getCustomer(db, principal, input.customer_id);
    return { kind: 'customer', partnerId: null, customerId: customer.id };
  }
  if (input.partner_id) {
    if (principal.role === 'customer')
      throw invalid('a customer key creates endpoints for itself', 'partner_id');
    const partner = await getPartner(db, principal, input.partner_id);
    return { kind: 'partner', partnerId: partner.id, customerId: null };
  }
  if (principal.role === 'customer')
    return { kind: 'customer', partnerId: null, customerId: principal.customerId };
  if (principal.role === 'partner')
    return { kind: 'partner', partnerId: principal.partnerId, customerId: null };
  return { kind: 'operator', partnerId: null, customerId: null };
}

async function checkEndpointCount(db: Db, owner: Owner): Promise<void> {
  let query = db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('owner_kind', '=', owner.kind);
  if (owner.partnerId) query = query.where('partner_id', '=', owner.partnerId);
  if (owner.customerId) query = query.where('customer_id', '=', owner.customerId);
  const { count } = await query.executeTakeFirstOrThrow();
  if (Number(count) >= MAX_ENDPOINTS_PER_OWNER)
    throw invalid(`an account has at most ${MAX_ENDPOINTS_PER_OWNER} webhook endpoints`, 'url');
}

export interface EndpointWithSecret {
  endpoint: Endpoint;
  /** The signing secret in clear: returned to the caller this once, never again. */
  secret: string;
}

export async function createEndpoint(
  db: Db,
  options: { secretsKey: Buffer; egress: EgressPolicy },
  principal: Principal,
  input: EndpointCreateInput,
): Promise<EndpointWithSecret> {
  const { secretsKey, egress } = options;
  const url = checkUrl(input.url, egress);
  const events = checkEvents(input.events);
  checkDescription(input.description);
  const owner = await resolveOwner(db, principal, input);
  await checkEndpointCount(db, owner);
  const secret = newSigningSecret();
  const endpoint = await db
    .insertInto('webhook_endpoints')
    .values({
      id: newId('webhookEndpoint'),
      owner_kind: owner.kind,
      partner_id: owner.partnerId,
      customer_id: owner.customerId,
      url,
      description: input.description ?? null,
      events,
      status: input.status ?? 'active',
      secret_sealed: seal(secretsKey, secret),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  endpointsChanged();
  return { endpoint, secret };
}

export interface EndpointListFilter {
  limit: number;
  startingAfter?: string;
  partnerId?: string;
  customerId?: string;
}

export async function listEndpoints(db: Db, principal: Principal, filter: EndpointListFilter) {
  let query = visibleEndpoints(db, principal);
  if (filter.partnerId) query = query.where('partner_id', '=', filter.partnerId);
  if (filter.customerId) query = query.where('customer_id', '=', filter.customerId);
  if (filter.startingAfter) query = query.where('id', '>', filter.startingAfter);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}

export async function updateEndpoint(
  db: Db,
  egress: EgressPolicy,
  principal: Principal,
  id: string,
  input: EndpointFields,
): Promise<Endpoint> {
  await getEndpoint(db, principal, id);
  checkDescription(input.description);
  const endpoint = await db
    .updateTable('webhook_endpoints')
    .set({
      ...(input.url !== undefined ? { url: checkUrl(input.url, egress) } : {}),
      ...(input.events !== undefined ? { events: checkEvents(input.events) } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.status !== undefined ? { status: input.status } : {}),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  endpointsChanged();
  return endpoint;
}

/** Deletes the endpoint and its delivery history; events not yet delivered are dropped. */
export async function deleteEndpoint(db: Db, principal: Principal, id: string): Promise<void> {
  await getEndpoint(db, principal, id);
  await db.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
  endpointsChanged();
}

/** A new secret at once; the old one stops signing (no overlap period). */
export async function rotateSecret(
  db: Db,
  secretsKey: Buffer,
  principal: Principal,
  id: string,
): Promise<EndpointWithSecret> {
  await getEndpoint(db, principal, id);
  const secret = newSigningSecret();
  const endpoint = await db
    .updateTable('webhook_endpoints')
    .set({ secret_sealed: seal(secretsKey, secret), updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { endpoint, secret };
}
