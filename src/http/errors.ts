import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorKind } from '../errors.js';
import { patternExpectation } from './schemas.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Stable machine names of error kinds, as documented in docs/api.md. */
export type ErrorType =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'conflict'
  | 'idempotency'
  | 'rate_limited'
  | 'payment_declined'
  | 'insufficient_funds'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'gateway_unavailable'
  | 'internal';

/** An error that already knows its HTTP answer (raised by the HTTP layer itself). */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly type: ErrorType,
    message: string,
    readonly param?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The one table from domain outcomes to HTTP. */
const DOMAIN_STATUS: Record<DomainErrorKind, { status: number; type: ErrorType }> = {
  invalid: { status: 400, type: 'invalid_request' },
  not_found: { status: 404, type: 'not_found' },
  conflict: { status: 409, type: 'conflict' },
  forbidden: { status: 403, type: 'permission' },
  // 402 Payment Required: the request was fine, the balance was not (docs/api.md).
  insufficient_funds: { status: 402, type: 'insufficient_funds' },
  payment_declined: { status: 402, type: 'payment_declined' },
  too_large: { status: 413, type: 'payload_too_large' },
  unavailable: { status: 503, type: 'gateway_unavailable' },
  reference_reused: { status: 409, type: 'idempotency' },
};

export interface ErrorBody {
  success: false;
  code: number;
  status: 'error';
  message: string;
  request_id: string;
  error: {
    code: number;
    reason: string;
    type: ErrorType;
    param?: string;
    details?: Record<string, unknown>[];
  };
}

export function errorBody(
  request: FastifyRequest,
  status: number,
  type: ErrorType,
  message: string,
  param?: string,
  details?: Record<string, unknown>[],
): ErrorBody {
  return {
    success: false,
    code: status,
    status: 'error',
    message,
    request_id: request.id,
    error: {
      code: status,
      reason: message,
      type,
      ...(param ? { param } : {}),
      ...(details ? { details } : {}),
    },
  };
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/overrides/0/prefix` → `overrides[0].prefix`, as the domain's own messages name items. */
function paramFromPath(instancePath: string): string | undefined {
  const parts = instancePath.split('/').filter(Boolean);
  return parts.length
    ? parts.map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i ? `.${part}` : part)).join('')
    : undefined;
}

/**
 * What a value that failed `first` should look like. Ajv's own words name the keyword, not the
 * field's rule: a union of constants fails as "must be equal to constant" once per member, an id
 * or a time as "must match pattern" followed by the regular expression.
 */
function expectation(first: AjvError, all: AjvError[]): string {
  if (first.keyword === 'const') {
    const allowed = all
      .filter((error) => error.keyword === 'const' && error.instancePath === first.instancePath)
      .map((error) => String(error.params.allowedValue));
    return `must be one of: ${allowed.join(', ')}`;
  }
  if (first.keyword === 'enum')
    return `must be one of: ${(first.params.allowedValues as unknown[]).join(', ')}`;
  if (first.keyword === 'pattern')
    return patternExpectation(String(first.params.pattern)) ?? 'has an invalid format';
  return first.message ?? 'is invalid';
}

/** Turns the first schema violation into the sentence a client developer needs to read. */
function validationAnswer(error: FastifyError): { message: string; param?: string } {
  const all = (error.validation as AjvError[] | undefined) ?? [];
  const first = all[0];
  if (!first) return { message: error.message };
  const prefix = paramFromPath(first.instancePath);
  const join = (name: string) => (prefix ? `${prefix}.${name}` : name);
  switch (first.keyword) {
    case 'required': {
      const param = join(String(first.params.missingProperty));
      return { message: `Missing required parameter '${param}'`, param };
    }
    case 'additionalProperties': {
      const param = join(String(first.params.additionalProperty));
      return { message: `Unknown parameter '${param}'`, param };
    }
    default: {
      const param = prefix ?? (error.validationContext === 'body' ? 'body' : undefined);
      return { message: `Invalid parameter '${param ?? 'request'}': ${expectation(first, all)}`, param };
    }
  }
}

const FRAMEWORK_ERRORS: Record<string, { status: number; type: ErrorType }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, type: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, type: 'unsupported_media_type' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, type: 'payload_too_large' },
  FST_FILES_LIMIT: { status: 413, type: 'payload_too_large' },
  FST_FIELDS_LIMIT: { status: 413, type: 'payload_too_large' },
  FST_PARTS_LIMIT: { status: 413, type: 'payload_too_large' },
};

/**
 * PostgreSQL's refusals of text it cannot store: a NUL character in text (22021) or in jsonb
 * (22P05). Requests are checked for these first (input-guard.ts, and each module's own checks of
 * what it parses itself); this is the net under those checks, so such a value is the client's
 * 400 wherever it comes from. Writes run in transactions, so the refused one changed nothing.
 */
const STORED_TEXT_REFUSED = new Set(['22021', '22P05']);
const CLIENT_GONE_MESSAGE = 'The client closed the connection before the request was read';
const TEXT_REFUSED_MESSAGE = 'Text must not contain NUL characters (\\u0000)';

/**
 * busboy (under @fastify/multipart) reports a broken form as a plain Error while the body is
 * parsed; it is the client's malformed body, not our failure.
 */
function isMalformedMultipart(error: Error, contentType: string | undefined): boolean {
  return Boolean(contentType?.startsWith('multipart/') && error.stack?.includes('busboy'));
}

/**
 * Errors Fastify's router raises before a route is found (`frameworkErrors`): a URL whose
 * percent-encoding is not UTF-8 (`%FF`), a path parameter longer than the router takes. No route
 * and no hook has run, so the answer is built here, with the request id as every answer has it.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const answer = ROUTER_ERRORS[error.code] ?? {
    status: 500,
    type: 'internal',
    message: internalMessage(request),
  };
  if (answer.status === 500) request.log.error({ err: error }, 'unhandled router error');
  reply.header('x-request-id', request.id);
  sendError(reply, errorBody(request, answer.status, answer.type, answer.message));
}

const ROUTER_ERRORS: Record<string, { status: number; type: ErrorType; message: string }> = {
  FST_ERR_BAD_URL: {
    status: 400,
    type: 'invalid_request',
    message: 'Malformed URL: its percent-encoding is not valid UTF-8',
  },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, type: 'invalid_request', message: 'A path parameter is too long' },
};

/** A 500 says only where to look: the details are in the log under the request id. */
const internalMessage = (request: FastifyRequest) =>
  `Internal error; quote request id ${request.id} when reporting it`;

function sendError(reply: FastifyReply, body: ErrorBody, headers: Record<string, string> = {}): FastifyReply {
  // A handler that failed after choosing its own answer's type (a CSV export, say) still
  // answers the error as the envelope.
  reply.removeHeader('content-disposition');
  reply.type(JSON_TYPE).headers(headers);
  return reply.code(body.code).send(body);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      return sendError(
        reply,
        errorBody(request, error.statusCode, error.type, error.message, error.param),
        error.headers,
      );
    }
    if (error instanceof DomainError) {
      const mapped = DOMAIN_STATUS[error.kind];
      return sendError(
        reply,
        errorBody(request, mapped.status, mapped.type, error.message, error.param, error.details),
      );
    }
    if (error.validation) {
      const { message, param } = validationAnswer(error);
      return sendError(reply, errorBody(request, 400, 'invalid_request', message, param));
    }
    const framework = error.code ? FRAMEWORK_ERRORS[error.code] : undefined;
    if (framework)
      return sendError(reply, errorBody(request, framework.status, framework.type, error.message));
    if (error.code && STORED_TEXT_REFUSED.has(error.code)) {
      return sendError(reply, errorBody(request, 400, 'invalid_request', TEXT_REFUSED_MESSAGE));
    }
    if (isMalformedMultipart(error, request.headers['content-type'])) {
      return sendError(
        reply,
        errorBody(request, 400, 'invalid_request', `Malformed multipart body: ${error.message}`, 'body'),
      );
    }
    if (error.code === 'ECONNRESET') {
      // The client hung up before its request was read: nobody reads this answer, and it is
      // not our fault, so it is not logged as one.
      request.log.info({ err: error }, 'client closed the connection mid-request');
      return sendError(reply, errorBody(request, 400, 'invalid_request', CLIENT_GONE_MESSAGE));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendError(reply, errorBody(request, status, 'invalid_request', error.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, errorBody(request, 500, 'internal', internalMessage(request)));
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      errorBody(request, 404, 'not_found', `Unknown route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}
