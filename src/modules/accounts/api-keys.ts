import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import { type Selectable, sql } from 'kysely';
import { publishCommitted } from '../../db/change-feed.js';
import type { Db } from '../../db/index.js';
import { conflict, forbidden, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import { parseIsoInstant } from '../../iso-time.js';
import type { Principal, Role } from '../../tenancy.js';
import { API_KEYS_TOPIC } from './account-fields.js';
import { getCustomer } from './customers.js';
import { normaliseAllowList } from './ip-allow-list.js';
import { getPartner } from './partners.js';
import type { ApiKeysTable } from './schema.js';

export type ApiKey = Selectable<ApiKeysTable>;

/**
 * Keys are 32 random bytes, base64url, behind a recognisable prefix so a leaked key can be
 * spotted by secret scanners. Only a SHA-256 hash is stored: the secret has 256 bits of entropy,
 * so a slow password hash would add latency to every request and no security.
 */
export const KEY_PREFIX = 'tgk_';

// crypto.hash (Node >= 20.12) hashes in one call, without a Hash object per request.
const oneShotHash: ((algorithm: string, data: string, encoding: 'hex') => string) | undefined = (
  crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }
).hash;

export function hashKey(secret: string): string {
  if (oneShotHash) return oneShotHash('sha256', secret, 'hex');
  return createHash('sha256').update(secret).digest('hex');
}

function generateSecret(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Shown in listings so a person can tell keys apart without the secret. */
function displayPrefix(secret: string): string {
  return secret.slice(0, KEY_PREFIX.length + 6);
}

export interface ApiKeyInput {
  description?: string | null;
  role: Role;
  partner_id?: string;
  customer_id?: string;
  allowed_ips?: string[];
  expires_at?: string | null;
}

/** Keys a principal may see: all; its own and its customers'; or its own. */
function visibleKeys(db: Db, principal: Principal) {
  let query = db.selectFrom('api_keys').selectAll();
  if (principal.role === 'partner') {
    const partnerId = principal.partnerId!;
    query = query.where((eb) =>
      eb.or([
        eb('partner_id', '=', partnerId),
        eb('customer_id', 'in', eb.selectFrom('customers').select('id').where('partner_id', '=', partnerId)),
      ]),
    );
  }
  if (principal.role === 'customer') query = query.where('customer_id', '=', principal.customerId!);
  return query;
}

export async function getApiKey(db: Db, principal: Principal, id: string): Promise<ApiKey> {
  const key = await visibleKeys(db, principal).where('id', '=', id).executeTakeFirst();
  if (!key) throw notFound('API key');
  return key;
}

export async function listApiKeys(
  db: Db,
  principal: Principal,
  filter: { limit: number; startingAfter?: string; customerId?: string; partnerId?: string },
) {
  let query = visibleKeys(db, principal);
  if (filter.customerId) query = query.where('customer_id', '=', filter.customerId);
  if (filter.partnerId) query = query.where('partner_id', '=', filter.partnerId);
  if (filter.startingAfter) query = query.where('id', '>', filter.startingAfter);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}

function parseExpiry(value: string | null | undefined): Date | null | undefined {
  if (value === undefined || value === null) return value;
  const date = parseIsoInstant(value)?.at;
  if (!date) throw invalid(`expires_at '${value}' is not a timestamp in the years 0001–9999`, 'expires_at');
  if (date.getTime() <= Date.now()) throw invalid('expires_at must be in the future', 'expires_at');
  return date;
}

/**
 * A closed account's keys still read its history (closing keeps it), but create no new keys:
 * closing is final, and a new key would be new access to an account that has ended.
 */
async function assertCallerOpen(db: Db, principal: Principal): Promise<void> {
  if (
    principal.role === 'partner' &&
    (await getPartner(db, principal, principal.partnerId!)).status === 'closed'
  ) {
    throw conflict('Partner is closed; it cannot create API keys');
  }
  if (
    principal.role === 'customer' &&
    (await getCustomer(db, principal, principal.customerId!)).status === 'closed'
  ) {
    throw conflict('Customer is closed; it cannot create API keys');
  }
}

/** Checks that the caller may issue a key with this role for this owner; returns the owner ids. */
async function keyOwner(db: Db, principal: Principal, input: ApiKeyInput) {
  await assertCallerOpen(db, principal);
  if (input.role === 'admin') {
    if (principal.role !== 'admin') throw forbidden('Only an admin key can create admin keys');
    if (input.partner_id || input.customer_id)
      throw invalid('An admin key belongs to no partner or customer', 'role');
    return { partner_id: null, customer_id: null };
  }
  if (input.role === 'partner') {
    if (input.customer_id) throw invalid('A partner key takes partner_id, not customer_id', 'customer_id');
    const partnerId = input.partner_id ?? principal.partnerId;
    if (!partnerId) throw invalid("Missing required parameter 'partner_id'", 'partner_id');
    const partner = await getPartner(db, principal, partnerId);
    return { partner_id: partner.id, customer_id: null };
  }
  if (input.partner_id) throw invalid('A customer key takes customer_id, not partner_id', 'partner_id');
  const customerId = input.customer_id ?? principal.customerId;
  if (!customerId) throw invalid("Missing required parameter 'customer_id'", 'customer_id');
  const customer = await getCustomer(db, principal, customerId);
  return { partner_id: null, customer_id: customer.id };
}

/** Creates a key and returns it with its secret: the only time the secret exists outside the caller. */
export async function createApiKey(
  db: Db,
  principal: Principal,
  input: ApiKeyInput,
  secret = generateSecret(),
) {
  const owner = await keyOwner(db, principal, input);
  const key = await db
    .insertInto('api_keys')
    .values({
      id: newId('apiKey'),
      key_hash: hashKey(secret),
      key_prefix: displayPrefix(secret),
      description: input.description ?? null,
      role: input.role,
      ...owner,
      allowed_ips: normaliseAllowList(input.allowed_ips ?? []),
      expires_at: parseExpiry(input.expires_at) ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { key, secret };
}

export async function updateApiKey(
  db: Db,
  principal: Principal,
  id: string,
  input: { description?: string | null; allowed_ips?: string[]; expires_at?: string | null },
) {
  const current = await getApiKey(db, principal, id);
  if (current.revoked_at) throw invalid('A revoked key cannot be changed', 'id');
  const changes = {
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.allowed_ips !== undefined ? { allowed_ips: normaliseAllowList(input.allowed_ips) } : {}),
    ...(input.expires_at !== undefined ? { expires_at: parseExpiry(input.expires_at) ?? null } : {}),
  };
  if (Object.keys(changes).length === 0) return current;
  const updated = await db
    .updateTable('api_keys')
    .set(changes)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await publishCommitted(db, API_KEYS_TOPIC, [id]);
  return updated;
}

/** Revocation keeps the row (audit: who had access, until when). Revoking twice is harmless. */
export async function revokeApiKey(db: Db, principal: Principal, id: string): Promise<ApiKey> {
  const current = await getApiKey(db, principal, id);
  if (current.revoked_at) return current;
  const revoked = await db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await publishCommitted(db, API_KEYS_TOPIC, [id]);
  return revoked;
}

/**
 * Bootstrap: makes `secret` an operator admin key unless a key with that value exists already
 * (TOLLGATE_ADMIN_KEY). Returns true when it created one.
 */
export async function ensureAdminKey(db: Db, principal: Principal, secret: string): Promise<boolean> {
  const existing = await db
    .selectFrom('api_keys')
    .select('id')
    .where('key_hash', '=', hashKey(secret))
    .executeTakeFirst();
  if (existing) return false;
  await createApiKey(db, principal, { role: 'admin', description: 'bootstrap (TOLLGATE_ADMIN_KEY)' }, secret);
  return true;
}
