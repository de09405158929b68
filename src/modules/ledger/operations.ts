import { CLAIM_NOT_HELD, type EffectClaim } from '../../db/effect-claims.js';
import type { Db } from '../../db/index.js';
import { forbidden, invalid } from '../../errors.js';
import { newId } from '../../ids.js';
import { type Decimal, InvalidAmountError, parseAmount } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import { type Customer, getCustomer } from '../accounts/customers.js';
import { getPartner, type Partner } from '../accounts/partners.js';
import type { AccountOwner } from './accounts.js';
import {
  balanceAfter,
  checkTransactionHeader,
  type PostedTransaction,
  postingHeader,
  postTransaction,
} from './posting.js';
import { postTransfer, type TransferItem } from './transfer-batcher.js';

/**
 * The money movements the API offers: partner↔customer fund transfers, adjustments and
 * one-off charges. Each resolves who may do what, then posts through postTransaction.
 * Adjustment sign (seed 002's statement arithmetic): a positive adjustment is a charge to the
 * account, a negative one a credit.
 */

/** A non-zero exact amount from request text; too many decimals or not a number is 'invalid'. */
export function parseNonZeroAmount(text: string, param = 'amount'): Decimal {
  let amount: Decimal;
  try {
    amount = parseAmount(text);
  } catch (error) {
    if (error instanceof InvalidAmountError) throw invalid(`${param} ${error.message}`, param);
    throw error;
  }
  if (amount.isZero()) throw invalid(`${param} must not be zero`, param);
  return amount;
}

/** The optional `currency` of a request must be the account's own: a ledger never converts. */
function checkCurrency(requested: string | undefined, accountCurrency: string): void {
  if (requested !== undefined && requested.toUpperCase() !== accountCurrency) {
    throw invalid(`The account is in ${accountCurrency}; currency '${requested}' does not match`, 'currency');
  }
}

export interface MoneyRequest {
  amount: string;
  description: string;
  currency?: string;
  /** From the Idempotency-Key: a retry after a crash finds the committed transaction. */
  referenceKey?: string | null;
  allowOverdraft?: boolean;
}

function checkOverdraft(principal: Principal, request: MoneyRequest): void {
  if (request.allowOverdraft && principal.role !== 'admin')
    throw forbidden('Only the operator may allow an overdraft');
}

export interface TransferResult {
  transaction: PostedTransaction;
  currency: string;
  customerCreditLimit: string;
  customerBalance: Decimal;
  partnerBalance: Decimal;
}

/**
 * A fund transfer checked and ready to post (ids generated): moves funds from the customer's
 * partner to the customer (a negative amount moves them back).
 */
export function transferItem(
  principal: Principal,
  request: MoneyRequest & { accountNumber: string },
): TransferItem {
  if (principal.role === 'customer') throw forbidden('A customer key cannot move funds');
  const amount = parseNonZeroAmount(request.amount);
  const header = postingHeader({
    category: 'transfer',
    description: request.description,
    referenceKey: request.referenceKey ?? null,
  });
  checkTransactionHeader(header);
  return {
    header,
    accountNumber: request.accountNumber,
    partnerScope: principal.role === 'partner' ? principal.partnerId : null,
    currency: request.currency ?? null,
    amount,
    postingIds: [newId('ledgerPosting'), newId('ledgerPosting')],
  };
}

/**
 * Moves funds between a customer and its partner. Both limits apply: the side that is debited
 * must stay at or above its credit limit. Posted with the transfers arriving at the same time in
 * one statement (transfer-batcher.ts: ledger_transfer_funds_batch(), migrations/0016), or alone
 * by ledger_transfer_funds() (migrations/0012), which finds the customer by account number within
 * the caller's scope and posts through ledger_post().
 */
export async function transferFunds(
  db: Db,
  principal: Principal,
  request: MoneyRequest & { accountNumber: string },
  claim: EffectClaim | null = null,
): Promise<TransferResult | typeof CLAIM_NOT_HELD> {
  const outcome = await postTransfer(db, transferItem(principal, request), claim);
  if (outcome === CLAIM_NOT_HELD) return outcome;
  const { posted, currency, customerCreditLimit } = outcome;
  const [partnerPosting, customerPosting] = posted.postings;
  return {
    transaction: posted,
    currency,
    customerCreditLimit,
    customerBalance: customerPosting!.balanceAfter,
    partnerBalance: partnerPosting!.balanceAfter,
  };
}

export interface PostedToAccount<T> {
  transaction: PostedTransaction;
  account: T;
  balance: Decimal;
}

/** Adjusts a customer's balance: positive charges it, negative credits it (admin or its partner). */
export async function adjustCustomer(
  db: Db,
  principal: Principal,
  customerId: string,
  request: MoneyRequest,
) {
  return postToCustomer(db, principal, customerId, request, 'adjustment');
}

/** A one-off other charge (always positive: credits go through adjustments). */
export async function chargeCustomer(
  db: Db,
  principal: Principal,
  customerId: string,
  request: MoneyRequest,
) {
  return postToCustomer(db, principal, customerId, request, 'other_charge');
}

async function postToCustomer(
  db: Db,
  principal: Principal,
  customerId: string,
  request: MoneyRequest,
  category: 'adjustment' | 'other_charge',
): Promise<PostedToAccount<Customer>> {
  if (principal.role === 'customer') throw forbidden('A customer key cannot post to its balance');
  checkOverdraft(principal, request);
  const amount = parseNonZeroAmount(request.amount);
  if (category === 'other_charge' && amount.isNegative()) {
    throw invalid('A charge must be positive; credit the customer with a negative adjustment', 'amount');
  }
  const customer = await getCustomer(db, principal, customerId);
  checkCurrency(request.currency, customer.currency);
  const transaction = await postTransaction(db, {
    category,
    description: request.description,
    referenceKey: request.referenceKey ?? null,
    allowOverdraft: request.allowOverdraft ?? false,
    postings: [
      { owner: { kind: 'customer', id: customer.id }, amount: amount.negated(), currency: customer.currency },
      { owner: await counterpartyOf(db, principal, customer, category), amount, currency: customer.currency },
    ],
  });
  return { transaction, account: customer, balance: balanceAfter(transaction, customer.id)! };
}

/**
 * Who takes the other side of an adjustment or charge. The operator's go to its own accounts. A
 * partner's move money between the customer and the partner, within the partner's credit limit:
 * a reseller credits its customer out of its own balance (else it could credit a customer from
 * the operator's adjustments account and take the money back as a fund transfer) and keeps what
 * it charges its customer, as fund transfers do.
 */
async function counterpartyOf(
  db: Db,
  principal: Principal,
  customer: Customer,
  category: 'adjustment' | 'other_charge',
): Promise<AccountOwner> {
  if (principal.role !== 'partner')
    return { kind: 'operator', code: category === 'adjustment' ? 'adjustments' : 'revenue:other' };
  const partner = await getPartner(db, principal, principal.partnerId!);
  if (partner.currency !== customer.currency) {
    throw invalid(
      `The customer's account is in ${customer.currency} and the partner's in ${partner.currency}: a partner posts only to customers in its own currency`,
      'currency',
    );
  }
  return { kind: 'partner', id: partner.id };
}

/** Adjusts a partner's balance (operator only): e.g. a prepayment received is a negative adjustment. */
export async function adjustPartner(
  db: Db,
  principal: Principal,
  partnerId: string,
  request: MoneyRequest,
): Promise<PostedToAccount<Partner>> {
  if (principal.role !== 'admin') throw forbidden('Only the operator adjusts partner balances');
  const amount = parseNonZeroAmount(request.amount);
  const partner = await getPartner(db, principal, partnerId);
  checkCurrency(request.currency, partner.currency);
  const transaction = await postTransaction(db, {
    category: 'adjustment',
    description: request.description,
    referenceKey: request.referenceKey ?? null,
    allowOverdraft: request.allowOverdraft ?? false,
    postings: [
      { owner: { kind: 'partner', id: partner.id }, amount: amount.negated(), currency: partner.currency },
      { owner: { kind: 'operator', code: 'adjustments' }, amount, currency: partner.currency },
    ],
  });
  return { transaction, account: partner, balance: balanceAfter(transaction, partner.id)! };
}
