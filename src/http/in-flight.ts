import type { FastifyInstance } from 'fastify';

/**
 * Counts requests between arrival and the end of their response. Graceful shutdown waits for
 * the count to reach zero before closing the database: a request whose client hung up keeps
 * running on the server (Fastify's close does not wait for it), and it must not find the
 * database gone halfway through its work. The same hook sets the X-Request-Id response header.
 */
export interface InFlight {
  drain(timeoutMs: number): Promise<boolean>;
}

export function trackInFlight(app: FastifyInstance): InFlight {
  let count = 0;
  let waiters: Array<() => void> = [];
  // Callback-style hooks: no promise per request for a counter.
  // Also answers X-Request-Id: one hook for the two first things every request does.
  app.addHook('onRequest', (request, reply, done) => {
    count++;
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (_request, _reply, done) => {
    count--;
    if (count === 0) {
      for (const wake of waiters) wake();
      waiters = [];
    }
    done();
  });
  return {
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
