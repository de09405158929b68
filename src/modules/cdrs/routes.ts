import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { stringify } from 'csv-stringify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { changeFeedOf } from '../../db/change-feed.js';
import type { Db } from '../../db/index.js';
import { invalid } from '../../errors.js';
import { principalOf } from '../../http/auth.js';
import { ok, okList, toPage } from '../../http/envelope.js';
import { ApiError } from '../../http/errors.js';
import { Envelope, IdOf, IdParams, ListEnvelope, PageQuery, SwitchToken } from '../../http/schemas.js';
import { parseInstant, parsePeriod } from '../../period.js';
import type { CustomerCache } from '../accounts/customer-cache.js';
import type { RatingIndex } from '../rating/rating-index.js';
import { authorizeCall } from './call-authorization.js';
import { type CdrFilter, exportCdrs, getCdr, listCdrs } from './cdr-queries.js';
import { type CsvLayout, fromCsv, fromJsonArray, fromNdjson, fromUpload, hasLayout } from './cdr-sources.js';
import { CdrCopyConnections } from './copy-ingest.js';
import './guards.js';
import { ingestCdrs } from './ingest.js';
import { endCall, getLiveCall, listLiveCalls, startCall } from './live-calls.js';
import {
  CallAuthorizationSchema,
  CdrSchema,
  csvColumnsFor,
  csvRecord,
  DispositionSchema,
  IngestResultSchema,
  LiveCallSchema,
  presentCdr,
  presentLiveCall,
  presentRate,
  RerateResultSchema,
  StatsRowSchema,
} from './representations.js';
import { rerateCdrs } from './rerate.js';
import { callStats } from './stats.js';

export interface CdrRoutesOptions {
  db: Db;
  rating: RatingIndex;
  /** Customers and balances in memory: call authorization reads them from here. */
  customers: CustomerCache;
  config: Config;
}

const Id = Type.String({ maxLength: 64 });
const CallId = SwitchToken('The switch’s call id');
const Instant = Type.String({
  maxLength: 40,
  description: 'YYYY-MM-DD (whole UTC day) or ISO 8601 timestamp',
});
const CdrFilterQuery = {
  customer_id: Type.Optional(IdOf('cus')),
  carrier_id: Type.Optional(IdOf('car')),
  from: Type.Optional(Instant),
  to: Type.Optional(Instant),
  caller_prefix: Type.Optional(Type.String({ maxLength: 20 })),
  callee_prefix: Type.Optional(Type.String({ maxLength: 20 })),
  disposition: Type.Optional(DispositionSchema),
  rated: Type.Optional(Type.Union([Type.Literal('rated'), Type.Literal('unrated')])),
  switch_id: Type.Optional(SwitchToken('The switch that sent the CDR (switch_id)')),
  call_id: Type.Optional(CallId),
};

type FilterQuery = {
  customer_id?: string;
  carrier_id?: string;
  from?: string;
  to?: string;
  caller_prefix?: string;
  callee_prefix?: string;
  disposition?: CdrFilter['disposition'];
  rated?: 'rated' | 'unrated';
  switch_id?: string;
  call_id?: string;
};

function toFilter(query: FilterQuery): CdrFilter {
  const period = query.from || query.to ? parsePeriod(query.from, query.to) : null;
  return {
    customerId: query.customer_id,
    carrierId: query.carrier_id,
    from: period?.from ?? undefined,
    to: period && query.to ? period.to : undefined,
    callerPrefix: query.caller_prefix,
    calleePrefix: query.callee_prefix,
    disposition: query.disposition,
    ratingState: query.rated,
    switchId: query.switch_id,
    callId: query.call_id,
  };
}

const STREAM_TYPES = ['application/x-ndjson', 'application/ndjson', 'text/csv'];

/**
 * The records of a batch in whichever of the four formats it came. Any other body (XML, a form,
 * plain text: parsed by the app's general parsers, which this route's schema does not check) is
 * a 415, not an empty batch answered 200.
 */
function recordsOf(type: string, body: unknown, layout: CsvLayout) {
  if (type.startsWith('text/csv')) return fromCsv(body as Readable, layout);
  if (type.startsWith('multipart/')) return fromUpload(uploadedFile(body), layout);
  if (hasLayout(layout))
    throw invalid('columns, header and delimiter describe a CSV; send it as text/csv or a file', 'columns');
  if (STREAM_TYPES.some((streamed) => type.startsWith(streamed))) return fromNdjson(body as Readable);
  if (type.startsWith('application/json') && Array.isArray(body)) return fromJsonArray(body);
  throw new ApiError(
    415,
    'unsupported_media_type',
    'Send CDRs as a JSON array (application/json), NDJSON (application/x-ndjson), text/csv or a multipart/form-data file',
  );
}

export const cdrRoutes: FastifyPluginAsyncTypebox<CdrRoutesOptions> = async (
  app,
  { db, rating, customers, config },
) => {
  // NDJSON and CSV reach the handler as the raw request stream: records are read as they arrive.
  app.addContentTypeParser(STREAM_TYPES, (_request, payload, done) => done(null, payload));
  // PostgreSQL: CDR batches are stored with COPY on connections of their own (copy-ingest.ts).
  const copyConnections = config.databaseUrl
    ? new CdrCopyConnections(config.databaseUrl, changeFeedOf(db))
    : null;
  app.addHook('onClose', async () => copyConnections?.close());
  const tags = ['CDRs'];

  app.post('/cdrs', {
    bodyLimit: config.cdrBodyLimitBytes,
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'Ingest CDRs: rate, store and charge them (JSON array, NDJSON, CSV or multipart upload)',
      querystring: Type.Object(
        {
          atomic: Type.Optional(Type.Boolean({ description: 'Reject the whole batch if any record is bad' })),
          columns: Type.Optional(
            Type.String({
              maxLength: 1000,
              description:
                'CSV: the file’s columns in order as CDR field names, comma separated; - skips a column',
            }),
          ),
          header: Type.Optional(
            Type.Boolean({ description: 'CSV: whether the first row is a header (default true)' }),
          ),
          delimiter: Type.Optional(
            Type.Union([Type.Literal(','), Type.Literal(';'), Type.Literal('\t'), Type.Literal('|')]),
          ),
        },
        { additionalProperties: false },
      ),
      body: {
        content: {
          'application/json': {
            schema: Type.Array(Type.Unknown(), { description: 'CDR objects; each is checked on its own' }),
          },
          'application/x-ndjson': { schema: { description: 'One CDR object per line (streamed)' } },
          'text/csv': { schema: { description: 'Header row with CDR field names (streamed)' } },
          'multipart/form-data': {
            schema: Type.Object({ file: Type.Unknown() }, { additionalProperties: false }),
          },
        },
      },
      response: { 200: Envelope(IngestResultSchema) },
    },
    handler: async (request) => {
      const { atomic, columns, header, delimiter } = request.query;
      const records = recordsOf(request.headers['content-type'] ?? '', request.body, {
        ...(columns !== undefined ? { columns: columns.split(',') } : {}),
        ...(header !== undefined ? { header } : {}),
        ...(delimiter !== undefined ? { delimiter } : {}),
      });
      const result = await ingestCdrs(db, rating, principalOf(request), records, {
        atomic: atomic ?? false,
        maxRecords: config.cdrBatchMax,
        copy: copyConnections,
      });
      return ok(request, result);
    },
  });

  app.get('/cdrs', {
    schema: {
      tags,
      summary: 'List CDRs (admin: all; partner: its customers; customer: its own)',
      querystring: Type.Object({ ...PageQuery('cdr'), ...CdrFilterQuery }, { additionalProperties: false }),
      response: { 200: ListEnvelope(CdrSchema) },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      const { limit = 20, starting_after, ...filter } = request.query;
      const rows = await listCdrs(db, principal, toFilter(filter), { limit, startingAfter: starting_after });
      return okList(request, toPage(rows, limit), (row) => presentCdr(request, principal, row));
    },
  });

  app.get('/cdrs/:id', {
    schema: {
      tags,
      summary: 'One CDR (admin: any; partner: its customers’; customer: its own)',
      params: IdParams('cdr'),
      response: { 200: Envelope(CdrSchema) },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      return ok(request, presentCdr(request, principal, await getCdr(db, principal, request.params.id)));
    },
  });

  app.get('/cdrs/export.csv', {
    schema: {
      tags,
      summary: 'Stream every CDR matching the filter as CSV',
      querystring: Type.Object(CdrFilterQuery, { additionalProperties: false }),
      response: { 200: Type.String({ description: 'text/csv' }) },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const filter = toFilter(request.query);
      const rows = exportCdrs(db, principal, filter);
      const csv = stringify({ header: true, columns: [...csvColumnsFor(principal)] });
      (async () => {
        try {
          for await (const batch of rows)
            for (const row of batch) if (!csv.write(csvRecord(row, principal))) await once(csv);
          csv.end();
        } catch (error) {
          csv.destroy(error as Error);
        }
      })();
      reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="cdrs.csv"');
      // The CSV is streamed: its schema documents the payload, the stream is sent as it is.
      return reply.send(csv as unknown as string);
    },
  });

  app.post('/cdrs/rerate', {
    config: { roles: ['admin', 'partner'] },
    schema: {
      tags,
      summary: 'Re-rate a customer’s CDRs for a period and post the difference',
      body: Type.Object({ customer_id: Id, from: Instant, to: Instant }, { additionalProperties: false }),
      response: { 200: Envelope(RerateResultSchema) },
    },
    handler: async (request) => {
      const period = parsePeriod(request.body.from, request.body.to);
      const result = await rerateCdrs(db, rating, principalOf(request), {
        customer_id: request.body.customer_id,
        from: period.from!,
        to: period.to,
      });
      return ok(request, result);
    },
  });

  app.get('/stats/calls', {
    schema: {
      tags: ['Statistics'],
      summary: 'ASR, NER, ACD, PDD, minutes, revenue, cost and margin per group',
      querystring: Type.Object(
        {
          from: Instant,
          to: Instant,
          group_by: Type.Union([
            Type.Literal('customer'),
            Type.Literal('carrier'),
            Type.Literal('destination'),
            Type.Literal('prefix'),
          ]),
          interval: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')])),
        },
        { additionalProperties: false },
      ),
      response: { 200: Envelope(Type.Array(StatsRowSchema)) },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      const period = parsePeriod(request.query.from, request.query.to);
      const rows = await callStats(db, principal, {
        from: period.from!,
        to: period.to,
        groupBy: request.query.group_by,
        interval: request.query.interval,
      });
      // Carrier costs and margins are the operator's business.
      const visible = principal.role === 'admin' ? rows : rows.map(({ cost: _c, margin: _m, ...row }) => row);
      return ok(request, visible);
    },
  });

  const CallSelector = {
    customer_id: Type.Optional(Id),
    account_number: Type.Optional(Type.String({ maxLength: 32 })),
  };

  app.post('/calls/authorize', {
    schema: {
      tags: ['Calls'],
      summary: 'Call authorization: may this customer call this number, for how long, over which carriers',
      body: Type.Object(
        {
          ...CallSelector,
          caller: Type.String({ maxLength: 64 }),
          callee: Type.String({ maxLength: 40 }),
          at: Type.Optional(Instant),
        },
        { additionalProperties: false },
      ),
      response: { 200: Envelope(CallAuthorizationSchema) },
    },
    handler: async (request) => {
      const at = request.body.at ? parseInstant(request.body.at, 'at').at : undefined;
      const answer = await authorizeCall(
        db,
        rating,
        customers,
        principalOf(request),
        { ...request.body, at },
        config.callMaxDurationSeconds,
      );
      const carriers = principalOf(request).role === 'admin' ? answer.carriers : [];
      return ok(request, { ...answer, rate: presentRate(answer.rate), carriers });
    },
  });

  const CallParams = Type.Object({ call_id: CallId }, { additionalProperties: false });
  app.post('/calls/:call_id/start', {
    schema: {
      tags: ['Calls'],
      summary: 'A call began: counts toward the customer’s concurrent-call limit until it ends or expires',
      params: CallParams,
      body: Type.Object(
        {
          ...CallSelector,
          callee: Type.String({ maxLength: 40 }),
          max_duration_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 172_800 })),
        },
        { additionalProperties: false },
      ),
      response: { 201: Envelope(LiveCallSchema) },
    },
    handler: async (request, reply) => {
      const call = await startCall(
        db,
        principalOf(request),
        request.params.call_id,
        request.body,
        config.callTimeoutSeconds,
      );
      reply.code(201);
      return ok(request, presentLiveCall(request, call), {}, 201);
    },
  });

  app.post('/calls/:call_id/end', {
    schema: {
      tags: ['Calls'],
      summary: 'A call ended (name the customer when two customers’ calls share the id)',
      params: CallParams,
      body: Type.Object(CallSelector, { additionalProperties: false }),
      response: { 200: Envelope(LiveCallSchema) },
    },
    // A switch ends most calls with no body at all: that is an empty selector.
    preValidation: (request, _reply, done) => {
      request.body ??= {};
      done();
    },
    handler: async (request) =>
      ok(
        request,
        presentLiveCall(
          request,
          await endCall(db, principalOf(request), request.params.call_id, request.body),
        ),
      ),
  });

  app.get('/calls', {
    schema: {
      tags: ['Calls'],
      summary:
        'Calls in progress (started, not ended, not expired); admin: all, partner: its customers’, customer: its own',
      querystring: Type.Object(
        { ...PageQuery('lcl'), customer_id: Type.Optional(IdOf('cus')) },
        { additionalProperties: false },
      ),
      response: { 200: ListEnvelope(LiveCallSchema) },
    },
    handler: async (request) => {
      const { limit = 20, starting_after, customer_id } = request.query;
      const rows = await listLiveCalls(
        db,
        principalOf(request),
        { customerId: customer_id },
        { limit, startingAfter: starting_after },
      );
      return okList(request, toPage(rows, limit), (row) => presentLiveCall(request, row));
    },
  });

  app.get('/calls/:id', {
    schema: {
      tags: ['Calls'],
      summary: 'One call in progress (404 once it has ended or expired)',
      params: IdParams('lcl'),
      response: { 200: Envelope(LiveCallSchema) },
    },
    handler: async (request) =>
      ok(request, presentLiveCall(request, await getLiveCall(db, principalOf(request), request.params.id))),
  });
};

function uploadedFile(body: unknown): Buffer {
  const file = (body as { file?: unknown } | null)?.file;
  if (!Buffer.isBuffer(file))
    throw invalid("Missing required parameter 'file' (the CDR file to upload)", 'file');
  return file;
}

function once(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => stream.once('drain', resolve));
}
