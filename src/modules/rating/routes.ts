import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '../../db/index.js';
import { principalOf } from '../../http/auth.js';
import { directGet } from '../../http/direct-lane.js';
import { ok, okList, toPage } from '../../http/envelope.js';
import { ApiError, errorBody } from '../../http/errors.js';
import {
  CurrencyCode,
  Envelope,
  IdParams,
  ListEnvelope,
  PageQuery,
  TimestampInput,
} from '../../http/schemas.js';
import { createCarrier, getCarrier, listCarriers, updateCarrier } from './carriers.js';
import { exportDeck } from './deck-export.js';
import { DeckRejectedError, importDeck } from './deck-import.js';
import { derivedCardsOf, getDerivation, removeDerivation, setDerivation } from './derivation.js';
import { type Customers, type LcrAnswer, leastCostRoutes, lookupRate, type Match } from './lookup.js';
import { lookupNumber } from './numbers.js';
import { createRatecard, getRatecard, listRatecards, updateRatecard } from './ratecards.js';
import { createRate, deleteRate, getRate, listRates, updateRate } from './rates.js';
import type { RatingIndex } from './rating-index.js';
import {
  CarrierCreateBody,
  CarrierSchema,
  CarrierUpdateBody,
  DerivationBody,
  DerivationSchema,
  ImportRejectedSchema,
  ImportResultSchema,
  LcrSchema,
  NumberLookupSchema,
  presentCarrier,
  presentDerivation,
  presentLcr,
  presentLookup,
  presentNumberLookup,
  presentRate,
  presentRatecard,
  RateCreateBody,
  RatecardCreateBody,
  RatecardSchema,
  RatecardUpdateBody,
  RateLookupSchema,
  RateSchema,
  RateUpdateBody,
} from './representations.js';
import { acceptCsvUploads, CsvUpload } from './upload.js';
import { requireTimestamp } from './values.js';

export interface RatingRoutesOptions {
  db: Db;
  index: RatingIndex;
  /** PostgreSQL's URL: deck imports then stage rows with COPY on a connection of their own. */
  databaseUrl?: string | undefined;
}

const ADMIN = { roles: ['admin' as const] };
const Number_ = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'Dialled number, E.164 with or without +',
});
const CardSelectorQuery = {
  customer_id: Type.Optional(Type.String({ maxLength: 64, description: 'Use this customer’s sell card' })),
  ratecard_id: Type.Optional(Type.String({ maxLength: 64, description: 'Use this card (operator only)' })),
  at: Type.Optional(TimestampInput),
};

/** After a committed change to a card: it and the cards derived from it get new indexes. */
async function cardChanged(db: Db, index: RatingIndex, cardId: string): Promise<void> {
  await index.changed([cardId, ...(await derivedCardsOf(db, cardId))]);
}

export const ratecardRoutes: FastifyPluginAsyncTypebox<RatingRoutesOptions> = async (
  app,
  { db, index, databaseUrl },
) => {
  const tags = ['Rate cards'];
  app.get('/ratecards', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'List rate cards',
      querystring: Type.Object(
        {
          ...PageQuery('rc'),
          direction: Type.Optional(Type.Union([Type.Literal('sell'), Type.Literal('buy')])),
        },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(RatecardSchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, direction } = request.query;
      const rows = await listRatecards(db, { limit, startingAfter: starting_after, direction });
      return okList(request, toPage(rows, limit), (row) => presentRatecard(request, row));
    },
  });

  app.post('/ratecards', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Create a rate card',
      body: RatecardCreateBody,
      response: { 201: Envelope(RatecardSchema) },
    },
    handler: async (request, reply) => {
      const card = await createRatecard(db, request.body);
      await index.changed([card.id]);
      reply.code(201);
      return ok(request, presentRatecard(request, card), {}, 201);
    },
  });

  app.get('/ratecards/:id', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Get a rate card',
      params: IdParams('rc'),
      response: { 200: Envelope(RatecardSchema) },
    },
    handler: async (request) =>
      ok(request, presentRatecard(request, await getRatecard(db, request.params.id))),
  });

  app.patch('/ratecards/:id', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Update a rate card',
      params: IdParams('rc'),
      body: RatecardUpdateBody,
      response: { 200: Envelope(RatecardSchema) },
    },
    handler: async (request) => {
      const card = await updateRatecard(db, request.params.id, request.body);
      await index.changed([card.id]);
      return ok(request, presentRatecard(request, card));
    },
  });

  app.get('/ratecards/:id/derivation', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'How a derived sell card is priced from buy cards',
      params: IdParams('rc'),
      response: { 200: Envelope(DerivationSchema) },
    },
    handler: async (request) =>
      ok(request, presentDerivation(request, await getDerivation(db, request.params.id))),
  });

  app.put('/ratecards/:id/derivation', {
    config: ADMIN,
    schema: {
      tags,
      summary:
        'Derive this sell card from buy cards and profit rules (compiles it now and on every source change)',
      params: IdParams('rc'),
      body: DerivationBody,
      response: { 200: Envelope(DerivationSchema) },
    },
    handler: async (request) => {
      const derivation = await setDerivation(db, request.params.id, request.body);
      await index.changed([derivation.ratecard_id]);
      return ok(request, presentDerivation(request, derivation));
    },
  });

  app.delete('/ratecards/:id/derivation', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Stop deriving: the card keeps its last compiled rates as ordinary rates',
      params: IdParams('rc'),
      response: { 200: Envelope(DerivationSchema) },
    },
    handler: async (request) =>
      ok(request, presentDerivation(request, await removeDerivation(db, request.params.id))),
  });

  app.get('/ratecards/:id/rates', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'List a card’s rates (all versions, or those in force at ?at=)',
      params: IdParams('rc'),
      querystring: Type.Object(
        {
          ...PageQuery('rt'),
          prefix: Type.Optional(Type.String({ maxLength: 32, description: 'This prefix exactly' })),
          prefix_starts_with: Type.Optional(
            Type.String({ maxLength: 32, description: 'Every prefix under this one (44: 44, 441, 4420…)' }),
          ),
          destination: Type.Optional(
            Type.String({ maxLength: 200, description: 'This destination exactly' }),
          ),
          destination_contains: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 200,
              description: 'Destinations holding this text, any case',
            }),
          ),
          at: Type.Optional(TimestampInput),
        },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(RateSchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, ...filter } = request.query;
      const rows = await listRates(db, request.params.id, {
        ...filter,
        limit,
        startingAfter: starting_after,
      });
      return okList(request, toPage(rows, limit), (row) => presentRate(request, row));
    },
  });

  app.post('/ratecards/:id/rates', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Add a rate (a new version of a prefix)',
      params: IdParams('rc'),
      body: RateCreateBody,
      response: { 201: Envelope(RateSchema) },
    },
    handler: async (request, reply) => {
      const rate = await createRate(db, request.params.id, request.body);
      await cardChanged(db, index, rate.ratecard_id);
      reply.code(201);
      return ok(request, presentRate(request, rate), {}, 201);
    },
  });

  app.get('/ratecards/:id/export.csv', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Stream the card as CSV, as it stands at ?at= (default now)',
      params: IdParams('rc'),
      querystring: Type.Object({ at: Type.Optional(TimestampInput) }, { additionalProperties: false }),
      response: { 200: Type.Any({ description: 'text/csv, streamed' }) },
    },
    handler: async (request, reply) => {
      const at = request.query.at ? requireTimestamp(request.query.at, 'at') : new Date();
      const csv = await exportDeck(db, request.params.id, at);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${request.params.id}.csv"`)
        .send(csv);
    },
  });

  // The import gets its own scope: CSV and multipart bodies reach it as streams.
  await app.register(async (plain) => {
    acceptCsvUploads(plain);
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    scope.post('/ratecards/:id/import', {
      config: ADMIN,
      schema: {
        tags,
        summary: 'Import a rate deck (text/csv body or multipart file), all or nothing',
        params: IdParams('rc'),
        querystring: Type.Object(
          {
            mode: Type.Optional(
              Type.Union([Type.Literal('merge'), Type.Literal('replace')], { default: 'merge' }),
            ),
            columns: Type.Optional(
              Type.String({
                maxLength: 500,
                description: 'Fields in file order, comma separated; - skips a column',
              }),
            ),
            header: Type.Optional(
              Type.Boolean({ description: 'Whether the first row is a header (default true)' }),
            ),
            delimiter: Type.Optional(
              Type.Union([Type.Literal(','), Type.Literal(';'), Type.Literal('\t'), Type.Literal('|')]),
            ),
            currency: Type.Optional(CurrencyCode),
          },
          { additionalProperties: false },
        ),
        response: { 200: Envelope(ImportResultSchema), 400: ImportRejectedSchema },
      },
      handler: async (request, reply) => {
        const upload = request.body;
        if (!(upload instanceof CsvUpload)) {
          throw new ApiError(
            415,
            'unsupported_media_type',
            'Send the deck as text/csv or as a multipart/form-data file',
          );
        }
        const { mode = 'merge', columns, header, delimiter, currency } = request.query;
        const started = performance.now();
        try {
          const result = await importDeck(db, request.params.id, await upload.csv(), {
            mode,
            ...(columns ? { columns: columns.split(',') } : {}),
            ...(header !== undefined ? { header } : {}),
            ...(delimiter ? { delimiter } : {}),
            ...(currency ? { currency } : {}),
            ...(databaseUrl ? { databaseUrl } : {}),
          });
          await cardChanged(db, index, request.params.id);
          const duration_ms = Math.round(performance.now() - started);
          return ok(request, {
            object: 'deck_import' as const,
            ratecard_id: request.params.id,
            mode,
            ...result,
            duration_ms,
          });
        } catch (error) {
          if (!(error instanceof DeckRejectedError)) throw error;
          return reply.code(400).send({
            ...errorBody(
              request,
              400,
              'invalid_request',
              error.message,
              error.problems[0]?.column ?? undefined,
            ),
            errors: error.problems,
            errors_truncated: error.truncated,
          });
        }
      },
    });
  });
};

export interface RateRoutesOptions extends RatingRoutesOptions {
  /** The customer cache: whose card a lookup by customer uses, as call authorization reads it. */
  customers: Customers;
}

export const rateRoutes: FastifyPluginAsyncTypebox<RateRoutesOptions> = async (
  app,
  { db, index, customers },
) => {
  const tags = ['Rates'];
  directGet(app, {
    url: '/rates/lookup',
    schema: {
      tags,
      summary: 'The rate for a number on a customer’s (or a named) card, at a time (default now)',
      querystring: Type.Object({ number: Number_, ...CardSelectorQuery }, { additionalProperties: false }),
      response: { 200: Envelope(RateLookupSchema) },
    },
    answer: (principal, query, origin) => {
      const present = (match: Match) => ok(origin, presentLookup(origin, match));
      const match = lookupRate(index, customers, principal, query);
      return match instanceof Promise ? match.then(present) : present(match);
    },
  });

  app.get('/numbers/lookup', {
    schema: {
      tags: ['Numbers'],
      summary: 'What a number is (E.164, country, type, validity) and what the cards call it',
      querystring: Type.Object({ number: Number_, ...CardSelectorQuery }, { additionalProperties: false }),
      response: { 200: Envelope(NumberLookupSchema) },
    },
    handler: async (request) =>
      ok(
        request,
        presentNumberLookup(
          request,
          await lookupNumber(index, customers, principalOf(request), request.query),
        ),
      ),
  });

  app.get('/rates/:id', {
    config: ADMIN,
    schema: { tags, summary: 'Get a rate', params: IdParams('rt'), response: { 200: Envelope(RateSchema) } },
    handler: async (request) => ok(request, presentRate(request, await getRate(db, request.params.id))),
  });

  app.patch('/rates/:id', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Change a rate version',
      params: IdParams('rt'),
      body: RateUpdateBody,
      response: { 200: Envelope(RateSchema) },
    },
    handler: async (request) => {
      const rate = await updateRate(db, request.params.id, request.body);
      await cardChanged(db, index, rate.ratecard_id);
      return ok(request, presentRate(request, rate));
    },
  });

  app.delete('/rates/:id', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Delete a rate version',
      params: IdParams('rt'),
      response: { 200: Envelope(RateSchema) },
    },
    handler: async (request) => {
      const rate = await deleteRate(db, request.params.id);
      await cardChanged(db, index, rate.ratecard_id);
      return ok(request, presentRate(request, rate));
    },
  });

  directGet(app, {
    url: '/routes/lcr',
    roles: ADMIN.roles,
    schema: {
      tags: ['Routing'],
      summary: 'Least-cost routes: carriers able to take the call, cheapest first',
      querystring: Type.Object(
        {
          number: Number_,
          ...CardSelectorQuery,
          strategy: Type.Optional(Type.Union([Type.Literal('lcr'), Type.Literal('priority')])),
          max_cost: Type.Optional(
            Type.String({ maxLength: 32, description: 'Drop carriers whose rate per minute is above this' }),
          ),
          profitable_only: Type.Optional(
            Type.Boolean({ description: 'Drop carriers costing more than the sell rate' }),
          ),
        },
        { additionalProperties: false },
      ),
      response: { 200: Envelope(LcrSchema) },
    },
    answer: (principal, query, origin) => {
      const present = (answer: LcrAnswer) => ok(origin, presentLcr(origin, answer, query.strategy ?? 'lcr'));
      const answer = leastCostRoutes(index, customers, principal, query);
      return answer instanceof Promise ? answer.then(present) : present(answer);
    },
  });
};

export const carrierRoutes: FastifyPluginAsyncTypebox<RatingRoutesOptions> = async (app, { db, index }) => {
  const tags = ['Carriers'];
  app.get('/carriers', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'List carriers',
      querystring: Type.Object(
        {
          ...PageQuery('car'),
          status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive')])),
        },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(CarrierSchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, status } = request.query;
      const rows = await listCarriers(db, { limit, startingAfter: starting_after, status });
      return okList(request, toPage(rows, limit), (row) => presentCarrier(request, row));
    },
  });

  app.post('/carriers', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Create a carrier with its buy card',
      body: CarrierCreateBody,
      response: { 201: Envelope(CarrierSchema) },
    },
    handler: async (request, reply) => {
      const carrier = await createCarrier(db, request.body);
      await index.carriersChanged([carrier.ratecard_id]);
      reply.code(201);
      return ok(request, presentCarrier(request, carrier), {}, 201);
    },
  });

  app.get('/carriers/:id', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Get a carrier',
      params: IdParams('car'),
      response: { 200: Envelope(CarrierSchema) },
    },
    handler: async (request) => ok(request, presentCarrier(request, await getCarrier(db, request.params.id))),
  });

  app.patch('/carriers/:id', {
    config: ADMIN,
    schema: {
      tags,
      summary: 'Update a carrier',
      params: IdParams('car'),
      body: CarrierUpdateBody,
      response: { 200: Envelope(CarrierSchema) },
    },
    handler: async (request) => {
      const carrier = await updateCarrier(db, request.params.id, request.body);
      await index.carriersChanged([carrier.ratecard_id]);
      return ok(request, presentCarrier(request, carrier));
    },
  });
};
