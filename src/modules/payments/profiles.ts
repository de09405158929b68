import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import { conflict, DomainError, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Principal } from '../../tenancy.js';
import { type CardInput, checkCard, isExpired } from './card.js';
import { type CustomerRef, resolveCustomer } from './customer-ref.js';
import { defaultGateway, type GatewayRow, getGateway, type SecretsKey } from './gateway-configs.js';
import { adapterFor } from './gateways/index.js';
import { type BankInput, MethodRefused } from './gateways/types.js';
import type { PaymentProfilesTable } from './schema.js';

/**
 * Payment profiles: a customer's stored cards and bank accounts. Only the gateway's token and
 * what identifies the card to a person (brand, last 4, expiry, holder, billing address) are
 * kept; the card number and CVV go to the gateway and are forgotten.
 */
export type Profile = Selectable<PaymentProfilesTable>;

export interface BillingInput {
  billing_address?: string;
  billing_city?: string;
  billing_state?: string;
  billing_postal_code?: string;
  billing_country?: string;
  email?: string;
}

export interface ProfileInput extends BillingInput {
  card?: CardInput;
  bank?: BankInput;
  is_default?: boolean;
  gateway_id?: string;
}

export interface ProfileContext {
  db: Db;
  secrets: SecretsKey;
  now: () => Date;
}

async function gatewayFor(
  db: Db,
  gatewayId: string | undefined,
  currency: string,
): Promise<GatewayRow | null> {
  if (!gatewayId) return defaultGateway(db, currency);
  const row = await getGateway(db, gatewayId).catch(() => {
    throw invalid(`gateway_id '${gatewayId}' does not name a gateway`, 'gateway_id');
  });
  if (row.currency !== currency)
    throw invalid(`The gateway takes ${row.currency}, the customer pays in ${currency}`, 'gateway_id');
  return row;
}

/** Throws 'invalid' naming the field at fault: before any gateway sees the account, stored or not. */
export function checkBank(bank: BankInput): void {
  if (!/^\d{4,17}$/.test(bank.accountNumber))
    throw invalid('bank_account_number must be 4 to 17 digits', 'bank_account_number');
  if (!/^\d{5,9}$/.test(bank.routingNumber))
    throw invalid('routing_number must be 5 to 9 digits', 'routing_number');
  if (bank.holderName.trim() === '')
    throw invalid("Missing required parameter 'account_holder'", 'account_holder');
}

/** Checks the card or bank account and stores it at the gateway: everything before a row is written. */
export async function tokenise(
  ctx: ProfileContext,
  input: ProfileInput,
  currency: string,
  customerId: string,
) {
  if (!input.card === !input.bank) throw invalid("Missing required parameter 'card_number'", 'card_number');
  if (input.card) checkCard(input.card, ctx.now());
  else checkBank(input.bank!);
  const gateway = await gatewayFor(ctx.db, input.gateway_id, currency);
  const source = input.card
    ? { kind: 'card' as const, card: input.card }
    : { kind: 'bank' as const, bank: input.bank! };
  try {
    const stored = await adapterFor(gateway, ctx.secrets).storePaymentMethod(source, customerId);
    return { gateway, stored };
  } catch (error) {
    if (error instanceof MethodRefused)
      throw new DomainError('payment_declined', error.message, 'card_number');
    // Nothing was stored on our side; the client may try again.
    throw new DomainError(
      'unavailable',
      `The gateway could not store the payment method: ${(error as Error).message}`,
    );
  }
}

/** Writes the profile row for an already tokenised method (inside the caller's transaction). */
export async function insertProfile(
  trx: Db,
  customerId: string,
  currency: string,
  input: ProfileInput,
  tokenised: Awaited<ReturnType<typeof tokenise>>,
): Promise<Profile> {
  const hasDefault = await trx
    .selectFrom('payment_profiles')
    .select('id')
    .where('customer_id', '=', customerId)
    .where('is_default', '=', true)
    .where('status', '=', 'active')
    .executeTakeFirst();
  const isDefault = input.is_default ?? !hasDefault;
  if (isDefault && hasDefault) await clearDefault(trx, customerId);
  const digits = input.card ? input.card.number.replace(/[\s-]/g, '') : input.bank!.accountNumber;
  return trx
    .insertInto('payment_profiles')
    .values({
      id: newId('paymentProfile'),
      customer_id: customerId,
      gateway_id: tokenised.gateway?.id ?? null,
      kind: input.card ? 'card' : 'bank',
      token: tokenised.stored.token,
      brand: tokenised.stored.brand,
      last4: digits.slice(-4),
      exp_month: input.card?.expMonth ?? null,
      exp_year: input.card?.expYear ?? null,
      holder_name: (input.card?.holderName ?? input.bank!.holderName).trim(),
      ...billingFields(input),
      currency,
      is_default: isDefault,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

function billingFields(input: BillingInput) {
  const fields = {
    billing_address: input.billing_address,
    billing_city: input.billing_city,
    billing_state: input.billing_state,
    billing_postal_code: input.billing_postal_code,
    billing_country: input.billing_country?.toUpperCase(),
    email: input.email,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

async function clearDefault(trx: Db, customerId: string) {
  await trx
    .updateTable('payment_profiles')
    .set({ is_default: false })
    .where('customer_id', '=', customerId)
    .execute();
}

export async function registerProfile(
  ctx: ProfileContext,
  principal: Principal,
  ref: CustomerRef,
  input: ProfileInput,
) {
  const customer = await resolveCustomer(ctx.db, principal, ref);
  const tokenised = await tokenise(ctx, input, customer.currency, customer.id);
  const profile = await ctx.db
    .transaction()
    .execute((trx) => insertProfile(trx, customer.id, customer.currency, input, tokenised));
  return { customer, profile };
}

/** A profile of this customer; any other (another customer's, removed) is 404. */
export async function getProfile(db: Db, customerId: string, profileId: string): Promise<Profile> {
  const profile = await db
    .selectFrom('payment_profiles')
    .selectAll()
    .where('id', '=', profileId)
    .where('customer_id', '=', customerId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  if (!profile) throw notFound('Payment profile');
  return profile;
}

/** Finds a profile by id within what the principal may see (when no customer is named). */
export async function findVisibleProfile(db: Db, principal: Principal, ref: CustomerRef, profileId: string) {
  const owner = await db
    .selectFrom('payment_profiles')
    .select('customer_id')
    .where('id', '=', profileId)
    .executeTakeFirst();
  if (!owner) throw notFound('Payment profile');
  const customer = await resolveCustomer(
    db,
    principal,
    ref.customer_id || ref.account_number ? ref : { customer_id: owner.customer_id },
  ).catch((error) => {
    if (error instanceof DomainError && error.kind === 'not_found') throw notFound('Payment profile');
    throw error;
  });
  return { customer, profile: await getProfile(db, customer.id, profileId) };
}

/** Seed 004: the card number, the cardholder name and the billing country cannot change. */
export const IMMUTABLE_PROFILE_FIELDS = ['card_number', 'cardholder_name', 'billing_country'] as const;

export interface ProfileUpdate extends BillingInput {
  exp_month?: number;
  exp_year?: number;
  is_default?: boolean;
}

export async function updateProfile(
  db: Db,
  principal: Principal,
  ref: CustomerRef,
  profileId: string,
  update: ProfileUpdate,
  now: Date,
) {
  const { customer, profile } = await findVisibleProfile(db, principal, ref, profileId);
  if (
    update.billing_country !== undefined &&
    update.billing_country.toUpperCase() !== profile.billing_country
  ) {
    throw invalid(
      'billing_country cannot be changed; register a new payment profile instead',
      'billing_country',
    );
  }
  const expMonth = update.exp_month ?? profile.exp_month;
  const expYear = update.exp_year ?? profile.exp_year;
  if ((update.exp_month !== undefined || update.exp_year !== undefined) && profile.kind === 'card') {
    if (expMonth! < 1 || expMonth! > 12) throw invalid('exp_month must be 1 to 12', 'exp_month');
    if (isExpired(expMonth!, expYear!, now)) throw invalid('The card would be expired', 'exp_year');
  }
  const { is_default, exp_month, exp_year, billing_country: _same, ...billing } = update;
  const updated = await db.transaction().execute(async (trx) => {
    if (is_default) await clearDefault(trx, customer.id);
    return trx
      .updateTable('payment_profiles')
      .set({
        ...billingFields(billing),
        ...(exp_month !== undefined ? { exp_month } : {}),
        ...(exp_year !== undefined ? { exp_year } : {}),
        ...(is_default !== undefined ? { is_default } : {}),
        updated_at: new Date(),
      })
      .where('id', '=', profile.id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
  return { customer, profile: updated };
}

export async function removeProfile(
  ctx: ProfileContext,
  principal: Principal,
  ref: CustomerRef,
  profileId: string,
) {
  const { customer, profile } = await findVisibleProfile(ctx.db, principal, ref, profileId);
  const recurring = await ctx.db
    .selectFrom('recurring_payments')
    .select('id')
    .where('profile_id', '=', profile.id)
    .where('status', 'in', ['active', 'suspended'])
    .executeTakeFirst();
  if (recurring) {
    throw conflict(`The profile pays recurring payment ${recurring.id}; remove that first`, 'profile_id');
  }
  const removed = await ctx.db
    .updateTable('payment_profiles')
    .set({ status: 'removed', is_default: false, updated_at: new Date() })
    .where('id', '=', profile.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  const gateway = profile.gateway_id ? await getGateway(ctx.db, profile.gateway_id) : null;
  await adapterFor(gateway, ctx.secrets).deletePaymentMethod(profile.token);
  return { customer, profile: removed };
}

export async function listProfiles(db: Db, customerId: string): Promise<Profile[]> {
  return db
    .selectFrom('payment_profiles')
    .selectAll()
    .where('customer_id', '=', customerId)
    .where('status', '=', 'active')
    .orderBy('id')
    .limit(100)
    .execute();
}

export async function defaultProfile(db: Db, customerId: string): Promise<Profile> {
  const profile = await db
    .selectFrom('payment_profiles')
    .selectAll()
    .where('customer_id', '=', customerId)
    .where('status', '=', 'active')
    .where('is_default', '=', true)
    .executeTakeFirst();
  if (!profile) throw notFound('Default payment profile');
  return profile;
}
