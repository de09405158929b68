import type { Db } from '../../db/index.js';
import { invalid } from '../../errors.js';
import type { Principal } from '../../tenancy.js';
import { type Customer, findCustomerByAccountNumber, getCustomer } from '../accounts/customers.js';

/** How seed 004's routes name a customer: its id or its account number (a customer key: itself). */
export interface CustomerRef {
  customer_id?: string;
  account_number?: string;
}

/** Resolves the customer within what the principal may see; another tenant's customer is 404. */
export async function resolveCustomer(db: Db, principal: Principal, ref: CustomerRef): Promise<Customer> {
  if (ref.customer_id) return getCustomer(db, principal, ref.customer_id);
  if (ref.account_number) return findCustomerByAccountNumber(db, principal, ref.account_number);
  if (principal.role === 'customer') return getCustomer(db, principal, principal.customerId!);
  throw invalid("Missing required parameter 'customer_id' (or 'account_number')", 'customer_id');
}
