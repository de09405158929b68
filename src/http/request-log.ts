import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

const LOGS_INFO = new Set(['trace', 'debug', 'info']);

/**
 * The access log: one line per answered request, at info, with the method, URL, client address,
 * status and time. Fastify's default writes two (one on arrival, one on completion), and at
 * thousands of requests a second the logging is a sizable part of a request's cost. Failed
 * requests and stream errors are logged as Fastify does.
 */
export class OneLineRequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) return super.requestCompleted(error, request, reply);
    if (!LOGS_INFO.has(reply.log.level)) return;
    reply.log.info(
      {
        req: { method: request.method, url: request.url, remoteAddress: request.ip },
        res: { statusCode: reply.statusCode },
        responseTime: reply.elapsedTime,
      },
      'request completed',
    );
  }
}
