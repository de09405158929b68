import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  /** Requests that failed, were not answered 2xx, or were still waiting 10 s after the schedule. */
  failed: number;
  achievedPerSecond: number;
}

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'paced-sender.c');

/** The compiled bench/paced-sender.c, built once per version of its source with the system's cc. */
function senderBinary(): string {
  const source = readFileSync(SOURCE);
  const binary = join(
    tmpdir(),
    `tollgate-paced-sender-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`,
  );
  if (existsSync(binary)) return binary;
  const build = spawnSync('cc', ['-O2', '-Wall', '-o', binary, SOURCE], { encoding: 'utf8' });
  if (build.error || build.status !== 0) {
    throw new Error(
      `building bench/paced-sender.c needs a C compiler (cc): ${build.error?.message ?? build.stderr}`,
    );
  }
  return binary;
}

/**
 * Open-loop load at an even rate: request i is due at start + i/rate, whatever happened to the
 * earlier ones, sent by bench/paced-sender.c in its own process (see there for why C).
 * autocannon's overallRate instead lets each connection send its share of a second back to back
 * and then wait for the next second, which measures bursts, not a steady rate.
 */
export async function pacedLoad(
  url: string,
  headers: Record<string, string>,
  ratePerSecond: number,
  seconds: number,
  /** POST and the like: every request sends this method and body (default GET, no body). */
  requestOptions: { method?: string; body?: string } = {},
): Promise<PacedResult> {
  const target = new URL(url);
  const { method = 'GET', body } = requestOptions;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-paced-'));
  try {
    const bodyFile = body === undefined ? '-' : join(dir, 'body');
    if (body !== undefined) writeFileSync(bodyFile, body);
    const args = [
      target.hostname,
      target.port,
      String(ratePerSecond),
      String(seconds),
      method,
      `${target.pathname}${target.search}`,
      bodyFile,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    const started = performance.now();
    const child = spawn(senderBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const elapsedSeconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`paced-sender exited with ${code}: ${errors}`);
    const lines = output.trim().split('\n');
    const service = new Float64Array(lines.length);
    const scheduled = new Float64Array(lines.length);
    let failed = 0;
    lines.forEach((line, index) => {
      const [fromSend, fromSchedule, status] = line.split(' ').map(Number);
      service[index] = fromSend!;
      scheduled[index] = fromSchedule!;
      if (!(status! >= 200 && status! < 300)) failed++;
    });
    return {
      service: summarise(service),
      scheduled: summarise(scheduled),
      failed,
      achievedPerSecond: lines.length / elapsedSeconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
