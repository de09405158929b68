import type { Selectable } from 'kysely';
import { publishCommitted } from '../../db/change-feed.js';
import type { Db } from '../../db/index.js';
import { conflict, forbidden, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Principal } from '../../tenancy.js';
import {
  type AccountFieldsInput,
  assertDeletable,
  CONTACT_FIELDS,
  checkStatusChange,
  claimAccountNumber,
  deleteAccountKeys,
  normaliseAccountFields,
  releaseAccountNumber,
} from './account-fields.js';
import type { AccountStatus, PartnersTable } from './schema.js';

export type Partner = Selectable<PartnersTable>;

/**
 * Topic of committed changes to partner rows (src/db/change-feed.ts). CustomerCache listens: a
 * customer's snapshot carries its partner's status (call authorization refuses the customers of a
 * suspended or closed partner), so a partner's change drops its customers' entries.
 */
export const PARTNERS_TOPIC = 'partners';

export interface PartnerListFilter {
  status?: AccountStatus;
  limit: number;
  startingAfter?: string;
}

/** Partners a principal may see: all for the operator, itself for a partner, none for a customer. */
function visiblePartners(db: Db, principal: Principal) {
  let query = db.selectFrom('partners').selectAll();
  if (principal.role === 'partner') query = query.where('id', '=', principal.partnerId!);
  if (principal.role === 'customer') query = query.where('id', '=', '');
  return query;
}

export async function getPartner(db: Db, principal: Principal, id: string): Promise<Partner> {
  const partner = await visiblePartners(db, principal).where('id', '=', id).executeTakeFirst();
  if (!partner) throw notFound('Partner');
  return partner;
}

export async function findPartnerByAccountNumber(db: Db, principal: Principal, accountNumber: string) {
  const partner = await visiblePartners(db, principal)
    .where('account_number', '=', accountNumber)
    .executeTakeFirst();
  if (!partner) throw notFound(`Partner with account_number '${accountNumber}'`);
  return partner;
}

export async function listPartners(
  db: Db,
  principal: Principal,
  filter: PartnerListFilter,
): Promise<Partner[]> {
  let query = visiblePartners(db, principal);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.startingAfter) query = query.where('id', '>', filter.startingAfter);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}

export async function createPartner(db: Db, input: AccountFieldsInput & { name: string; currency: string }) {
  const fields = normaliseAccountFields(input);
  if (!fields.name) throw invalid("Missing required parameter 'name'", 'name');
  const id = newId('partner');
  return db.transaction().execute(async (trx) => {
    const accountNumber = await claimAccountNumber(trx, id, 'P', input.account_number);
    return trx
      .insertInto('partners')
      .values({
        id,
        account_number: accountNumber,
        name: fields.name!,
        currency: fields.currency!,
        ...fields,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

export async function updatePartner(db: Db, principal: Principal, id: string, input: AccountFieldsInput) {
  const current = await getPartner(db, principal, id);
  if (principal.role !== 'admin') {
    const disallowed = Object.keys(input).find((key) => !(CONTACT_FIELDS as readonly string[]).includes(key));
    if (disallowed) throw forbidden(`A partner key may change only ${CONTACT_FIELDS.join(', ')}`);
  }
  if (input.account_number !== undefined && input.account_number !== current.account_number) {
    throw invalid('account_number cannot be changed', 'account_number');
  }
  checkStatusChange(current.status, input.status);
  const { account_number: _unchanged, ...rest } = input;
  const fields = normaliseAccountFields(rest);
  if (fields.currency && fields.currency !== current.currency) {
    throw invalid('currency cannot be changed once the account exists', 'currency');
  }
  if (Object.keys(fields).length === 0) return current;
  const updated = await db
    .updateTable('partners')
    .set({ ...fields, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await publishCommitted(db, PARTNERS_TOPIC, [id]);
  return updated;
}

export async function deletePartner(db: Db, principal: Principal, id: string): Promise<void> {
  await getPartner(db, principal, id);
  await assertDeletable(db, id);
  const customer = await db
    .selectFrom('customers')
    .select('id')
    .where('partner_id', '=', id)
    .limit(1)
    .executeTakeFirst();
  if (customer) throw conflict('Partner still has customers; move or delete them, or close the partner');
  await db.transaction().execute(async (trx) => {
    await deleteAccountKeys(trx, 'partner_id', id);
    await trx.deleteFrom('partners').where('id', '=', id).execute();
    await releaseAccountNumber(trx, id);
    await publishCommitted(trx, PARTNERS_TOPIC, [id]);
  });
}
