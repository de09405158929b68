import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { absoluteUrl } from '../../http/envelope.js';
import {
  CurrencyCode,
  DecimalString,
  Links,
  Nullable,
  PageQuery,
  PatternString,
  Timestamp,
} from '../../http/schemas.js';
import { type Decimal, formatAmount } from '../../money/index.js';
import type { Period } from '../../period.js';
import type { LedgerEntry } from './entries.js';
import type { PostedTransaction } from './posting.js';
import type { Statement } from './statements.js';

/** How the ledger looks on the wire: request and response schemas, and presenters. */

const Description = Type.String({ minLength: 1, maxLength: 500 });
const PeriodBound = (what: string) =>
  Type.String({ maxLength: 40, description: `${what}: YYYY-MM-DD (whole UTC day) or an ISO 8601 timestamp` });
const AccountNumber = Type.String({ minLength: 1, maxLength: 32 });

export const MoneyBody = Type.Object(
  {
    amount: DecimalString('Signed exact amount; never zero'),
    description: Description,
    currency: Type.Optional(CurrencyCode),
    allow_overdraft: Type.Optional(
      Type.Boolean({ description: 'Operator only: let the balance go below its credit limit' }),
    ),
  },
  { additionalProperties: false },
);

export const FundsBody = Type.Object(
  {
    account_number: AccountNumber,
    amount: DecimalString('Positive: partner → customer; negative: customer → partner'),
    description: Description,
    currency: Type.Optional(CurrencyCode),
  },
  { additionalProperties: false },
);

export const BalanceQuery = Type.Object(
  {
    account_number: Type.Optional(AccountNumber),
    from: Type.Optional(PeriodBound('Start of the period (inclusive)')),
    to: Type.Optional(PeriodBound('End of the period: a date is inclusive, a timestamp exclusive')),
  },
  { additionalProperties: false },
);

export const EntriesQuery = Type.Object(
  {
    ...PageQuery('lpo'),
    category: Type.Optional(
      PatternString(
        '^[a-z][a-z_]{0,39}$',
        'must be a category: lower-case letters and _, such as call_charge',
      ),
    ),
    from: Type.Optional(PeriodBound('Start of the period (inclusive)')),
    to: Type.Optional(PeriodBound('End of the period: a date is inclusive, a timestamp exclusive')),
  },
  { additionalProperties: false },
);
export const CsvQuery = Type.Object(
  {
    category: EntriesQuery.properties.category,
    from: EntriesQuery.properties.from,
    to: EntriesQuery.properties.to,
  },
  { additionalProperties: false },
);

const Amount = DecimalString();

export const StatementSchema = Type.Object({
  object: Type.Literal('balance_statement'),
  account_number: Type.String(),
  currency: Type.String(),
  credit_limit: Amount,
  opening_balance: Amount,
  payments: Amount,
  adjustments: Amount,
  call_charges: Amount,
  other_charges: Amount,
  total_charges: Amount,
  closing_balance: Amount,
  from: Nullable(Timestamp),
  to: Timestamp,
});

export const FundsResultSchema = Type.Object({
  customer_balance: Amount,
  customer_credit_limit: Amount,
  partner_balance: Amount,
  currency: Type.String(),
  transaction_id: Type.String(),
});

const PostingSchema = Type.Object({
  id: Type.String(),
  ledger_account_id: Type.String(),
  owner_kind: Type.String(),
  owner_id: Nullable(Type.String()),
  code: Nullable(Type.String()),
  amount: Amount,
  currency: Type.String(),
  balance_after: Amount,
});

export const TransactionSchema = Type.Object({
  object: Type.Literal('ledger_transaction'),
  id: Type.String(),
  category: Type.String(),
  description: Type.String(),
  reference: Nullable(Type.String()),
  effective_at: Timestamp,
  created_at: Timestamp,
  balance: DecimalString('The account’s balance right after this transaction'),
  credit_limit: Amount,
  available: DecimalString('balance − credit_limit'),
  postings: Type.Array(PostingSchema),
  links: Links,
});

export const EntrySchema = Type.Object({
  object: Type.Literal('ledger_entry'),
  id: Type.String(),
  transaction_id: Type.String(),
  category: Type.String(),
  description: Type.String(),
  reference: Nullable(Type.String()),
  amount: Amount,
  currency: Type.String(),
  balance_after: Amount,
  effective_at: Timestamp,
  created_at: Timestamp,
});

export function presentStatement(
  account: { account_number: string; currency: string; credit_limit: string },
  period: Period,
  statement: Statement,
) {
  return {
    object: 'balance_statement' as const,
    account_number: account.account_number,
    currency: account.currency,
    credit_limit: formatAmount(account.credit_limit),
    opening_balance: formatAmount(statement.openingBalance),
    payments: formatAmount(statement.payments),
    adjustments: formatAmount(statement.adjustments),
    call_charges: formatAmount(statement.callCharges),
    other_charges: formatAmount(statement.otherCharges),
    total_charges: formatAmount(statement.totalCharges),
    closing_balance: formatAmount(statement.closingBalance),
    from: period.from ? period.from.toISOString() : null,
    to: period.to.toISOString(),
  };
}

export function presentTransaction(
  request: FastifyRequest,
  transaction: PostedTransaction,
  account: { balance: Decimal; creditLimit: string; transactionsPath: string },
) {
  return {
    object: 'ledger_transaction' as const,
    id: transaction.id,
    category: transaction.category,
    description: transaction.description,
    reference: transaction.reference,
    effective_at: transaction.effectiveAt.toISOString(),
    created_at: transaction.createdAt.toISOString(),
    balance: formatAmount(account.balance),
    credit_limit: formatAmount(account.creditLimit),
    available: formatAmount(account.balance.minus(account.creditLimit)),
    postings: transaction.postings.map((posting) => ({
      id: posting.id,
      ledger_account_id: posting.ledgerAccountId,
      owner_kind: posting.ownerKind,
      owner_id: posting.ownerId,
      code: posting.code,
      amount: formatAmount(posting.amount),
      currency: posting.currency,
      balance_after: formatAmount(posting.balanceAfter),
    })),
    links: {
      self: absoluteUrl(request, request.url),
      transactions: absoluteUrl(request, account.transactionsPath),
    },
  };
}

export function presentEntry(entry: LedgerEntry) {
  return {
    object: 'ledger_entry' as const,
    id: entry.id,
    transaction_id: entry.transaction_id,
    category: entry.category,
    description: entry.description,
    reference: entry.reference,
    amount: formatAmount(entry.amount),
    currency: entry.currency,
    balance_after: formatAmount(entry.balance_after),
    effective_at: entry.effective_at.toISOString(),
    created_at: entry.created_at.toISOString(),
  };
}

export const CSV_COLUMNS = [
  'id',
  'transaction_id',
  'effective_at',
  'category',
  'description',
  'reference',
  'amount',
  'currency',
  'balance_after',
] as const;
