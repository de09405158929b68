import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * One app per test file, handed to `use` once started; when the file is done the whole ledger
 * must still verify (issue 3: checked after every ledger suite), then the app closes.
 */
export function withVerifiedLedgerApp(use: (app: TestApp) => void): void {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
    use(app);
  });
  after(async () => {
    assert.deepEqual((await verifyLedger(app.handle.db)).problems, []);
    await app.close();
  });
}

/** Partners, customers and their keys for the ledger tests, made through the API. */

export async function created(t: TestApp, url: string, body: Record<string, unknown>, key?: string) {
  const res = await t.request('POST', url, { body, ...(key ? { key } : {}) });
  assert.equal(res.status, 201, `${url}: ${res.text}`);
  return res.body.data;
}

export interface Tenant {
  partner: { id: string; account_number: string };
  customer: { id: string; account_number: string };
  partnerKey: string;
  customerKey: string;
}

/**
 * A partner holding `partnerFunds` (credited by an operator adjustment) and one customer with
 * the given credit limit.
 */
export async function makeTenant(
  t: TestApp,
  options: { partnerFunds?: string; customerLimit?: string; partnerLimit?: string; currency?: string } = {},
): Promise<Tenant> {
  const currency = options.currency ?? 'USD';
  const partner = await created(t, '/api/v1/partners', {
    name: 'Reseller',
    currency,
    credit_limit: options.partnerLimit ?? '0',
  });
  const customer = await created(t, '/api/v1/customers', {
    name: 'Customer',
    partner_id: partner.id,
    credit_limit: options.customerLimit ?? '0',
  });
  const partnerKey = (await created(t, '/api/v1/api-keys', { role: 'partner', partner_id: partner.id })).key;
  const customerKey = (await created(t, '/api/v1/api-keys', { role: 'customer', customer_id: customer.id }))
    .key;
  if (options.partnerFunds) {
    await created(t, `/api/v1/partners/${partner.id}/adjustments`, {
      amount: `-${options.partnerFunds}`,
      description: 'prepayment received',
    });
  }
  return { partner, customer, partnerKey, customerKey };
}

export function multipartBody(fields: Record<string, string>, boundary = '----tollgate-ledger') {
  const parts = Object.entries(fields).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  return {
    body: `${parts.join('')}--${boundary}--\r\n`,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** The tenant's partner and customer balances, as the API shows them. */
export async function tenantBalances(t: TestApp, tenant: Tenant): Promise<[string, string]> {
  const [partner, customer] = await Promise.all([
    t.request('GET', `/api/v1/partners/${tenant.partner.id}`),
    t.request('GET', `/api/v1/customers/${tenant.customer.id}`),
  ]);
  return [partner.body.data.balance, customer.body.data.balance];
}

/** How many ledger transactions the tenant's customer has (up to 100). */
export async function tenantTransactionCount(t: TestApp, tenant: Tenant): Promise<number> {
  const entries = await t.request('GET', `/api/v1/customers/${tenant.customer.id}/transactions?limit=100`);
  return entries.body.data.length;
}
