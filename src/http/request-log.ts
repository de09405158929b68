import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import pino from 'pino';

const { streamSym, chindingsSym } = pino.symbols;
const ACCESS_MESSAGE = 'request completed';
/** pino's number for `info` (its default `levels`). */
const INFO = 30;

/**
 * The access log: one line per answered request, at info, with the method, URL, host, client
 * address and port (Fastify's `req` serializer), status and time. Fastify's default writes two
 * (one on arrival, one on completion), and at thousands of requests a second the logging is a
 * sizable part of a request's cost. Failed requests and stream errors are logged as Fastify does.
 */
export class OneLineRequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) {
      super.requestCompleted(error, request, reply);
      return;
    }
    const log = reply.log as unknown;
    if (log instanceof LazyRequestLogger) log.access(request, reply);
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, ACCESS_MESSAGE);
  }
}

/**
 * Writes the access line as pino writes `info({ ...bindings, req, res, responseTime }, 'request
 * completed')` with Fastify's `req` and `res` serializers and pino's default format, built as one
 * string and handed to the logger's own destination. Through pino's generic path the line cost
 * about three times as much (measured on `GET /health`, five server starts each, medians:
 * 26,158 req/s with pino's line, 39,384 with this string, 47,773 with no line), and the slower
 * requests it made showed in the one-connection p99 (docs/operations.md, fifth session). False,
 * writing nothing, when the logger is not a plain pino logger (then the caller logs through it).
 */
function writeAccessLine(logger: FastifyBaseLogger, bindings: Bindings, fields: AccessFields): boolean {
  const target = logger as unknown as Record<symbol, unknown>;
  const stream = target[streamSym] as { write?: (line: string) => unknown } | undefined;
  const chindings = target[chindingsSym];
  if (typeof stream?.write !== 'function' || typeof chindings !== 'string') return false;
  let bound = '';
  // for…in, not Object.entries: no array per binding on every request.
  for (const key in bindings) bound += `,${jsonString(key)}:${jsonValue(bindings[key])}`;
  const { version, host, ip, port } = fields;
  const req =
    `{"method":${jsonString(fields.method)},"url":${jsonString(fields.url)}` +
    (version === undefined ? '' : `,"version":${jsonValue(version)}`) +
    (host === undefined ? '' : `,"host":${jsonString(host)}`) +
    (ip === undefined ? '' : `,"remoteAddress":${jsonString(ip)}`) +
    (port === undefined ? '' : `,"remotePort":${port}`) +
    '}';
  stream.write(
    `{"level":${INFO},"time":${timeText()}${chindings}${bound},"req":${req}` +
      `,"res":{"statusCode":${fields.statusCode}},"responseTime":${millisecondsText(fields.elapsedMs)},"msg":"${ACCESS_MESSAGE}"}\n`,
  );
  return true;
}

/** What the access line says of a request: Fastify's `req` serializer's fields, status and time. */
export interface AccessFields {
  method: string;
  url: string;
  /** The Accept-Version header, as Fastify's `req` serializer shows it. */
  version: string | string[] | undefined;
  host: string | undefined;
  ip: string | undefined;
  port: number | undefined;
  statusCode: number;
  elapsedMs: number;
}

function accessFields(request: FastifyRequest, reply: FastifyReply): AccessFields {
  return {
    method: request.method,
    url: request.url,
    version: request.headers['accept-version'],
    host: request.host,
    ip: request.ip,
    port: request.socket?.remotePort,
    statusCode: reply.statusCode,
    elapsedMs: reply.elapsedTime,
  };
}

/**
 * The access line of a request answered outside Fastify (the direct lane, direct-lane.ts): the
 * same line a request's own logger writes, bound to its request id.
 */
export function logDirectAccess(logger: FastifyBaseLogger, requestId: string, fields: AccessFields): void {
  if (!levelEnabled(logger, 'info')) return;
  const bindings = { reqId: requestId };
  if (writeAccessLine(logger, bindings, fields)) return;
  const { method, url, version, host, ip, port, statusCode, elapsedMs } = fields;
  logger.info(
    {
      ...bindings,
      req: { method, url, version, host, remoteAddress: ip, remotePort: port },
      res: { statusCode },
      responseTime: elapsedMs,
    },
    ACCESS_MESSAGE,
  );
}

/**
 * Strings JSON.stringify may escape: a quote, backslash or control character, or a surrogate
 * (it escapes lone ones; any surrogate is left to it to judge).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters JSON must escape.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON text: a plain one (nearly every method, URL, id) without JSON.stringify. */
function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function jsonValue(value: unknown): string {
  return typeof value === 'string' ? jsonString(value) : JSON.stringify(value);
}

/*
 * The line's two numbers without V8's number-to-string for doubles, which was a tenth of the
 * access line's cost in a perf profile: `Date.now()` (past 2^31, so not a small integer) and the
 * fractional response time.
 */
let lastTime = 0;
let lastTimeText = '0';

/** Date.now() as text; the same millisecond (a dozen requests at load) reuses the last one. */
function timeText(): string {
  const now = Date.now();
  if (now !== lastTime) {
    lastTime = now;
    lastTimeText = String(now);
  }
  return lastTimeText;
}

/**
 * Milliseconds to the microsecond (what pino's default shows is noise past that), written from
 * integers: 0.0197 ms → "0.020", 12.5 → "12.500". A JSON number like pino's.
 */
export function millisecondsText(milliseconds: number): string {
  const microseconds = Math.round(milliseconds * 1000);
  if (!(microseconds >= 0 && microseconds < 2 ** 30)) return String(milliseconds);
  const fraction = microseconds % 1000;
  const pad = fraction < 10 ? '00' : fraction < 100 ? '0' : '';
  // | 0 keeps the whole milliseconds a small integer, which V8 writes from its cache.
  return `${(microseconds / 1000) | 0}.${pad}${fraction}`;
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogFn = (...args: unknown[]) => void;
type Bindings = Record<string, unknown>;
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1];

/**
 * A request's logger that becomes a real pino child (bound to the request id) only when
 * something is logged at an enabled level. Fastify makes a child per request, and pino's child
 * serialises its bindings when it is made: a measurable part of a cached read that usually logs
 * nothing (the access line is at info, below the usual production level). Every line that is
 * written still carries the request id.
 */
class LazyRequestLogger {
  private real: FastifyBaseLogger | null = null;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
  ) {}

  private materialise(): FastifyBaseLogger {
    this.real ??= this.parent.child(this.bindings);
    return this.real;
  }

  get level(): string {
    return this.real ? this.real.level : this.parent.level;
  }

  set level(level: string) {
    this.materialise().level = level;
  }

  /**
   * The access line at info, carrying the request's bindings, without making the child: written
   * for every request at `info`, the default level. The line is the same as the child's.
   */
  access(request: FastifyRequest, reply: FastifyReply): void {
    // The fields object (and its elapsedTime) only for the paths that log through pino.
    const fields = () => ({ req: request, res: reply, responseTime: reply.elapsedTime });
    // A child made for the route has its own level and serializers: it writes its line itself.
    if (this.real !== null) return void this.real.info(fields(), ACCESS_MESSAGE);
    if (
      !levelEnabled(this.parent, 'info') ||
      writeAccessLine(this.parent, this.bindings, accessFields(request, reply))
    )
      return;
    this.parent.info({ ...this.bindings, ...fields() }, ACCESS_MESSAGE);
  }

  private write(level: Level, args: unknown[]): void {
    if (this.real === null && !levelEnabled(this.parent, level)) return;
    (this.materialise()[level] as LogFn)(...args);
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}

  isLevelEnabled(level: string): boolean {
    return levelEnabled(this.real ?? this.parent, level);
  }

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.materialise().child(bindings, options);
  }
}

/** pino's isLevelEnabled; a logger without it is asked to log (it decides). */
function levelEnabled(logger: FastifyBaseLogger, level: string): boolean {
  const check = (logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  return check === undefined || check.call(logger, level);
}

/**
 * Fastify `childLoggerFactory`: the lazy logger above, unless the route asks for its own level
 * or serializers (then a real child at once, as Fastify would make).
 */
export function lazyChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildOptions,
): FastifyBaseLogger {
  if (options && (options.level !== undefined || options.serializers !== undefined)) {
    return logger.child(bindings, options);
  }
  return new LazyRequestLogger(logger, bindings) as unknown as FastifyBaseLogger;
}
