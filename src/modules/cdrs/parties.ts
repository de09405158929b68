import type { Db } from '../../db/index.js';
import type { Principal } from '../../tenancy.js';
import { visibleCustomers } from '../accounts/customers.js';
import type { CdrInput } from './cdr-record.js';

/**
 * The customers and carriers a batch of CDRs names, fetched in two queries for the whole batch.
 * Customers are looked up within what the caller may see: a partner's switch cannot charge
 * another partner's customer (such a CDR is stored as `unknown_customer`, never charged).
 */
export interface CustomerParty {
  id: string;
  partnerId: string | null;
  currency: string;
  status: string;
  ratecardId: string | null;
}

export interface CarrierParty {
  id: string;
  status: string;
  ratecardId: string;
}

export interface Parties {
  customer(cdr: Pick<CdrInput, 'customerId' | 'accountNumber'>): CustomerParty | undefined;
  carrier(id: string): CarrierParty | undefined;
}

const unique = (values: (string | null)[]) => [
  ...new Set(values.filter((value): value is string => value !== null)),
];

export async function resolveParties(db: Db, principal: Principal, cdrs: CdrInput[]): Promise<Parties> {
  const ids = unique(cdrs.map((cdr) => cdr.customerId));
  const numbers = unique(cdrs.map((cdr) => (cdr.customerId ? null : cdr.accountNumber)));
  const carrierIds = unique(cdrs.map((cdr) => cdr.carrierId));
  const customerRows =
    ids.length + numbers.length === 0
      ? []
      : await visibleCustomers(db, principal)
          .where((eb) =>
            eb.or([
              ...(ids.length ? [eb('id', 'in', ids)] : []),
              ...(numbers.length ? [eb('account_number', 'in', numbers)] : []),
            ]),
          )
          .execute();
  const carrierRows = carrierIds.length
    ? await db
        .selectFrom('carriers')
        .select(['id', 'status', 'ratecard_id'])
        .where('id', 'in', carrierIds)
        .execute()
    : [];
  const byId = new Map<string, CustomerParty>();
  const byNumber = new Map<string, CustomerParty>();
  for (const row of customerRows) {
    const party = {
      id: row.id,
      partnerId: row.partner_id,
      currency: row.currency,
      status: row.status,
      ratecardId: row.ratecard_id,
    };
    byId.set(row.id, party);
    byNumber.set(row.account_number, party);
  }
  const carriers = new Map(
    carrierRows.map((row) => [row.id, { id: row.id, status: row.status, ratecardId: row.ratecard_id }]),
  );
  return {
    customer: (cdr) => (cdr.customerId ? byId.get(cdr.customerId) : byNumber.get(cdr.accountNumber ?? '')),
    carrier: (id) => carriers.get(id),
  };
}
