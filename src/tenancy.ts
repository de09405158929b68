/**
 * Who is acting, in domain terms. Tenancy: one operator → partners (resellers) → customers.
 * Services take a Principal and only ever see what it may see; HTTP turns API keys into one.
 */
export type Role = 'admin' | 'partner' | 'customer';

export interface Principal {
  keyId: string;
  role: Role;
  partnerId: string | null;
  customerId: string | null;
}

/** The operator acting on its own (CLI, bootstrap, background jobs). */
export const OPERATOR: Principal = { keyId: 'operator', role: 'admin', partnerId: null, customerId: null };
