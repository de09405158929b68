import { sql } from 'kysely';
import { publishCommitted } from '../../db/change-feed.js';
import type { Db } from '../../db/index.js';
import { conflict, invalid } from '../../errors.js';
import {
  AMOUNT_SCALE,
  formatAmount,
  InvalidAmountError,
  isCurrencyCode,
  parseAmount,
} from '../../money/index.js';
import type { AccountStatus } from './schema.js';

/**
 * Rules shared by partners and customers: the fields both carry, validated the same way, and
 * the one namespace of account numbers.
 */
export interface AccountFieldsInput {
  name?: string;
  account_number?: string;
  currency?: string;
  credit_limit?: string;
  email?: string | null;
  phone?: string | null;
  address?: string | null;
  status?: AccountStatus;
}

export const CONTACT_FIELDS = ['name', 'email', 'phone', 'address'] as const;

export function normaliseCurrency(code: string): string {
  const upper = code.toUpperCase();
  if (!isCurrencyCode(upper)) throw invalid(`'${code}' is not an ISO 4217 currency code`, 'currency');
  return upper;
}

export function normaliseCreditLimit(text: string): string {
  try {
    return formatAmount(parseAmount(text, AMOUNT_SCALE));
  } catch (error) {
    if (error instanceof InvalidAmountError) throw invalid(`credit_limit ${error.message}`, 'credit_limit');
    throw error;
  }
}

/** Closed is final: a closed account keeps its history and is never reopened. */
export function checkStatusChange(from: AccountStatus, to: AccountStatus | undefined): void {
  if (to !== undefined && from === 'closed' && to !== 'closed') {
    throw conflict('A closed account cannot be reopened', 'status');
  }
}

/** Normalises the optional fields of a create or update; undefined stays "not given". */
export function normaliseAccountFields(input: AccountFieldsInput) {
  const name = input.name?.trim();
  // The schema refuses "", but "   " passes it: an account must keep a name a person can read.
  if (name === '') throw invalid('name must not be blank', 'name');
  return {
    ...(name !== undefined ? { name } : {}),
    ...(input.currency !== undefined ? { currency: normaliseCurrency(input.currency) } : {}),
    ...(input.credit_limit !== undefined ? { credit_limit: normaliseCreditLimit(input.credit_limit) } : {}),
    ...(input.email !== undefined ? { email: input.email } : {}),
    ...(input.phone !== undefined ? { phone: input.phone } : {}),
    ...(input.address !== undefined ? { address: input.address } : {}),
    ...(input.status !== undefined ? { status: input.status } : {}),
  };
}

const GENERATE_ATTEMPTS = 5;

/**
 * Reserves an account number for a new account: the requested one (409 when taken), or the
 * next of the sequence with the kind's letter (`C100001`, `P100002`), skipping numbers someone
 * chose by hand.
 */
export async function claimAccountNumber(trx: Db, ownerId: string, letter: 'C' | 'P', requested?: string) {
  if (requested !== undefined) {
    const claimed = await trx
      .insertInto('account_numbers')
      .values({ account_number: requested, owner_id: ownerId })
      .onConflict((oc) => oc.column('account_number').doNothing())
      .returning('account_number')
      .executeTakeFirst();
    if (!claimed) throw conflict(`account_number '${requested}' is already in use`, 'account_number');
    return requested;
  }
  for (let attempt = 0; attempt < GENERATE_ATTEMPTS; attempt++) {
    const next = await sql<{ n: string }>`select nextval('account_number_seq')::text as n`.execute(trx);
    const candidate = `${letter}${next.rows[0]!.n}`;
    const claimed = await trx
      .insertInto('account_numbers')
      .values({ account_number: candidate, owner_id: ownerId })
      .onConflict((oc) => oc.column('account_number').doNothing())
      .returning('account_number')
      .executeTakeFirst();
    if (claimed) return candidate;
  }
  throw conflict('Could not allocate an account number; pass account_number explicitly', 'account_number');
}

export async function releaseAccountNumber(trx: Db, ownerId: string): Promise<void> {
  await trx.deleteFrom('account_numbers').where('owner_id', '=', ownerId).execute();
}

/**
 * Topic of committed changes to API keys (src/db/change-feed.ts): every process's key cache
 * (key-resolver.ts) forgets what it holds, so a revoked, changed or deleted key stops working at
 * once instead of when its cache entry ages out.
 */
export const API_KEYS_TOPIC = 'api_keys';

/** Deletes an account's API keys along with the account, and announces it (API_KEYS_TOPIC). */
export async function deleteAccountKeys(
  trx: Db,
  owner: 'partner_id' | 'customer_id',
  ownerId: string,
): Promise<void> {
  const deleted = await trx.deleteFrom('api_keys').where(owner, '=', ownerId).returning('id').execute();
  await publishCommitted(
    trx,
    API_KEYS_TOPIC,
    deleted.map((key) => key.id),
  );
}

/**
 * Checks that decide whether an account may be deleted outright. The modules whose rows name an
 * account register one (ledger, cdrs, payments guards.ts) that refuses once the account has
 * history there (then it must be closed instead).
 */
export type DeletionGuard = (db: Db, accountId: string) => Promise<string | null>;
const deletionGuards: DeletionGuard[] = [];

export function registerDeletionGuard(guard: DeletionGuard): void {
  deletionGuards.push(guard);
}

export async function assertDeletable(db: Db, accountId: string): Promise<void> {
  for (const guard of deletionGuards) {
    const reason = await guard(db, accountId);
    if (reason) throw conflict(`${reason}; close the account instead (status=closed)`);
  }
}
