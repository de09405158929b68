import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * Counts requests between arrival and the end of their response. Graceful shutdown waits for
 * the count to reach zero before closing the database: a request whose client hung up keeps
 * running on the server (Fastify's close does not wait for it), and it must not find the
 * database gone halfway through its work. The same hook sets the X-Request-Id response header.
 */
export interface InFlight {
  drain(timeoutMs: number): Promise<boolean>;
  /** Counts a request answered outside Fastify (the direct lane) until its response closes. */
  begin(response: ServerResponse): Progress;
  /** Its answer is made; the count drops once the response has closed too. */
  answered(progress: Progress): void;
}

/** Per request: whether its answer has gone through onSend, and whether its connection closed. */
export interface Progress {
  answered: boolean;
  closed: boolean;
}
const PROGRESS = Symbol('tollgate.inFlight');
type Tracked = { [PROGRESS]?: Progress };

export function trackInFlight(app: FastifyInstance): InFlight {
  let count = 0;
  let waiters: Array<() => void> = [];
  const release = () => {
    count--;
    if (count === 0) {
      for (const wake of waiters) wake();
      waiters = [];
    }
  };
  // A request is done once its answer was made (onSend: handler, or error handler, finished) and
  // its connection is done with it ('close': sent, or the client hung up). onResponse alone is
  // not enough: it never fires for a client that hung up, which kept such a request "running"
  // until shutdown timed out.
  const begin = (response: ServerResponse): Progress => {
    count++;
    const progress: Progress = { answered: false, closed: false };
    response.on('close', () => {
      progress.closed = true;
      if (progress.answered) release();
    });
    return progress;
  };
  const answered = (progress: Progress) => {
    if (progress.answered) return;
    progress.answered = true;
    if (progress.closed) release();
  };
  // Callback-style hooks: no promise per request for a counter.
  // Also answers X-Request-Id: one hook for the two first things every request does.
  app.addHook('onRequest', (request, reply, done) => {
    (request as Tracked)[PROGRESS] = begin(reply.raw);
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onSend', (request, _reply, payload, done) => {
    const progress = (request as Tracked)[PROGRESS];
    if (progress) answered(progress);
    done(null, payload);
  });
  return {
    begin,
    answered,
    drain(timeoutMs) {
      if (count === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        waiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
  };
}
