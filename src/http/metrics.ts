import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** What prom-client's Registry reads from a metric on a scrape (its Counter and Histogram give the same). */
interface ScrapedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** One request-count series (method, route, status). */
interface CountSeries {
  labels: { method: string; route: string; status: string };
  count: number;
}

interface RouteSeries {
  duration: DurationSeries;
  statuses: Map<number, CountSeries>;
}

/** One latency series (method, route): per-bucket counts (not cumulative), sum and count. */
interface DurationSeries {
  labels: { method: string; route: string };
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * The request counter and latency histogram, kept as plain numbers per series and handed to
 * prom-client's registry in its metric format at scrape time. prom-client's own Counter and
 * Histogram hash the label object on every inc/observe (children from `labels()` too), which was
 * a few percent of a cached GET; here a request does three Map lookups (route, method, status) with
 * the strings Fastify already holds (docs/decisions/0011-lean-rate-limit-and-metrics.md).
 */
export class RequestMetrics {
  private readonly counts = new Map<string, CountSeries>();
  private readonly durations = new Map<string, DurationSeries>();
  /** route → method → its series: lookups by the strings Fastify already holds, no key to build. */
  private readonly byRoute = new Map<string, Map<string, RouteSeries>>();

  record(method: string, route: string, status: number, seconds: number): void {
    let methods = this.byRoute.get(route);
    if (methods === undefined) {
      methods = new Map();
      this.byRoute.set(route, methods);
    }
    let series = methods.get(method);
    if (series === undefined) {
      series = { duration: this.durationSeries(method, route), statuses: new Map() };
      methods.set(method, series);
    }
    let count = series.statuses.get(status);
    if (count === undefined) {
      count = this.countSeries(method, route, status);
      series.statuses.set(status, count);
    }
    count.count++;
    const duration = series.duration;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    duration.buckets[bucket]!++;
    duration.sum += seconds;
    duration.count++;
  }

  private countSeries(method: string, route: string, status: number): CountSeries {
    const key = `${method} ${route} ${status}`;
    let series = this.counts.get(key);
    if (series === undefined) {
      series = { labels: { method, route, status: String(status) }, count: 0 };
      this.counts.set(key, series);
    }
    return series;
  }

  private durationSeries(method: string, route: string): DurationSeries {
    const key = `${method} ${route}`;
    let series = this.durations.get(key);
    if (series === undefined) {
      series = {
        labels: { method, route },
        buckets: new Array(DURATION_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.durations.set(key, series);
    }
    return series;
  }

  /** prom-client metric objects (Registry.registerMetric calls get() on every scrape). */
  metricObjects() {
    const counts = this.counts;
    const durations = this.durations;
    const requests = {
      name: 'tollgate_http_requests_total',
      help: 'HTTP requests answered, by method, route and status',
      type: 'counter',
      aggregator: 'sum',
      get: async (): Promise<ScrapedMetric> => ({
        name: requests.name,
        help: requests.help,
        type: 'counter',
        aggregator: 'sum',
        values: [...counts.values()].map((series) => ({ labels: { ...series.labels }, value: series.count })),
      }),
    };
    const duration = {
      name: 'tollgate_http_request_duration_seconds',
      help: 'HTTP request duration, by method and route',
      type: 'histogram',
      aggregator: 'sum',
      get: async (): Promise<ScrapedMetric> => {
        const values: ScrapedMetric['values'] = [];
        for (const series of durations.values()) {
          let cumulative = 0;
          for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
            cumulative += series.buckets[i]!;
            const le = i < DURATION_BUCKETS.length ? DURATION_BUCKETS[i]! : '+Inf';
            values.push({
              metricName: `${duration.name}_bucket`,
              labels: { ...series.labels, le },
              value: cumulative,
            });
          }
          values.push({
            metricName: `${duration.name}_sum`,
            labels: { ...series.labels },
            value: series.sum,
          });
          values.push({
            metricName: `${duration.name}_count`,
            labels: { ...series.labels },
            value: series.count,
          });
        }
        return {
          name: duration.name,
          help: duration.help,
          type: 'histogram',
          aggregator: 'sum',
          values,
        };
      },
    };
    return [requests, duration];
  }
}

/**
 * Prometheus metrics: process defaults plus request counts and latencies per route. The request
 * metrics are returned too: the direct lane (direct-lane.ts) records its requests in them.
 */
export function registerMetrics(app: FastifyInstance): { registry: Registry; requests: RequestMetrics } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  const metrics = new RequestMetrics();
  for (const metric of metrics.metricObjects()) {
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
  app.addHook('onResponse', (request, reply, done) => {
    // Unmatched URLs share one label so a scanner cannot blow up the series count.
    metrics.record(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
  return { registry, requests: metrics };
}
