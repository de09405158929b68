import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseLossless } from 'lossless-json';
import secureJson from 'secure-json-parse';
import { Decimal } from '../money/index.js';
import { ApiError } from './errors.js';

/**
 * Request bodies: JSON, urlencoded, multipart form-data (seed 002 posts form-data) and XML all
 * become the same plain object, so one schema validates them all.
 */

// A digit run of 16+ (possibly with a dot) may be a number JSON.parse would round. Only then do
// we pay for the lossless parser to find out.
const MAYBE_LONG_NUMBER = /\d[\d.]{14,}/;

/** Significant digits of a JSON number literal: "0.00120" has 2, "245.71293" has 8. */
export function significantDigits(literal: string): number {
  const mantissa = literal.replace(/^-/, '').replace(/[eE].*$/, '');
  const digits = mantissa.replace('.', '').replace(/^0+/, '');
  const trimmed = mantissa.includes('.') ? digits.replace(/0+$/, '') : digits;
  return Math.max(trimmed.length, 1);
}

// A number JavaScript writes with an exponent ("1e-7" for 0.0000001, "1e+21"): coerced to text for
// a decimal field, it would not read as a decimal, nor as the number sent. Only then is the body
// parsed again, keeping such numbers as their plain decimal text.
const MAYBE_EXPONENT_FORM = /0\.0{6}|\d[eE]|\d{22}/;

// The pattern also matches text inside strings (a UUID's "4e"): the parsed value says whether a
// number really needs it, which costs far less than parsing a big body twice.
function hasExponentFormNumber(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && /e/.test(String(value));
  if (Array.isArray(value)) return value.some(hasExponentFormNumber);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasExponentFormNumber);
  return false;
}

/** A JSON number as the schema should see it: a number, or its exact plain decimal text. */
function jsonNumber(text: string): number | string {
  rejectLossyNumber(text);
  const value = Number(text);
  const plain = String(value);
  return /e/i.test(plain) && Number.isFinite(value) ? new Decimal(text).toFixed() : value;
}

function rejectLossyNumber(text: string): number {
  if (significantDigits(text) > 15) {
    // Only its last four characters are echoed: a long number may be a card number sent unquoted,
    // and error messages reach logs and clients.
    throw new ApiError(
      400,
      'invalid_request',
      `A number ending in ${text.slice(-4)} has more than 15 significant digits; send it as a string to keep it exact`,
    );
  }
  return Number(text);
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    const value = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
    if (MAYBE_EXPONENT_FORM.test(text) && hasExponentFormNumber(value))
      return parseLossless(text, null, jsonNumber);
    if (MAYBE_LONG_NUMBER.test(text)) parseLossless(text, null, rejectLossyNumber);
    return value;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(400, 'invalid_request', `Malformed JSON body: ${(error as Error).message}`, 'body');
  }
}

const xmlParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true });

/** `<request><name>Acme</name></request>` → `{ name: "Acme" }`: the root element is the body. */
export function parseXmlBody(text: string): unknown {
  if (text.trim() === '') return {};
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new ApiError(
      400,
      'invalid_request',
      `Malformed XML body: ${valid.err.msg} (line ${valid.err.line})`,
      'body',
    );
  }
  const document = xmlParser.parse(text) as Record<string, unknown>;
  const roots = Object.keys(document).filter((key) => key !== '?xml');
  const root = roots.length === 1 ? document[roots[0]!] : undefined;
  if (!root || typeof root !== 'object') {
    throw new ApiError(
      400,
      'invalid_request',
      'XML body must be one root element holding the fields',
      'body',
    );
  }
  return root;
}

export async function registerBodyParsers(app: FastifyInstance, bodyLimitBytes: number): Promise<void> {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: bodyLimitBytes },
    (_req, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
  app.addContentTypeParser(
    ['application/xml', 'text/xml'],
    { parseAs: 'string', bodyLimit: bodyLimitBytes },
    (_req, body, done) => {
      try {
        done(null, parseXmlBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
  await app.register(formbody, { bodyLimit: bodyLimitBytes });
  app.addHook('preValidation', (request, _reply, done) => {
    // Callback style: no promise per request for what is nearly always a no-op.
    if (request.headers['content-type'] !== undefined) wrapSingleFormValues(request);
    done();
  });
  // @fastify/multipart adds three async hooks to every request (and a 'close' listener per
  // response); only multipart requests need them, so they are registered behind that test.
  const addHook = app.addHook;
  app.addHook = function multipartOnly(this: FastifyInstance, name: string, hook: unknown) {
    const gated = PER_REQUEST_HOOKS.has(name) ? onlyForMultipart(hook as MultipartHook) : hook;
    return addHook.call(this, name as 'onRequest', gated as MultipartHook);
  } as typeof app.addHook;
  try {
    await app.register(multipart, {
      attachFieldsToBody: 'keyValues',
      limits: { fieldSize: bodyLimitBytes, fields: 200, files: 5, fileSize: bodyLimitBytes },
    });
  } finally {
    app.addHook = addHook;
  }
}

const PER_REQUEST_HOOKS = new Set(['onRequest', 'preValidation', 'onResponse']);

type MultipartHook = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** A multipart plugin hook (async, two arguments) that runs only for multipart requests. */
function onlyForMultipart(hook: MultipartHook) {
  return function (
    this: FastifyInstance,
    request: FastifyRequest,
    reply: FastifyReply,
    done: (error?: Error) => void,
  ) {
    if (!request.isMultipart()) return done();
    hook.call(this, request, reply).then(() => done(), done);
  };
}

/**
 * Form fields arrive as strings; a field repeated once is still one string. Where the body
 * schema expects an array, wrap it so form clients and JSON clients meet the same schema.
 */
function wrapSingleFormValues(request: FastifyRequest): void {
  const type = request.headers['content-type'] ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/.test(type)) return;
  const body = request.body as Record<string, unknown> | null;
  const properties = (
    request.routeOptions.schema?.body as { properties?: Record<string, { type?: string }> } | undefined
  )?.properties;
  if (!body || typeof body !== 'object' || !properties) return;
  for (const [name, property] of Object.entries(properties)) {
    if (property.type === 'array' && typeof body[name] === 'string') body[name] = [body[name]];
  }
}
