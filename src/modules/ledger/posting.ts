import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { conflict, DomainError, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import {
  AMOUNT_INTEGER_DIGITS,
  AMOUNT_SCALE,
  Decimal,
  formatAmount,
  isCurrencyCode,
} from '../../money/index.js';
import { enqueueBalanceChanges } from '../webhooks/balance-events.js';
import {
  type AccountOwner,
  type AccountSelector,
  createMissingAccounts,
  type LockedAccount,
  lockAccounts,
  ownerKey,
} from './accounts.js';

/**
 * The one way money moves: postTransaction. Every other module (CDR charging, payments,
 * packages) calls it; nothing else writes a balance. See README.md for the contract.
 */

/** A limit on everything: a transaction is a handful of postings, never a batch job. */
export const MAX_POSTINGS = 100;
const CATEGORY = /^[a-z][a-z_]{0,39}$/;
const MAX_DESCRIPTION = 500;
const MAX_REFERENCE = 255;

export interface PostingInput {
  /** Either the ledger account id, or its owner (the account is created on first use). */
  ledgerAccountId?: string;
  owner?: AccountOwner;
  /** Added to the account's balance: negative debits it, positive credits it. Never zero. */
  amount: Decimal;
  currency: string;
}

export interface TransactionInput {
  /** `payment`, `refund`, `transfer`, `adjustment`, `call_charge`, `other_charge`, … */
  category: string;
  description?: string;
  reference?: string | null;
  /** Unique: posting again with the same key returns the first transaction, never posts twice. */
  referenceKey?: string | null;
  effectiveAt?: Date;
  postings: PostingInput[];
  /** Let balances go below their credit limits (charging calls already made: a debt, not a choice). */
  allowOverdraft?: boolean;
}

export interface PostedPosting {
  id: string;
  ledgerAccountId: string;
  ownerKind: 'customer' | 'partner' | 'operator';
  ownerId: string | null;
  code: string | null;
  amount: Decimal;
  currency: string;
  balanceAfter: Decimal;
}

export interface PostedTransaction {
  id: string;
  category: string;
  description: string;
  reference: string | null;
  referenceKey: string | null;
  effectiveAt: Date;
  allowOverdraft: boolean;
  createdAt: Date;
  /** True when the reference key had already been posted and this is that first transaction. */
  replayed: boolean;
  postings: PostedPosting[];
}

function checkPosting(posting: PostingInput, index: number): void {
  const param = `postings.${index}`;
  if ((posting.ledgerAccountId === undefined) === (posting.owner === undefined)) {
    throw invalid(`${param}: give exactly one of ledgerAccountId and owner`, param);
  }
  if (!isCurrencyCode(posting.currency))
    throw invalid(`'${posting.currency}' is not an ISO 4217 currency code`, 'currency');
  const amount = posting.amount;
  if (!amount.isFinite() || amount.isZero()) throw invalid('amount must be a non-zero decimal', 'amount');
  if (amount.decimalPlaces() > AMOUNT_SCALE) {
    throw invalid(`amount has more than ${AMOUNT_SCALE} decimal places`, 'amount');
  }
  if (amount.abs().trunc().toFixed().length > AMOUNT_INTEGER_DIGITS)
    throw invalid('amount is too large', 'amount');
}

/**
 * Rejects a malformed transaction before touching the database: the shape rules and the
 * double-entry rule (postings sum to zero in each currency).
 */
export function checkTransactionInput(input: TransactionInput): void {
  if (!CATEGORY.test(input.category))
    throw invalid(`category '${input.category}' is not a lower_snake name`, 'category');
  if ((input.description ?? '').length > MAX_DESCRIPTION) {
    throw invalid(`description is longer than ${MAX_DESCRIPTION} characters`, 'description');
  }
  if ((input.reference ?? '').length > MAX_REFERENCE || (input.referenceKey ?? '').length > MAX_REFERENCE) {
    throw invalid(`reference and referenceKey are at most ${MAX_REFERENCE} characters`, 'reference');
  }
  if (input.postings.length < 2 || input.postings.length > MAX_POSTINGS) {
    throw invalid(`a transaction has 2 to ${MAX_POSTINGS} postings`, 'postings');
  }
  input.postings.forEach(checkPosting);
  const sums = new Map<string, Decimal>();
  for (const posting of input.postings) {
    sums.set(posting.currency, (sums.get(posting.currency) ?? new Decimal(0)).plus(posting.amount));
  }
  for (const [currency, sum] of sums) {
    if (!sum.isZero())
      throw invalid(`postings in ${currency} sum to ${formatAmount(sum)}, not 0`, 'postings');
  }
}

function selectorOf(postings: PostingInput[]): AccountSelector {
  return {
    ids: postings.flatMap((posting) => (posting.ledgerAccountId ? [posting.ledgerAccountId] : [])),
    owners: postings.flatMap(({ owner, currency }) => (owner ? [{ owner, currency }] : [])),
  };
}

const targetKey = (posting: PostingInput) =>
  posting.ledgerAccountId ?? ownerKey(posting.owner!, posting.currency);

/** Locks every account the postings touch, creating the missing owner and operator accounts first. */
async function lockTargets(trx: Db, postings: PostingInput[]): Promise<LockedAccount[]> {
  let locked = await lockAccounts(trx, selectorOf(postings));
  const missing = postings.filter((posting) => !locked.has(targetKey(posting)));
  if (missing.length > 0) {
    const unknownId = missing.find((posting) => posting.ledgerAccountId);
    if (unknownId) throw notFound(`Ledger account ${unknownId.ledgerAccountId}`);
    await createMissingAccounts(trx, selectorOf(missing).owners);
    locked = await lockAccounts(trx, selectorOf(postings));
  }
  return postings.map((posting) => {
    const account = locked.get(targetKey(posting));
    if (!account) throw new Error(`ledger account for ${targetKey(posting)} vanished while locked`);
    if (account.currency !== posting.currency) {
      throw invalid(
        `The account is in ${account.currency}; cannot post ${posting.currency} to it`,
        'currency',
      );
    }
    return account;
  });
}

function describeAccount(account: LockedAccount): string {
  return account.owner_kind === 'operator'
    ? `operator account ${account.code}`
    : `${account.owner_kind} ${account.owner_id}`;
}

interface AppliedPosting {
  id: string;
  account: LockedAccount;
  amount: Decimal;
  balanceAfter: Decimal;
}

/**
 * Applies the postings in order to the locked balances. A debit that would leave a customer's
 * or partner's balance below its credit limit is refused unless overdraft is allowed; credits
 * always pass (they can only bring a balance back towards its limit).
 */
export function applyPostings(accounts: LockedAccount[], input: TransactionInput): AppliedPosting[] {
  const running = new Map<string, Decimal>();
  return input.postings.map((posting, index) => {
    const account = accounts[index]!;
    const before = running.get(account.id) ?? account.balance;
    const after = before.plus(posting.amount);
    const limit = account.creditLimit;
    if (posting.amount.isNegative() && limit !== null && after.lessThan(limit) && !input.allowOverdraft) {
      throw new DomainError(
        'insufficient_funds',
        `Insufficient funds: the balance of ${describeAccount(account)} would go from ${formatAmount(before)} ` +
          `to ${formatAmount(after)}, below its credit limit ${formatAmount(limit)}`,
        'amount',
      );
    }
    running.set(account.id, after);
    return { id: newId('ledgerPosting'), account, amount: posting.amount, balanceAfter: after };
  });
}

/** Reads back a posted transaction, e.g. the first one posted under a reference key. */
export async function loadTransaction(db: Db, where: { id: string } | { referenceKey: string }) {
  let query = db.selectFrom('ledger_transactions').selectAll();
  query =
    'id' in where ? query.where('id', '=', where.id) : query.where('reference_key', '=', where.referenceKey);
  const transaction = await query.executeTakeFirst();
  if (!transaction) return null;
  const postings = await db
    .selectFrom('ledger_postings as lp')
    .innerJoin('ledger_accounts as la', 'la.id', 'lp.account_id')
    .select([
      'lp.id',
      'lp.account_id',
      'lp.amount',
      'lp.currency',
      'lp.balance_after',
      'la.owner_kind',
      'la.owner_id',
      'la.code',
    ])
    .where('lp.transaction_id', '=', transaction.id)
    .orderBy('lp.seq')
    .execute();
  return {
    id: transaction.id,
    category: transaction.category,
    description: transaction.description,
    reference: transaction.reference,
    referenceKey: transaction.reference_key,
    effectiveAt: transaction.effective_at,
    allowOverdraft: transaction.allow_overdraft,
    createdAt: transaction.created_at,
    replayed: false,
    postings: postings.map((row) => ({
      id: row.id,
      ledgerAccountId: row.account_id,
      ownerKind: row.owner_kind,
      ownerId: row.owner_id,
      code: row.code,
      amount: new Decimal(row.amount),
      currency: row.currency,
      balanceAfter: new Decimal(row.balance_after),
    })),
  } satisfies PostedTransaction;
}

async function replayOf(trx: Db, referenceKey: string): Promise<PostedTransaction | null> {
  const original = await loadTransaction(trx, { referenceKey });
  return original ? { ...original, replayed: true } : null;
}

/**
 * Writes the transaction, its postings and the new balances in one statement (data-modifying
 * CTEs): one round trip on the hot path. The postings and balance updates hang off the
 * transaction insert, so when a concurrent twin already took the reference key, nothing is written.
 */
async function writeTransaction(
  trx: Db,
  id: string,
  input: TransactionInput,
  effectiveAt: Date,
  applied: AppliedPosting[],
) {
  const finalBalances = new Map(applied.map((posting) => [posting.account.id, posting.balanceAfter]));
  const postingRows = applied.map(
    (posting) =>
      sql`(${posting.id}, ${posting.account.id}, ${formatAmount(posting.amount)}::numeric, ${posting.account.currency}, ${formatAmount(posting.balanceAfter)}::numeric, ${posting.account.creditLimit ? formatAmount(posting.account.creditLimit) : null}::numeric)`,
  );
  const balanceRows = [...finalBalances].map(
    ([accountId, balance]) => sql`(${accountId}, ${formatAmount(balance)}::numeric)`,
  );
  const result = await sql<{ created_at: Date }>`
    with t as (
      insert into ledger_transactions (id, category, description, reference, reference_key, effective_at, allow_overdraft)
      values (${id}, ${input.category}, ${input.description ?? ''}, ${input.reference ?? null}, ${input.referenceKey ?? null},
              ${effectiveAt}::timestamptz, ${input.allowOverdraft ?? false})
      on conflict (reference_key) do nothing
      returning id, created_at
    ), p as (
      insert into ledger_postings (id, transaction_id, account_id, amount, currency, balance_after, credit_limit, category, effective_at)
      select v.id, t.id, v.account_id, v.amount, v.currency, v.balance_after, v.credit_limit, ${input.category}::text,
             ${effectiveAt}::timestamptz
      from t, (values ${sql.join(postingRows)}) as v(id, account_id, amount, currency, balance_after, credit_limit)
    ), u as (
      update ledger_accounts la set balance = v.balance
      from t, (values ${sql.join(balanceRows)}) as v(id, balance)
      where la.id = v.id
    )
    select created_at from t`.execute(trx);
  return result.rows[0]?.created_at ?? null;
}

async function postLocked(trx: Db, input: TransactionInput): Promise<PostedTransaction> {
  const accounts = await lockTargets(trx, input.postings);
  // Checked under the locks: a concurrent twin with the same key has committed by now.
  if (input.referenceKey) {
    const replay = await replayOf(trx, input.referenceKey);
    if (replay) return replay;
  }
  const applied = applyPostings(accounts, input);
  const id = newId('ledgerTransaction');
  const effectiveAt = input.effectiveAt ?? new Date();
  const createdAt = await writeTransaction(trx, id, input, effectiveAt, applied);
  if (!createdAt) {
    // A twin with the same key on other accounts committed meanwhile: that one stands.
    const twin = await replayOf(trx, input.referenceKey!);
    if (twin) return twin;
    throw conflict(
      `reference key '${input.referenceKey}' is being posted by another transaction`,
      'reference_key',
    );
  }
  const posted: PostedTransaction = {
    id,
    category: input.category,
    description: input.description ?? '',
    reference: input.reference ?? null,
    referenceKey: input.referenceKey ?? null,
    effectiveAt,
    allowOverdraft: input.allowOverdraft ?? false,
    createdAt,
    replayed: false,
    postings: applied.map((posting) => ({
      id: posting.id,
      ledgerAccountId: posting.account.id,
      ownerKind: posting.account.owner_kind,
      ownerId: posting.account.owner_id,
      code: posting.account.code,
      amount: posting.amount,
      currency: posting.account.currency,
      balanceAfter: posting.balanceAfter,
    })),
  };
  // balance.changed events, in this transaction: they exist exactly when the posting commits.
  await enqueueBalanceChanges(trx, posted);
  return posted;
}

/**
 * Posts a balanced transaction: validates it, locks the balances it touches (in id order),
 * returns the original when the reference key was already posted, checks credit limits,
 * appends the postings and updates the stored balances. Runs inside the caller's transaction
 * when given one (so a payment and its posting commit together), otherwise in its own.
 * Throws DomainError 'invalid' (bad input), 'not_found' (unknown owner or account) or
 * 'insufficient_funds' (a credit limit would be broken).
 */
export async function postTransaction(db: Db, input: TransactionInput): Promise<PostedTransaction> {
  checkTransactionInput(input);
  if (db.isTransaction) return postLocked(db, input);
  return db.transaction().execute((trx) => postLocked(trx, input));
}

/** The balance an owner's account had after this transaction (undefined when it was not touched). */
export function balanceAfter(transaction: PostedTransaction, ownerId: string): Decimal | undefined {
  return transaction.postings.findLast((posting) => posting.ownerId === ownerId)?.balanceAfter;
}
