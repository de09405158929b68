import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { stringify } from 'csv-stringify/sync';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import type { Db } from '../../db/index.js';
import { principalOf } from '../../http/auth.js';
import { ok, okList, toPage } from '../../http/envelope.js';
import { ANSWERED_FROM_KEY } from '../../http/idempotency.js';
import { Envelope, IdParams, ListEnvelope } from '../../http/schemas.js';
import { formatAmount } from '../../money/index.js';
import type { Principal, Role } from '../../tenancy.js';
import { getCustomer } from '../accounts/customers.js';
import { getPartner } from '../accounts/partners.js';
import { type EntryFilter, exportEntries, type LedgerEntry, listEntries } from './entries.js';
import './guards.js';
import { parsePeriod } from '../../period.js';
import {
  adjustCustomer,
  adjustPartner,
  chargeCustomer,
  type PostedToAccount,
  transferFunds,
} from './operations.js';
import { MAX_REFERENCE } from './posting.js';
import {
  BalanceQuery,
  CSV_COLUMNS,
  CsvQuery,
  EntriesQuery,
  EntrySchema,
  FundsBody,
  FundsResultSchema,
  MoneyBody,
  presentEntry,
  presentStatement,
  presentTransaction,
  StatementSchema,
  TransactionSchema,
} from './representations.js';
import { customerStatement, partnerStatement } from './statements.js';

export interface LedgerRoutesOptions {
  db: Db;
}

/**
 * The Idempotency-Key becomes the ledger reference key, so a retry after a crash between the
 * ledger commit and the stored HTTP answer still finds the transaction instead of posting twice.
 * Also for a request whose key its effect claims (claimsWithEffect: the pending claim).
 */
function referenceKeyOf(request: FastifyRequest): string | null {
  const claim = request.idempotency ?? request.pendingClaim;
  if (!claim) return null;
  const reference = `http:${claim.scope}:${claim.key}`;
  // An Idempotency-Key may be 255 characters, and the scope takes up to 36 more than a reference
  // key may hold: a long one is named by its digest (the same key always gives the same one).
  return reference.length <= MAX_REFERENCE
    ? reference
    : `http:${claim.scope}:sha256:${createHash('sha256').update(claim.key).digest('hex')}`;
}

function moneyRequest(request: FastifyRequest, body: Static<typeof MoneyBody>) {
  const { amount, description, currency, allow_overdraft } = body;
  return {
    amount,
    description,
    currency,
    allowOverdraft: allow_overdraft,
    referenceKey: referenceKeyOf(request),
  };
}

function presentPosted(
  request: FastifyRequest,
  posted: PostedToAccount<{ id: string; credit_limit: string }>,
  path: string,
) {
  return presentTransaction(request, posted.transaction, {
    balance: posted.balance,
    creditLimit: posted.account.credit_limit,
    transactionsPath: `${path}/${posted.account.id}/transactions`,
  });
}

async function* csvChunks(batches: AsyncGenerator<LedgerEntry[]>): AsyncGenerator<string> {
  yield stringify([CSV_COLUMNS]);
  for await (const batch of batches) {
    yield stringify(batch.map((entry) => CSV_COLUMNS.map((column) => presentEntry(entry)[column] ?? '')));
  }
}

function sendCsv(reply: FastifyReply, filename: string, batches: AsyncGenerator<LedgerEntry[]>) {
  reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`);
  return reply.send(Readable.from(csvChunks(batches)));
}

const entryFilter = (query: { category?: string; from?: string; to?: string }): EntryFilter => ({
  category: query.category,
  period: parsePeriod(query.from, query.to),
});

const Csv = Type.String({ description: 'CSV: one line per ledger entry, with a header line' });
const Created = (schema: typeof TransactionSchema) => ({ 201: Envelope(schema) });

export const ledgerRoutes: FastifyPluginAsyncTypebox<LedgerRoutesOptions> = async (app, { db }) => {
  const tags = ['Ledger'];

  app.get('/customer/balance', {
    schema: {
      tags,
      summary:
        'A customer’s balance statement for a period (seed 002); a customer key may omit account_number',
      querystring: BalanceQuery,
      response: { 200: Envelope(StatementSchema) },
    },
    handler: async (request) => {
      const { account_number, from, to } = request.query;
      const result = await customerStatement(db, principalOf(request), {
        accountNumber: account_number,
        from,
        to,
      });
      return ok(request, presentStatement(result.account, result.period, result.statement));
    },
  });

  app.get('/partner/balance', {
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'A partner’s balance statement for a period; the operator passes account_number',
      querystring: BalanceQuery,
      response: { 200: Envelope(StatementSchema) },
    },
    handler: async (request) => {
      const { account_number, from, to } = request.query;
      const result = await partnerStatement(db, principalOf(request), {
        accountNumber: account_number,
        from,
        to,
      });
      return ok(request, presentStatement(result.account, result.period, result.statement));
    },
  });

  app.put('/partner/funds', {
    config: { roles: ['admin', 'partner'], dedupesOwnEffect: true, claimsWithEffect: true },
    schema: {
      tags,
      summary:
        'Move funds from the partner to its customer (negative amount: back to the partner); 402 when a limit would break, 409 when a closed side would not be settled by it',
      body: FundsBody,
      response: { 200: Envelope(FundsResultSchema) },
    },
    handler: async (request, reply) => {
      const { account_number, amount, description, currency } = request.body;
      const principal = principalOf(request);
      // The Idempotency-Key claim travels in the transfer's own batch statement (decision 0025).
      const result = await app.idempotentEffect(request, reply, (claim) =>
        transferFunds(
          db,
          principal,
          {
            accountNumber: account_number,
            amount,
            description,
            currency,
            referenceKey: referenceKeyOf(request),
          },
          claim,
        ),
      );
      if (result === ANSWERED_FROM_KEY) return reply;
      return ok(request, {
        customer_balance: formatAmount(result.customerBalance),
        customer_credit_limit: formatAmount(result.customerCreditLimit),
        partner_balance: formatAmount(result.partnerBalance),
        currency: result.currency,
        transaction_id: result.transaction.id,
      });
    },
  });

  app.post('/customers/:id/adjustments', {
    config: { roles: ['admin', 'partner'], dedupesOwnEffect: true },
    schema: {
      tags,
      summary: 'Adjust a customer’s balance: a positive amount is a charge, a negative one a credit',
      params: IdParams('cus'),
      body: MoneyBody,
      response: Created(TransactionSchema),
    },
    handler: async (request, reply) => {
      const posted = await adjustCustomer(
        db,
        principalOf(request),
        request.params.id,
        moneyRequest(request, request.body),
      );
      reply.code(201);
      return ok(request, presentPosted(request, posted, '/api/v1/customers'), {}, 201);
    },
  });

  app.post('/customers/:id/charges', {
    config: { roles: ['admin', 'partner'], dedupesOwnEffect: true },
    schema: {
      tags,
      summary: 'Post a one-off other charge (positive amount) to a customer',
      params: IdParams('cus'),
      body: MoneyBody,
      response: Created(TransactionSchema),
    },
    handler: async (request, reply) => {
      const posted = await chargeCustomer(
        db,
        principalOf(request),
        request.params.id,
        moneyRequest(request, request.body),
      );
      reply.code(201);
      return ok(request, presentPosted(request, posted, '/api/v1/customers'), {}, 201);
    },
  });

  app.post('/partners/:id/adjustments', {
    config: { roles: ['admin'], dedupesOwnEffect: true },
    schema: {
      tags,
      summary:
        'Adjust a partner’s balance: positive charges it, negative credits it (e.g. a prepayment received)',
      params: IdParams('par'),
      body: MoneyBody,
      response: Created(TransactionSchema),
    },
    handler: async (request, reply) => {
      const posted = await adjustPartner(
        db,
        principalOf(request),
        request.params.id,
        moneyRequest(request, request.body),
      );
      reply.code(201);
      return ok(request, presentPosted(request, posted, '/api/v1/partners'), {}, 201);
    },
  });

  // The journal of a balance reads the same for customers and partners; only the owner differs.
  interface BalanceOwner {
    path: string;
    prefix: string;
    noun: string;
    roles: Role[];
    find(db: Db, principal: Principal, id: string): Promise<{ id: string; account_number: string }>;
  }
  const owners: BalanceOwner[] = [
    {
      path: 'customers',
      prefix: 'cus',
      noun: 'customer',
      roles: ['admin', 'partner', 'customer'],
      find: getCustomer,
    },
    { path: 'partners', prefix: 'par', noun: 'partner', roles: ['admin', 'partner'], find: getPartner },
  ];
  for (const owner of owners) {
    const config = { roles: owner.roles };
    app.get(`/${owner.path}/:id/transactions`, {
      config,
      schema: {
        tags,
        summary: `The ledger entries of a ${owner.noun}’s balance, in the order they were applied`,
        params: IdParams(owner.prefix),
        querystring: EntriesQuery,
        response: { 200: ListEnvelope(EntrySchema) },
      },
      handler: async (request) => {
        const account = await owner.find(db, principalOf(request), request.params.id);
        const { limit = 20, starting_after } = request.query;
        const rows = await listEntries(db, account.id, {
          ...entryFilter(request.query),
          limit,
          startingAfter: starting_after,
        });
        return okList(request, toPage(rows, limit), presentEntry);
      },
    });

    app.get(`/${owner.path}/:id/transactions.csv`, {
      config,
      schema: {
        tags,
        summary: 'The same entries as CSV, streamed',
        params: IdParams(owner.prefix),
        querystring: CsvQuery,
        response: { 200: Csv },
      },
      handler: async (request, reply) => {
        const account = await owner.find(db, principalOf(request), request.params.id);
        const batches = exportEntries(db, account.id, entryFilter(request.query));
        return sendCsv(reply, `${account.account_number}-transactions.csv`, batches);
      },
    });
  }
};
