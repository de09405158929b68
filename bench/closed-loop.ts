import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { summarise } from './latency.js';

/**
 * Closed-loop load for bench/http.ts (N connections, each sending its next request when the
 * answer arrives), and what a run cost in CPU. The load generator is wrk when it is installed:
 * a C program that needs about a third of a core for a 20,000 req/s server, where autocannon
 * (JavaScript, in the bench's own process) needs most of a core to drive a fast hello-world on
 * a 2-core machine, and then its own limit, not the server's, sets the baseline's figure.
 * autocannon is the fallback, so the bench runs anywhere `npm install` does.
 */
export type Generator = 'wrk' | 'autocannon';

export interface LoadRun {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU the server process used per answered request (Linux /proc; null elsewhere). */
  serverMicrosPerRequest: number | null;
  /** Cores busy during the run: the server, the load generator, the whole machine (null without /proc). */
  serverCores: number | null;
  generatorCores: number | null;
  machineCores: number | null;
}

export interface LoadTarget {
  url: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  serverPid: number;
  /**
   * A wrk Lua script that builds the requests (method, body, per-request headers), and the
   * arguments its init() receives. wrk only: autocannon has its own way (bench/ledger.ts).
   */
  script?: { path: string; args: string[] };
}

export function pickGenerator(requested: string | undefined): Generator {
  const wrkInstalled = spawnSync('wrk', ['-v']).error === undefined;
  if (requested === 'autocannon') return 'autocannon';
  if (requested === 'wrk' && !wrkInstalled) throw new Error('--generator wrk: wrk is not installed');
  if (requested !== undefined && requested !== 'wrk') throw new Error(`--generator: unknown '${requested}'`);
  return wrkInstalled ? 'wrk' : 'autocannon';
}

/** Kernel clock ticks per second, the unit of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** utime + stime of a process in seconds, or null where there is no /proc. */
function processCpuSeconds(pid: number): number | null {
  try {
    // Fields after the command name, which may itself hold spaces: utime and stime are 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine (all but idle and iowait), or null. */
function machineCpuSeconds(): number | null {
  try {
    const [, ...times] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const ticks = times.slice(0, 8).map(Number);
    const total = ticks.reduce((sum, value) => sum + value, 0);
    return (total - ticks[3]! - ticks[4]!) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

const delta = (before: number | null, after: number | null) =>
  before === null || after === null ? null : after - before;

export async function runClosedLoop(generator: Generator, target: LoadTarget): Promise<LoadRun> {
  const server0 = processCpuSeconds(target.serverPid);
  const machine0 = machineCpuSeconds();
  const started = performance.now();
  if (target.script && generator !== 'wrk') throw new Error('a wrk script needs wrk');
  const run = generator === 'wrk' ? await runWrk(target) : await runAutocannon(target);
  const elapsed = (performance.now() - started) / 1000;
  const serverCpu = delta(server0, processCpuSeconds(target.serverPid));
  const machineCpu = delta(machine0, machineCpuSeconds());
  const answered = run.requestsPerSecond * target.seconds;
  return {
    requestsPerSecond: run.requestsPerSecond,
    p50Ms: run.p50Ms,
    p99Ms: run.p99Ms,
    serverMicrosPerRequest: serverCpu === null ? null : (serverCpu * 1e6) / answered,
    serverCores: serverCpu === null ? null : serverCpu / elapsed,
    generatorCores: run.generatorCpu === null ? null : run.generatorCpu / elapsed,
    machineCores: machineCpu === null ? null : machineCpu / elapsed,
  };
}

interface GeneratorRun {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds the generator used (for autocannon: this whole process). */
  generatorCpu: number | null;
}

/** An autocannon run; with overallRate, at that many requests a second in all (bench/http.ts's fixed rate). */
export async function runAutocannon(
  target: Omit<LoadTarget, 'serverPid'>,
  overallRate?: number,
): Promise<GeneratorRun> {
  const cpu0 = process.cpuUsage();
  // Latencies from every response: autocannon's own histogram has 1 ms steps.
  const samples: number[] = [];
  const instance = autocannon({
    url: target.url,
    headers: target.headers,
    connections: target.connections,
    duration: target.seconds,
    overallRate,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode === 200) samples.push(responseTimeMs);
  });
  const result = await instance;
  const failures = result.non2xx + result.errors + result.timeouts;
  if (failures > 0) {
    throw new Error(
      `${target.url}: ${failures} failed requests (${JSON.stringify(result.statusCodeStats)}); figures would be meaningless`,
    );
  }
  const cpu = process.cpuUsage(cpu0);
  const latency = summarise(samples);
  return {
    requestsPerSecond: result.requests.total / result.duration,
    p50Ms: latency.p50Ms,
    p99Ms: latency.p99Ms,
    generatorCpu: (cpu.user + cpu.system) / 1e6,
  };
}

const WRK_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

/** One wrk thread: its CPU is read from /proc while it runs (the last reading is at most 100 ms old). */
async function runWrk(target: LoadTarget): Promise<GeneratorRun> {
  const headerArgs = Object.entries(target.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  const scriptArgs = target.script
    ? ['-s', target.script.path, target.url, '--', ...target.script.args]
    : [target.url];
  const child = spawn(
    'wrk',
    ['-t1', `-c${target.connections}`, `-d${target.seconds}s`, '--latency', ...headerArgs, ...scriptArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let generatorCpu: number | null = null;
  const poll = setInterval(() => {
    generatorCpu = processCpuSeconds(child.pid!) ?? generatorCpu;
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(poll);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const percentile = (which: number) => {
    const match = new RegExp(`\\s${which}%\\s+([\\d.]+)(us|ms|s)\\b`).exec(output);
    return match ? Number(match[1]) * WRK_UNITS[match[2]!]! : null;
  };
  const p50 = percentile(50);
  const p99 = percentile(99);
  const failures = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(output);
  if (code !== 0 || !rate || p50 === null || p99 === null || failures) {
    throw new Error(
      `${target.url}: wrk failed or saw failed requests; figures would be meaningless\n${output}`,
    );
  }
  return {
    requestsPerSecond: Number(rate[1]),
    p50Ms: p50,
    p99Ms: p99,
    generatorCpu,
  };
}
