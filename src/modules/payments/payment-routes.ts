import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { ok, okList, toPage } from '../../http/envelope.js';
import { CurrencyCode, Envelope, ErrorEnvelope, IdOf, ListEnvelope, PageQuery } from '../../http/schemas.js';
import { recordThirdParty } from './external-payments.js';
import { changeRecurring, listRecurring, registerRecurring } from './recurring.js';
import {
  Amount,
  BankFields,
  CardFields,
  CustomerRefFields,
  presentRecurring,
  presentTransaction,
  RecurringSchema,
  TransactionSchema,
} from './representations.js';
import { bankOf, cardOf, idempotencyKeyOf } from './request-fields.js';
import { contextOf, type PaymentRoutesOptions } from './routes.js';
import type { TransactionRow } from './settle.js';
import { followUp, listTransactions, type OpeningKind, startPayment } from './transactions.js';

const Description = Type.Optional(Type.String({ maxLength: 500 }));
const OpenBody = Type.Object(
  {
    ...CustomerRefFields,
    amount: Amount,
    currency: CurrencyCode,
    profile_id: Type.Optional(IdOf('pp')),
    ...CardFields,
    description: Description,
  },
  { additionalProperties: false },
);
const ProfileOpenBody = Type.Object(
  {
    ...CustomerRefFields,
    amount: Amount,
    currency: CurrencyCode,
    profile_id: IdOf('pp'),
    description: Description,
  },
  { additionalProperties: false },
);
const BankBody = Type.Object(
  {
    ...CustomerRefFields,
    amount: Amount,
    currency: CurrencyCode,
    profile_id: Type.Optional(IdOf('pp')),
    ...BankFields,
    description: Description,
  },
  { additionalProperties: false },
);
type StartBody = {
  amount: string;
  currency: string;
  customer_id?: string;
  account_number?: string;
  profile_id?: string;
} & Parameters<typeof cardOf>[0] &
  Parameters<typeof bankOf>[0];
const FollowUpBody = Type.Object(
  { transaction_id: IdOf('ptx'), amount: Type.Optional(Amount) },
  { additionalProperties: false },
);
const VoidBody = Type.Object({ transaction_id: IdOf('ptx') }, { additionalProperties: false });

/**
 * 402: a declined or failed transaction (the error envelope plus the transaction it recorded),
 * or a refusal before any transaction exists (insufficient_funds: no data).
 */
const Declined = Type.Object({ ...ErrorEnvelope.properties, data: Type.Optional(TransactionSchema) });
const MoneyResponse = { 201: Envelope(TransactionSchema), 402: Declined };

/** success, pending and unknown are 201 (the transaction exists); failed and error are 402. */
function answer(request: FastifyRequest, reply: FastifyReply, row: TransactionRow) {
  const data = presentTransaction(request, row);
  if (row.status === 'success' || row.status === 'pending' || row.status === 'unknown') {
    reply.code(201);
    return ok(request, data, {}, 201);
  }
  reply.code(402);
  const message =
    row.error_message ?? `The transaction ${row.status === 'failed' ? 'was declined' : 'did not go through'}`;
  return {
    success: false as const,
    code: 402,
    status: 'error' as const,
    message,
    request_id: request.id,
    error: { code: 402, reason: message, type: 'payment_declined' },
    data,
  };
}

export const paymentRoutes: FastifyPluginAsyncTypebox<PaymentRoutesOptions> = async (app, { db, config }) => {
  const ctx = contextOf(db, config);
  const open = (
    kind: OpeningKind,
    method: 'card' | 'bank',
    path: string,
    summary: string,
    tags: string[],
    body: TSchema = OpenBody,
  ) =>
    app.post(path, {
      schema: { tags, summary, body, response: MoneyResponse },
      handler: async (request, reply) => {
        // The body schema (one of the three above) has validated it; the services check the rest.
        const input = request.body as StartBody;
        const row = await startPayment(ctx, principalOf(request), {
          ...input,
          kind,
          method,
          card: cardOf(input),
          bank: bankOf(input),
          idempotencyKey: idempotencyKeyOf(request),
        });
        return answer(request, reply, row);
      },
    });
  const follow = (kind: 'capture' | 'void' | 'refund', path: string, summary: string, tags: string[]) =>
    app.post(path, {
      schema: { tags, summary, body: kind === 'void' ? VoidBody : FollowUpBody, response: MoneyResponse },
      handler: async (request, reply) => {
        const body = request.body as { transaction_id: string; amount?: string };
        const row = await followUp(ctx, principalOf(request), {
          ...body,
          kind,
          idempotencyKey: idempotencyKeyOf(request),
        });
        return answer(request, reply, row);
      },
    });

  const card = ['Card payments'];
  open(
    'authorize',
    'card',
    '/payments/creditcard/authorize',
    'Authorize a credit card; funds are not secured until settled',
    card,
  );
  open(
    'purchase',
    'card',
    '/payments/creditcard/charge',
    'Charge a credit card; an approved charge tops up the balance',
    card,
  );
  follow(
    'refund',
    '/payments/creditcard/refund',
    'Refund a charge or capture, in part or whole (never more than captured)',
    card,
  );
  follow(
    'capture',
    '/payments/creditcard/transaction/settle',
    'Settle (capture) an authorization, in part or whole',
    card,
  );
  follow(
    'void',
    '/payments/creditcard/transaction/void',
    'Void an authorization that has not been captured',
    card,
  );

  const bank = ['Bank payments'];
  open(
    'purchase',
    'bank',
    '/payments/b2b/transaction/debit',
    "Debit a customer's bank account (tops up the balance)",
    bank,
    BankBody,
  );
  open(
    'credit',
    'bank',
    '/payments/b2b/transaction/credit',
    "Credit a customer's bank account (from its balance)",
    bank,
    BankBody,
  );

  const profiles = ['Profile payments'];
  open(
    'authorize',
    'card',
    '/profiles/authorize',
    "Authorize on a registered customer's card",
    profiles,
    ProfileOpenBody,
  );
  open(
    'purchase',
    'card',
    '/profiles/charge',
    "Charge a registered customer's card",
    profiles,
    ProfileOpenBody,
  );
  follow('refund', '/profiles/refund', "Refund a registered customer's charge", profiles);
  follow('capture', '/profiles/settle', "Settle a registered customer's authorization", profiles);
  follow('void', '/profiles/void', "Void a registered customer's authorization", profiles);

  app.post('/payments/thirdparty', {
    // The operator's word alone: the payment is credited from its own clearing account, i.e. it
    // says it holds the money. A customer recording its own, or a reseller recording cash it
    // collected (the operator never received it), would mint balance from nothing.
    config: { roles: ['admin'] },
    schema: {
      tags: card,
      summary: 'Record a payment made elsewhere; tops up the balance, no gateway is called',
      body: Type.Object(
        {
          ...CustomerRefFields,
          amount: Amount,
          currency: CurrencyCode,
          reference: Type.String({ minLength: 1, maxLength: 200 }),
          method: Type.String({ minLength: 1, maxLength: 40, description: 'cash, wire, cheque, …' }),
          description: Description,
        },
        { additionalProperties: false },
      ),
      response: MoneyResponse,
    },
    handler: async (request, reply) =>
      answer(request, reply, await recordThirdParty(ctx, principalOf(request), request.body)),
  });

  const TransactionFilter = {
    ...CustomerRefFields,
    ...PageQuery('ptx'),
    status: Type.Optional(Type.Enum(['success', 'pending', 'failed', 'error', 'unknown'] as const)),
    payment_id: Type.Optional(IdOf('pay')),
  };
  const listTransactionsHandler = async (request: FastifyRequest) => {
    const filter = ((request.method === 'GET' ? request.query : request.body) ?? {}) as {
      limit?: number;
      starting_after?: string;
      status?: string;
      payment_id?: string;
      customer_id?: string;
      account_number?: string;
    };
    const limit = filter.limit ?? 20;
    const rows = await listTransactions(db, principalOf(request), {
      ...filter,
      limit,
      startingAfter: filter.starting_after,
      paymentId: filter.payment_id,
    });
    return okList(request, toPage(rows, limit), (row) => presentTransaction(request, row));
  };
  const tx = ['Transactions'];
  app.get('/transactions', {
    schema: {
      tags: tx,
      summary: 'Transactions of a customer (or all visible ones)',
      querystring: Type.Object(TransactionFilter, { additionalProperties: false }),
      response: { 200: ListEnvelope(TransactionSchema) },
    },
    handler: listTransactionsHandler,
  });
  app.post('/transactions', {
    schema: {
      tags: tx,
      summary: 'Transactions (POST twin for clients that cannot send a body with a GET)',
      body: Type.Object(TransactionFilter, { additionalProperties: false }),
      response: { 200: ListEnvelope(TransactionSchema) },
    },
    handler: listTransactionsHandler,
  });

  const rec = ['Recurring payments'];
  app.post('/recurringpayments/register', {
    schema: {
      tags: rec,
      summary: 'Set up a recurring payment; a start date of today is first processed one interval later',
      body: Type.Object(
        {
          ...CustomerRefFields,
          profile_id: IdOf('pp'),
          amount: Amount,
          currency: Type.Optional(CurrencyCode),
          interval: Type.String({ maxLength: 20, description: 'daily, weekly, monthly or yearly' }),
          start_date: Type.Optional(
            Type.String({ maxLength: 10, description: 'YYYY-MM-DD (UTC); default today' }),
          ),
          description: Description,
        },
        { additionalProperties: false },
      ),
      response: { 201: Envelope(RecurringSchema) },
    },
    handler: async (request, reply) => {
      const row = await registerRecurring(ctx, principalOf(request), request.body);
      reply.code(201);
      return ok(request, presentRecurring(row), {}, 201);
    },
  });
  for (const action of ['suspend', 'resume', 'remove'] as const) {
    app.post(`/recurringpayments/${action}`, {
      schema: {
        tags: rec,
        summary: `${action[0]!.toUpperCase()}${action.slice(1)} a recurring payment`,
        body: Type.Object({ recurring_payment_id: IdOf('rp') }, { additionalProperties: false }),
        response: { 200: Envelope(RecurringSchema) },
      },
      handler: async (request) =>
        ok(
          request,
          presentRecurring(
            await changeRecurring(ctx, principalOf(request), request.body.recurring_payment_id, action),
          ),
        ),
    });
  }
  app.get('/recurringpayments/list', {
    schema: {
      tags: rec,
      summary: 'All recurring payments of the customer',
      querystring: Type.Object({ ...CustomerRefFields }, { additionalProperties: false }),
      response: { 200: Envelope(Type.Array(RecurringSchema)) },
    },
    handler: async (request) =>
      ok(request, (await listRecurring(ctx, principalOf(request), request.query)).map(presentRecurring)),
  });
};
