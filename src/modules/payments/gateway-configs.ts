import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import { conflict, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import { isCurrencyCode } from '../../money/index.js';
import type { GatewayType, PaymentGatewaysTable } from './schema.js';
import { seal, unseal } from './secrets.js';

/**
 * Gateway configurations (seed 000's Setup › Integrations › API): which provider, test or
 * live mode, currency, credentials sealed at rest, and non-secret settings such as the
 * provider's base URL. Operator-only; credentials are written, never read back over the API.
 */
export type GatewayRow = Selectable<PaymentGatewaysTable>;

export interface SecretsKey {
  key: Buffer;
  /** True when the built-in development key is in use: live gateways are then refused. */
  isDefault: boolean;
}

/** Which credential names each provider needs, and which settings it understands. */
const REQUIRED_CREDENTIALS: Record<GatewayType, string[]> = {
  test: [],
  stripe: ['secret_key', 'webhook_secret'],
  paypal: ['client_id', 'client_secret'],
  moneris: ['store_id', 'api_token'],
};
const KNOWN_SETTINGS = [
  'base_url',
  'ipn_verify_url',
  'receiver_email',
  'public_key',
  'processing_country',
  'timeout_seconds',
];
/** How long a call to a provider may take before its outcome is `unknown` (settings.timeout_seconds). */
export const DEFAULT_GATEWAY_TIMEOUT_SECONDS = 30;
const MAX_GATEWAY_TIMEOUT_SECONDS = 120;

export interface GatewayInput {
  type?: GatewayType;
  name?: string;
  mode?: 'test' | 'live';
  currency?: string;
  credentials?: Record<string, string>;
  settings?: Record<string, string>;
  is_default?: boolean;
  status?: 'active' | 'disabled';
}

function checkSettings(settings: Record<string, string>): void {
  const unknown = Object.keys(settings).find((name) => !KNOWN_SETTINGS.includes(name));
  if (unknown)
    throw invalid(`Unknown setting '${unknown}'; known: ${KNOWN_SETTINGS.join(', ')}`, `settings.${unknown}`);
  for (const name of ['base_url', 'ipn_verify_url']) {
    const url = settings[name];
    if (url !== undefined && !/^https?:\/\/[^\s]+$/.test(url))
      throw invalid(`settings.${name} must be an http(s) URL`, `settings.${name}`);
  }
  const timeout = settings.timeout_seconds;
  if (
    timeout !== undefined &&
    !(/^\d+(\.\d+)?$/.test(timeout) && Number(timeout) > 0 && Number(timeout) <= MAX_GATEWAY_TIMEOUT_SECONDS)
  )
    throw invalid(
      `settings.timeout_seconds must be a number of seconds above 0, at most ${MAX_GATEWAY_TIMEOUT_SECONDS}`,
      'settings.timeout_seconds',
    );
}

function checkCredentials(type: GatewayType, credentials: Record<string, string>): void {
  const missing = REQUIRED_CREDENTIALS[type].find((name) => !credentials[name]);
  if (missing)
    throw invalid(
      `Missing required parameter 'credentials.${missing}' for a ${type} gateway`,
      `credentials.${missing}`,
    );
}

function checkLive(secrets: SecretsKey, mode: string | undefined): void {
  if (mode === 'live' && secrets.isDefault) {
    throw conflict(
      'Live gateways need TOLLGATE_SECRETS_KEY set: the development key protects nothing',
      'mode',
    );
  }
}

export async function createGateway(db: Db, secrets: SecretsKey, input: GatewayInput) {
  const type = input.type ?? 'test';
  const currency = (input.currency ?? '').toUpperCase();
  if (!isCurrencyCode(currency))
    throw invalid(`'${input.currency}' is not an ISO 4217 currency code`, 'currency');
  const credentials = input.credentials ?? {};
  checkCredentials(type, credentials);
  checkSettings(input.settings ?? {});
  checkLive(secrets, input.mode);
  return db.transaction().execute(async (trx) => {
    if (input.is_default) await clearDefault(trx, currency);
    return trx
      .insertInto('payment_gateways')
      .values({
        id: newId('paymentGateway'),
        type,
        name: input.name ?? type,
        mode: input.mode ?? 'test',
        currency,
        credentials_sealed: seal(secrets.key, JSON.stringify(credentials)),
        settings: JSON.stringify(input.settings ?? {}),
        is_default: input.is_default ?? false,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

async function clearDefault(trx: Db, currency: string) {
  await trx
    .updateTable('payment_gateways')
    .set({ is_default: false })
    .where('currency', '=', currency)
    .execute();
}

export async function getGateway(db: Db, id: string): Promise<GatewayRow> {
  const row = await db.selectFrom('payment_gateways').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('Gateway');
  return row;
}

/**
 * The gateway a provider's notification belongs to when its URL names none (the issue's
 * `/webhooks/stripe`, `/webhooks/paypal/ipn`): the one active gateway of that type. With several,
 * each must be given its own URL (`…/{gateway_id}`).
 */
export async function soleActiveGateway(db: Db, type: 'stripe' | 'paypal'): Promise<GatewayRow> {
  const rows = await db
    .selectFrom('payment_gateways')
    .selectAll()
    .where('type', '=', type)
    .where('status', '=', 'active')
    .limit(2)
    .execute();
  if (rows.length === 0) throw notFound(`Active ${type} gateway`);
  if (rows.length > 1) {
    throw conflict(
      `Several active ${type} gateways: give each its own URL, /api/v1/webhooks/${type === 'paypal' ? 'paypal/ipn' : 'stripe'}/{gateway_id}`,
    );
  }
  return rows[0]!;
}

export async function listGateways(db: Db, filter: { limit: number; startingAfter?: string }) {
  let query = db.selectFrom('payment_gateways').selectAll();
  if (filter.startingAfter) query = query.where('id', '>', filter.startingAfter);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}

/** Type and currency are fixed once created (payments refer to them); credentials are replaced whole. */
export async function updateGateway(db: Db, secrets: SecretsKey, id: string, input: GatewayInput) {
  const current = await getGateway(db, id);
  if (input.type !== undefined && input.type !== current.type)
    throw invalid('type cannot be changed', 'type');
  if (input.currency !== undefined && input.currency.toUpperCase() !== current.currency) {
    throw invalid('currency cannot be changed', 'currency');
  }
  if (input.credentials) checkCredentials(current.type, input.credentials);
  if (input.settings) checkSettings(input.settings);
  checkLive(secrets, input.mode);
  return db.transaction().execute(async (trx) => {
    if (input.is_default) await clearDefault(trx, current.currency);
    return trx
      .updateTable('payment_gateways')
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.mode !== undefined ? { mode: input.mode } : {}),
        ...(input.status !== undefined ? { status: input.status } : {}),
        ...(input.is_default !== undefined ? { is_default: input.is_default } : {}),
        ...(input.settings ? { settings: JSON.stringify({ ...current.settings, ...input.settings }) } : {}),
        ...(input.credentials
          ? { credentials_sealed: seal(secrets.key, JSON.stringify(input.credentials)) }
          : {}),
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

export function credentialsOf(secrets: SecretsKey, row: GatewayRow): Record<string, string> {
  return JSON.parse(unseal(secrets.key, row.credentials_sealed)) as Record<string, string>;
}

/** The gateway new payments in this currency go through: the default one, else the built-in test gateway (null). */
export async function defaultGateway(db: Db, currency: string): Promise<GatewayRow | null> {
  const row = await db
    .selectFrom('payment_gateways')
    .selectAll()
    .where('currency', '=', currency)
    .where('is_default', '=', true)
    .where('status', '=', 'active')
    // PayPal money arrives through its own checkout and IPN: never the card gateway.
    .where('type', '!=', 'paypal')
    .executeTakeFirst();
  return row ?? null;
}
