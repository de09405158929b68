import type { Selectable } from 'kysely';
import { publishCommitted } from '../../db/change-feed.js';
import type { Db } from '../../db/index.js';
import { conflict, forbidden, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Principal } from '../../tenancy.js';
import { assertSellRatecard } from '../rating/ratecards.js';
import {
  type AccountFieldsInput,
  assertDeletable,
  CONTACT_FIELDS,
  checkStatusChange,
  claimAccountNumber,
  deleteAccountKeys,
  normaliseAccountFields,
  normaliseCurrency,
  releaseAccountNumber,
} from './account-fields.js';
import { getPartner } from './partners.js';
import type { AccountStatus, CustomersTable } from './schema.js';

/** Topic of committed changes to customer rows (src/db/change-feed.ts; CustomerCache listens). */
export const CUSTOMERS_TOPIC = 'customers';

export type Customer = Selectable<CustomersTable>;

export interface CustomerInput extends AccountFieldsInput {
  partner_id?: string | null;
  /** The sell rate card (rating module); null detaches it. */
  ratecard_id?: string | null;
  /** Calls in progress allowed at once (call authorization); null: unlimited. */
  concurrent_call_limit?: number | null;
}

export interface CustomerListFilter {
  status?: AccountStatus;
  partnerId?: string;
  limit: number;
  startingAfter?: string;
}

/** Customers a principal may see: all, those of its partner, or itself. */
export function visibleCustomers(db: Db, principal: Principal) {
  let query = db.selectFrom('customers').selectAll();
  if (principal.role === 'partner') query = query.where('partner_id', '=', principal.partnerId!);
  if (principal.role === 'customer') query = query.where('id', '=', principal.customerId!);
  return query;
}

export async function getCustomer(db: Db, principal: Principal, id: string): Promise<Customer> {
  const customer = await visibleCustomers(db, principal).where('id', '=', id).executeTakeFirst();
  if (!customer) throw notFound('Customer');
  return customer;
}

export async function findCustomerByAccountNumber(db: Db, principal: Principal, accountNumber: string) {
  const customer = await visibleCustomers(db, principal)
    .where('account_number', '=', accountNumber)
    .executeTakeFirst();
  if (!customer) throw notFound(`Customer with account_number '${accountNumber}'`);
  return customer;
}

export async function listCustomers(
  db: Db,
  principal: Principal,
  filter: CustomerListFilter,
): Promise<Customer[]> {
  let query = visibleCustomers(db, principal);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.partnerId) query = query.where('partner_id', '=', filter.partnerId);
  if (filter.startingAfter) query = query.where('id', '>', filter.startingAfter);
  return query
    .orderBy('id')
    .limit(filter.limit + 1)
    .execute();
}

/**
 * The partner a new customer belongs to: a partner key's own, or the one an admin names. A closed
 * partner takes none, whoever asks: closing is final (its key still reads its history).
 */
async function owningPartner(db: Db, principal: Principal, requested: string | null | undefined) {
  if (principal.role === 'partner' && requested && requested !== principal.partnerId)
    throw notFound('Partner');
  const partnerId = principal.role === 'partner' ? principal.partnerId : requested;
  if (!partnerId) return null;
  const partner = await getPartner(db, principal, partnerId).catch(() => {
    throw invalid(`partner_id '${partnerId}' does not name a partner`, 'partner_id');
  });
  if (partner.status === 'closed') {
    throw conflict('Partner is closed; it cannot take new customers', requested ? 'partner_id' : undefined);
  }
  return partner;
}

/**
 * Who will own a new customer, and its account's currency: the one asked for, else its
 * partner's. A customer of no partner must name one.
 */
export async function newCustomerOwnership(
  db: Db,
  principal: Principal,
  input: Pick<CustomerInput, 'currency' | 'partner_id'>,
): Promise<{ partnerId: string | null; currency: string }> {
  const partner = await owningPartner(db, principal, input.partner_id);
  const partnerId = partner?.id ?? null;
  if (input.currency) return { partnerId, currency: normaliseCurrency(input.currency) };
  if (!partner) throw invalid("Missing required parameter 'currency'", 'currency');
  return { partnerId, currency: partner.currency };
}

export async function createCustomer(db: Db, principal: Principal, input: CustomerInput & { name: string }) {
  if (principal.role === 'customer') throw forbidden('A customer key cannot create customers');
  const fields = normaliseAccountFields(input);
  if (!fields.name) throw invalid("Missing required parameter 'name'", 'name');
  const { partnerId, currency } = await newCustomerOwnership(db, principal, {
    currency: fields.currency,
    partner_id: input.partner_id,
  });
  if (input.ratecard_id) await assertSellRatecard(db, input.ratecard_id, currency);
  const id = newId('customer');
  return db.transaction().execute(async (trx) => {
    const accountNumber = await claimAccountNumber(trx, id, 'C', input.account_number);
    // A cache may hold "no such customer" for this id (someone asked for it before).
    await publishCommitted(trx, CUSTOMERS_TOPIC, [id]);
    return trx
      .insertInto('customers')
      .values({
        ...fields,
        id,
        account_number: accountNumber,
        name: fields.name!,
        currency,
        partner_id: partnerId,
        ratecard_id: input.ratecard_id ?? null,
        concurrent_call_limit: input.concurrent_call_limit ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

export async function updateCustomer(db: Db, principal: Principal, id: string, input: CustomerInput) {
  const current = await getCustomer(db, principal, id);
  if (principal.role === 'customer') {
    const disallowed = Object.keys(input).find((key) => !(CONTACT_FIELDS as readonly string[]).includes(key));
    if (disallowed) throw forbidden(`A customer key may change only ${CONTACT_FIELDS.join(', ')}`);
  }
  if (input.account_number !== undefined && input.account_number !== current.account_number) {
    throw invalid('account_number cannot be changed', 'account_number');
  }
  checkStatusChange(current.status, input.status);
  const {
    account_number: _unchanged,
    partner_id: requestedPartner,
    ratecard_id: ratecardId,
    concurrent_call_limit: callLimit,
    ...rest
  } = input;
  const fields = normaliseAccountFields(rest);
  if (fields.currency && fields.currency !== current.currency) {
    throw invalid('currency cannot be changed once the account exists', 'currency');
  }
  const partnerChange =
    requestedPartner !== undefined && requestedPartner !== current.partner_id
      ? { partner_id: await movePartner(db, principal, requestedPartner) }
      : {};
  if (ratecardId) await assertSellRatecard(db, ratecardId, current.currency);
  const otherChanges = {
    ...partnerChange,
    ...(ratecardId !== undefined ? { ratecard_id: ratecardId } : {}),
    ...(callLimit !== undefined ? { concurrent_call_limit: callLimit } : {}),
  };
  if (Object.keys(fields).length === 0 && Object.keys(otherChanges).length === 0) return current;
  const updated = await db
    .updateTable('customers')
    .set({ ...fields, ...otherChanges, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await publishCommitted(db, CUSTOMERS_TOPIC, [id]);
  return updated;
}

/** Only the operator moves a customer between partners (or to itself with null). */
async function movePartner(db: Db, principal: Principal, partnerId: string | null) {
  if (principal.role !== 'admin') throw forbidden('Only the operator can move a customer to another partner');
  return (await owningPartner(db, principal, partnerId))?.id ?? null;
}

export async function deleteCustomer(db: Db, principal: Principal, id: string): Promise<void> {
  if (principal.role === 'customer') throw forbidden('A customer key cannot delete its account');
  await getCustomer(db, principal, id);
  await assertDeletable(db, id);
  await db.transaction().execute(async (trx) => {
    await deleteAccountKeys(trx, 'customer_id', id);
    await trx.deleteFrom('customers').where('id', '=', id).execute();
    await releaseAccountNumber(trx, id);
    await publishCommitted(trx, CUSTOMERS_TOPIC, [id]);
  });
}
