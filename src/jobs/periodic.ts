import type { FastifyBaseLogger } from 'fastify';

/**
 * A background job every `intervalSeconds` (0 disables it), one run at a time: the next run is
 * scheduled only when the previous one has finished, so a slow run never overlaps itself. Used
 * by `serve` for the payments jobs and webhook deliveries; both are safe to run in several
 * processes at once because their work is claimed in the database.
 */
export interface PeriodicJob {
  /** Stops scheduling and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

export function startPeriodicJob<T>(
  name: string,
  intervalSeconds: number,
  run: () => Promise<T>,
  log: FastifyBaseLogger,
  /** Whether a run's result is worth an info line (quiet runs stay out of the log). */
  worthLogging: (result: T) => boolean,
): PeriodicJob {
  if (intervalSeconds === 0) return { stop: async () => {} };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    running = run()
      .then((result) => {
        if (worthLogging(result)) log.info({ job: name, result }, `${name} ran`);
      })
      .catch((err: unknown) => log.error({ err, job: name }, `${name} failed; next run as scheduled`))
      .finally(() => {
        running = null;
        if (!stopped) timer = setTimeout(tick, intervalSeconds * 1000);
      });
  };
  timer = setTimeout(tick, intervalSeconds * 1000);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
