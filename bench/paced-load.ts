import http from 'node:http';
import { type LatencySummary, summarise } from './latency.js';

export interface PacedResult {
  /** Time from the actual send to the end of the response. */
  service: LatencySummary;
  /**
   * Time from when the request was due on the schedule to the end of the response: includes any
   * lag of the generator or a backlog at the server, so a slow server cannot hide by slowing the
   * sender down (coordinated omission).
   */
  scheduled: LatencySummary;
  failed: number;
  achievedPerSecond: number;
}

const REQUEST_TIMEOUT_MS = 10_000;
/** After the schedule ends, requests still waiting this long are abandoned and count as failed. */
const DRAIN_MS = 10_000;

/**
 * Open-loop load at an even rate: request i is due at start + i/rate, whatever happened to the
 * earlier ones. autocannon's overallRate instead lets each connection send its share of a second
 * back to back and then wait for the next second, which measures bursts, not a steady rate.
 */
export function pacedLoad(
  url: string,
  headers: Record<string, string>,
  ratePerSecond: number,
  seconds: number,
  /** POST and the like: every request sends this method and body (default GET, no body). */
  requestOptions: { method?: string; body?: string } = {},
) {
  const target = new URL(url);
  const { method = 'GET', body } = requestOptions;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round(ratePerSecond * seconds);
  const intervalMs = 1000 / ratePerSecond;
  const service = new Float64Array(total);
  const scheduled = new Float64Array(total);
  let failed = 0;
  let finished = 0;
  const start = performance.now();
  const pending = new Set<http.ClientRequest>();

  return new Promise<PacedResult>((resolve) => {
    const done = new Uint8Array(total);
    const complete = (index: number, sentAt: number, ok: boolean) => {
      if (done[index]) return;
      done[index] = 1;
      const now = performance.now();
      service[index] = now - sentAt;
      scheduled[index] = now - (start + index * intervalMs);
      if (!ok) failed++;
      if (++finished < total) return;
      clearTimeout(deadline);
      agent.destroy();
      resolve({
        service: summarise(service),
        scheduled: summarise(scheduled),
        failed,
        achievedPerSecond: total / ((performance.now() - start) / 1000),
      });
    };
    const send = (index: number) => {
      const sentAt = performance.now();
      const request = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method,
          headers,
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          response.resume();
          response.on('end', () => complete(index, sentAt, response.statusCode === 200));
        },
      );
      pending.add(request);
      request.on('close', () => pending.delete(request));
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', () => complete(index, sentAt, false));
      request.end(body);
    };
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (sent < due) send(sent++);
      if (sent === total) clearInterval(timer);
    }, 1);
    // A server slower than the rate builds a backlog; bound how long the run may take.
    const deadline = setTimeout(
      () => {
        for (const request of pending) request.destroy(new Error('abandoned'));
      },
      seconds * 1000 + DRAIN_MS,
    );
  });
}
