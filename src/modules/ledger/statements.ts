import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { forbidden, invalid } from '../../errors.js';
import { Decimal } from '../../money/index.js';
import { type Period, parsePeriod } from '../../period.js';
import type { Principal } from '../../tenancy.js';
import { type Customer, findCustomerByAccountNumber, getCustomer } from '../accounts/customers.js';
import { findPartnerByAccountNumber, getPartner, type Partner } from '../accounts/partners.js';
import { findOwnerAccount } from './accounts.js';

/**
 * Balance statements for a period (seed 002):
 *   total_charges   = call_charges + other_charges + adjustments
 *   closing_balance = opening_balance + payments − total_charges
 * Every posting falls in exactly one bucket, so the identity holds by construction and the
 * closing balance is also the sum of all postings effective before the end of the period.
 */

/** Which statement line each category counts on; any other category is an other charge. */
export const PAYMENT_CATEGORIES = ['payment', 'refund', 'transfer'] as const;
export const ADJUSTMENT_CATEGORY = 'adjustment';
export const CALL_CHARGE_CATEGORY = 'call_charge';

export interface Statement {
  openingBalance: Decimal;
  payments: Decimal;
  adjustments: Decimal;
  callCharges: Decimal;
  otherCharges: Decimal;
  totalCharges: Decimal;
  closingBalance: Decimal;
}

interface Sums {
  opening: string;
  period: string;
  payments: string;
  adjustments: string;
  call_charges: string;
}

/**
 * Sums an owner's postings over the period. Postings are credits to the balance, so charges and
 * adjustments show negated (a charge of 7.5 is a −7.5 posting).
 */
export async function statementOf(db: Db, ownerId: string, period: Period): Promise<Statement> {
  const account = await findOwnerAccount(db, ownerId);
  const sums: Sums = account
    ? await sumPostings(db, account.id, period)
    : { opening: '0', period: '0', payments: '0', adjustments: '0', call_charges: '0' };
  const opening = new Decimal(sums.opening);
  const payments = new Decimal(sums.payments);
  const adjustments = new Decimal(sums.adjustments).negated();
  const callCharges = new Decimal(sums.call_charges).negated();
  const otherCharges = new Decimal(sums.period)
    .minus(sums.payments)
    .minus(sums.adjustments)
    .minus(sums.call_charges)
    .negated();
  const totalCharges = callCharges.plus(otherCharges).plus(adjustments);
  return {
    openingBalance: opening,
    payments,
    adjustments,
    callCharges,
    otherCharges,
    totalCharges,
    closingBalance: opening.plus(payments).minus(totalCharges),
  };
}

async function sumPostings(db: Db, accountId: string, period: Period): Promise<Sums> {
  const from = period.from ?? new Date(0);
  const inPeriod = sql`effective_at >= ${from}::timestamptz`;
  const result = await sql<Sums>`
    select
      coalesce(sum(amount) filter (where effective_at < ${from}::timestamptz), 0)::text as opening,
      coalesce(sum(amount) filter (where ${inPeriod}), 0)::text as period,
      coalesce(sum(amount) filter (where ${inPeriod} and category in (${sql.join([...PAYMENT_CATEGORIES])})), 0)::text as payments,
      coalesce(sum(amount) filter (where ${inPeriod} and category = ${ADJUSTMENT_CATEGORY}), 0)::text as adjustments,
      coalesce(sum(amount) filter (where ${inPeriod} and category = ${CALL_CHARGE_CATEGORY}), 0)::text as call_charges
    from ledger_postings
    where account_id = ${accountId} and effective_at < ${period.to}::timestamptz`.execute(db);
  return result.rows[0]!;
}

export interface StatementRequest {
  accountNumber?: string;
  from?: string;
  to?: string;
}

/**
 * A statement's period. Without `to` it ends now, so a `from` in the future would give a period
 * that ends before it starts (and an opening balance later than the closing one): 400.
 */
function statementPeriod(request: StatementRequest) {
  const period = parsePeriod(request.from, request.to);
  if (period.from && period.from > period.to)
    throw invalid("'from' is in the future; without 'to' a statement ends now", 'from');
  return period;
}

/** A customer's statement: a customer key gets its own; admin and partners name the account. */
export async function customerStatement(db: Db, principal: Principal, request: StatementRequest) {
  const period = statementPeriod(request);
  let customer: Customer;
  if (request.accountNumber !== undefined) {
    customer = await findCustomerByAccountNumber(db, principal, request.accountNumber);
  } else if (principal.role === 'customer') {
    customer = await getCustomer(db, principal, principal.customerId!);
  } else {
    throw invalid("Missing required parameter 'account_number'", 'account_number');
  }
  return { account: customer, period, statement: await statementOf(db, customer.id, period) };
}

/** A partner's own statement; the operator names the partner by account number. */
export async function partnerStatement(db: Db, principal: Principal, request: StatementRequest) {
  if (principal.role === 'customer') throw forbidden('A customer key cannot read partner balances');
  const period = statementPeriod(request);
  let partner: Partner;
  if (request.accountNumber !== undefined) {
    partner = await findPartnerByAccountNumber(db, principal, request.accountNumber);
  } else if (principal.role === 'partner') {
    partner = await getPartner(db, principal, principal.partnerId!);
  } else {
    throw invalid("Missing required parameter 'account_number'", 'account_number');
  }
  return { account: partner, period, statement: await statementOf(db, partner.id, period) };
}
