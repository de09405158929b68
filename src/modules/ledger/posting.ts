import { type RawBuilder, sql } from 'kysely';
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
import { webhookEventsWanted } from '../webhooks/events.js';
import type { AccountOwner } from './accounts.js';
import { publishBalanceChanges } from './balance-changes.js';

/**
 * The one way money moves: postTransaction. Every other module (CDR charging, payments,
 * packages) calls it; nothing else writes a balance. See README.md for the contract.
 */

/**
 * Enough for the largest regular transaction: a CDR batch of the default 10,000 CDRs charges up
 * to 10,000 customers, one posting each, balanced by one revenue posting (decision 0042).
 * ledger_post() matches postings to accounts with a hash join (migration 0024), so its cost grows
 * with the postings, not with postings × accounts.
 */
export const MAX_POSTINGS = 10_001;
const CATEGORY = /^[a-z][a-z_]{0,39}$/;
const MAX_DESCRIPTION = 500;
/** The longest reference or reference key a transaction takes. */
export const MAX_REFERENCE = 255;

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
  /** Default: when the transaction is applied, under its balance locks (docs/ledger.md, "Dates"). */
  effectiveAt?: Date;
  postings: PostingInput[];
  /** Let balances go below their credit limits (charging calls already made: a debt, not a choice). */
  allowOverdraft?: boolean;
  /**
   * The transaction records what already happened (a completed call, money already moved at a
   * payment gateway): it posts to a closed account too, in either direction. Without it a
   * closed account's balance can only be settled, brought toward zero without crossing it
   * (docs/ledger.md, "Closed accounts"; refused with 'conflict').
   */
  recordsPastEvent?: boolean;
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

export interface PostedTransaction extends Omit<PostingHeader, 'effectiveAt'> {
  effectiveAt: Date;
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
  checkTransactionHeader(input);
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

/** The rules on everything but the postings (also for statements that build their postings in SQL). */
export function checkTransactionHeader(
  input: Pick<TransactionInput, 'category' | 'description' | 'reference' | 'referenceKey'>,
): void {
  if (!CATEGORY.test(input.category))
    throw invalid(`category '${input.category}' is not a lower_snake name`, 'category');
  if ((input.description ?? '').length > MAX_DESCRIPTION) {
    throw invalid(`description is longer than ${MAX_DESCRIPTION} characters`, 'description');
  }
  if ((input.reference ?? '').length > MAX_REFERENCE || (input.referenceKey ?? '').length > MAX_REFERENCE) {
    throw invalid(`reference and referenceKey are at most ${MAX_REFERENCE} characters`, 'reference');
  }
}

const OPERATOR_CODE = /^(revenue:calls|revenue:other|adjustments|transfers|clearing:[a-z0-9_-]{1,40})$/;

/** One posting as ledger_post() takes it (migrations/0011_ledger_post_function.sql, body now 0024). */
function postingArgument(posting: PostingInput) {
  const common = {
    id: newId('ledgerPosting'),
    amount: formatAmount(posting.amount),
    currency: posting.currency,
  };
  if (posting.ledgerAccountId) return { ...common, account_id: posting.ledgerAccountId };
  const owner = posting.owner!;
  const newAccountId = newId('ledgerAccount');
  if (owner.kind === 'operator') {
    if (!OPERATOR_CODE.test(owner.code)) throw new Error(`unknown operator account code '${owner.code}'`);
    return { ...common, owner_kind: 'operator', code: owner.code, new_account_id: newAccountId };
  }
  return { ...common, owner_kind: owner.kind, owner_id: owner.id, new_account_id: newAccountId };
}

/** The rows ledger_post() answers (migrations/0011_ledger_post_function.sql, body now 0024). */
export interface PostedRow {
  replayed: boolean;
  transaction_id: string;
  created_at: Date | null;
  posting_id: string | null;
  account_id: string | null;
  owner_kind: 'customer' | 'partner' | 'operator' | null;
  owner_id: string | null;
  code: string | null;
  currency: string | null;
  amount: string | null;
  balance_after: string | null;
}

function describeAccount(facts: { owner_kind: string; owner_id: string | null; code: string | null }) {
  return facts.owner_kind === 'operator'
    ? `operator account ${facts.code}`
    : `${facts.owner_kind} ${facts.owner_id}`;
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

/** ledger_post()'s refusals (SQLSTATE TGnnn, facts as JSON in DETAIL) as the domain errors they are. */
export function refusalOf(error: unknown): DomainError | null {
  const { code, detail } = (error ?? {}) as { code?: string; detail?: string };
  if (typeof code !== 'string' || !code.startsWith('TG') || !detail) return null;
  const facts = JSON.parse(detail);
  switch (code) {
    case 'TG402':
      return new DomainError(
        'insufficient_funds',
        `Insufficient funds: the balance of ${describeAccount(facts)} would go from ${formatAmount(facts.before)} ` +
          `to ${formatAmount(facts.after)}, below its credit limit ${formatAmount(facts.credit_limit)}`,
        'amount',
      );
    case 'TG404':
      if (facts.what === 'customer')
        return notFound(`Customer with account_number '${facts.account_number}'`);
      return notFound(facts.what === 'Ledger account' ? `Ledger account ${facts.id}` : facts.what);
    case 'TG400':
      if (facts.reason === 'no_partner')
        return invalid('This customer has no partner to move funds from or to', 'account_number');
      if (facts.reason === 'currency')
        return invalid(
          `The account is in ${facts.account_currency}; currency '${facts.currency}' does not match`,
          'currency',
        );
      return invalid(
        facts.owner_kind === 'operator'
          ? `The account is in ${facts.account_currency}; cannot post ${facts.currency} to it`
          : `The ${facts.owner_kind}'s account is in ${facts.account_currency}; cannot post ${facts.currency} to it`,
        'currency',
      );
    case 'TGC09':
      return closedAccount(facts);
    case 'TG409':
      return conflict(
        `reference key '${facts.reference_key}' is being posted by another transaction`,
        'reference_key',
      );
    default:
      return null;
  }
}

/**
 * The rule on a closed customer's or partner's balance (docs/ledger.md, "Closed accounts"): a
 * movement settles it when it brings the balance toward zero without crossing it. ledger_post()
 * and the transfer batch check it in SQL (migrations 0034, 0035); payments check it before a
 * gateway is asked (the ledger then records what the gateway did, whatever the status).
 */
export function settlesBalance(before: Decimal, delta: Decimal): boolean {
  const after = before.plus(delta);
  // Comparisons, not isPositive()/isNegative(): decimal.js counts 0 as positive (+0).
  return (before.lt(0) && delta.gt(0) && after.lte(0)) || (before.gt(0) && delta.lt(0) && after.gte(0));
}

/** A movement on a closed account that does not settle it: the same sentence on every path. */
export function closedAccount(facts: {
  owner_kind: string;
  owner_id: string;
  before: string;
  after: string;
}) {
  const account = describeAccount({ ...facts, code: null });
  const before = formatAmount(facts.before);
  const rule =
    before === '0'
      ? 'its balance is 0, so nothing more can be posted to it'
      : `only a movement that settles its balance (brings it toward 0, not past it) can be posted, and this one would take it from ${before} to ${formatAmount(facts.after)}`;
  return conflict(`The ${account} is closed: ${rule}`, 'amount');
}

/** What a posting statement posts, besides the postings; the ids are generated here. */
export interface PostingHeader {
  id: string;
  category: string;
  description: string;
  reference: string | null;
  referenceKey: string | null;
  /** Null: dated by the posting statement when it applies it (migrations 0036, 0037). */
  effectiveAt: Date | null;
  allowOverdraft: boolean;
}

export function postingHeader(input: Omit<TransactionInput, 'postings'>): PostingHeader {
  return {
    id: newId('ledgerTransaction'),
    category: input.category,
    description: input.description ?? '',
    reference: input.reference ?? null,
    referenceKey: input.referenceKey ?? null,
    effectiveAt: input.effectiveAt ?? null,
    allowOverdraft: input.allowOverdraft ?? false,
  };
}

export interface Posted<Row extends PostedRow> {
  posted: PostedTransaction;
  /** The statement's rows (empty for a replay's postings: those are read back from the journal). */
  rows: Row[];
}

/**
 * One round trip: the statement (ledger_post(), or one built on it like ledger_transfer_funds())
 * locks, dedupes, checks limits and writes. Outside a transaction it is atomic by itself (no
 * BEGIN/COMMIT round trips).
 */
async function runPostingStatement<Row extends PostedRow>(
  db: Db,
  header: PostingHeader,
  statement: RawBuilder<Row>,
): Promise<Posted<Row>> {
  let rows: Row[];
  try {
    rows = (await statement.execute(db)).rows;
  } catch (error) {
    throw refusalOf(error) ?? error;
  }
  const first = rows[0]!;
  if (first.replayed) {
    const original = await loadTransaction(db, { id: first.transaction_id });
    if (!original) throw new Error(`ledger transaction ${first.transaction_id} vanished`);
    return { posted: { ...original, replayed: true }, rows };
  }
  const posted: PostedTransaction = {
    ...header,
    // Without a date of its own it is dated when applied: ledger_post() answers that as created_at.
    effectiveAt: header.effectiveAt ?? first.created_at!,
    createdAt: first.created_at!,
    replayed: false,
    postings: rows.map((row) => ({
      id: row.posting_id!,
      ledgerAccountId: row.account_id!,
      ownerKind: row.owner_kind!,
      ownerId: row.owner_id,
      code: row.code,
      amount: new Decimal(row.amount!),
      currency: row.currency!,
      balanceAfter: new Decimal(row.balance_after!),
    })),
  };
  return { posted, rows };
}

async function postAndEnqueue<Row extends PostedRow>(
  trx: Db,
  header: PostingHeader,
  statement: RawBuilder<Row>,
): Promise<Posted<Row>> {
  const result = await runPostingStatement(trx, header, statement);
  // balance.changed events, in this transaction: they exist exactly when the posting commits.
  if (!result.posted.replayed) await enqueueBalanceChanges(trx, result.posted);
  return result;
}

/**
 * In the caller's transaction, a refusal raised by ledger_post() would abort the whole transaction
 * (and a caller that caught it and committed would silently roll back its own writes), so the call
 * gets a savepoint: a refusal undoes only the posting, as when the checks ran in TypeScript.
 */
async function postInCallerTransaction<Row extends PostedRow>(
  trx: Db,
  header: PostingHeader,
  statement: RawBuilder<Row>,
): Promise<Posted<Row>> {
  await sql`savepoint ledger_post`.execute(trx);
  let result: Posted<Row>;
  try {
    result = await postAndEnqueue(trx, header, statement);
  } catch (error) {
    await sql`rollback to savepoint ledger_post`.execute(trx);
    throw error;
  }
  await sql`release savepoint ledger_post`.execute(trx);
  return result;
}

/**
 * Runs a statement built on ledger_post() the way postTransaction posts: inside the caller's
 * transaction when given one, otherwise as one autocommitted statement when no webhook endpoint
 * can want a balance.changed event, or in a transaction with the outbox insert when one may.
 * The header is what the statement posts besides the postings (its ids included).
 */
export async function postWithStatement<Row extends PostedRow>(
  db: Db,
  header: PostingHeader,
  statement: RawBuilder<Row>,
): Promise<Posted<Row>> {
  let result: Posted<Row>;
  if (db.isTransaction) result = await postInCallerTransaction(db, header, statement);
  else if (!webhookEventsWanted(db)) result = await runPostingStatement(db, header, statement);
  else result = await db.transaction().execute((trx) => postAndEnqueue(trx, header, statement));
  // In-memory read models of balances (CustomerCache) drop them once this commits: balance-changes.ts.
  await publishBalanceChanges(db, result.posted);
  return result;
}

/**
 * Posts a balanced transaction: validates it, locks the balances it touches (in id order),
 * returns the original when the reference key was already posted, checks credit limits,
 * appends the postings and updates the stored balances, all in ledger_post() (one round trip).
 * Runs inside the caller's transaction when given one (so a payment and its posting commit
 * together), otherwise on its own (see postWithStatement).
 * Throws DomainError 'invalid' (bad input), 'not_found' (unknown owner or account) or
 * 'insufficient_funds' (a credit limit would be broken).
 */
export async function postTransaction(db: Db, input: TransactionInput): Promise<PostedTransaction> {
  checkTransactionInput(input);
  const header = postingHeader(input);
  const postings = JSON.stringify(input.postings.map(postingArgument));
  const statement = sql<PostedRow>`select * from ledger_post(${header.id}, ${header.category},
    ${header.description}, ${header.reference}, ${header.referenceKey}, ${header.effectiveAt}::timestamptz,
    ${header.allowOverdraft}, ${postings}::jsonb, ${input.recordsPastEvent ?? false})`;
  const { posted } = await postWithStatement(db, header, statement);
  if (posted.replayed) checkSameEffect(input, posted);
  return posted;
}

/**
 * A replay answers a retry of the same request. The reference key outlives the stored HTTP
 * answer (an Idempotency-Key reused after IDEMPOTENCY_TTL_HOURS, or after housekeeping purged
 * it), so the key alone does not prove the request is the same: its postings must be too, or
 * the caller would be told of a transaction it did not ask for as if it were its own.
 */
function checkSameEffect(input: TransactionInput, posted: PostedTransaction): void {
  const unmatched = [...posted.postings];
  const same =
    posted.category === input.category &&
    input.postings.length === unmatched.length &&
    input.postings.every((wanted) => {
      const at = unmatched.findIndex(
        (posting) =>
          sameAccount(wanted, posting) &&
          posting.amount.eq(wanted.amount) &&
          posting.currency === wanted.currency,
      );
      return at !== -1 && unmatched.splice(at, 1).length === 1;
    });
  if (!same) throw referenceReused(input.referenceKey ?? '');
}

function sameAccount(wanted: PostingInput, posting: PostedPosting): boolean {
  if (wanted.ledgerAccountId) return wanted.ledgerAccountId === posting.ledgerAccountId;
  const owner = wanted.owner!;
  if (owner.kind === 'operator') return posting.ownerKind === 'operator' && posting.code === owner.code;
  return posting.ownerKind === owner.kind && posting.ownerId === owner.id;
}

/** Reference keys made from an Idempotency-Key start with `http:` (ledger/routes.ts). */
export function referenceReused(referenceKey: string): DomainError {
  return referenceKey.startsWith('http:')
    ? new DomainError(
        'reference_reused',
        'Idempotency-Key was already used for a different request (its money movement is kept for good, beyond the stored answer)',
        'Idempotency-Key',
      )
    : new DomainError(
        'reference_reused',
        `reference key '${referenceKey}' already names a different ledger transaction`,
      );
}

/** The balance an owner's account had after this transaction (undefined when it was not touched). */
export function balanceAfter(transaction: PostedTransaction, ownerId: string): Decimal | undefined {
  return transaction.postings.findLast((posting) => posting.ownerId === ownerId)?.balanceAfter;
}
