import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify';

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
    const fields = { req: request, res: reply, responseTime: reply.elapsedTime };
    const log = reply.log as unknown;
    if (log instanceof LazyRequestLogger) log.infoWithBindings(fields, 'request completed');
    else reply.log.info(fields, 'request completed');
  }
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
   * One line at info carrying the request's bindings, without making the child: the access line,
   * written for every request at `info`, the default level. The line is the same as the child's.
   */
  infoWithBindings(fields: Bindings, message: string): void {
    if (this.real !== null) this.real.info(fields, message);
    else if (levelEnabled(this.parent, 'info')) this.parent.info({ ...this.bindings, ...fields }, message);
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
