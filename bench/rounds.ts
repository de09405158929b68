import { type Generator, type LoadRun, runClosedLoop } from './closed-loop.js';

/**
 * Closed-loop throughput of a baseline and one or more servers, measured in alternating rounds:
 * bench:http and bench:rating compare Tollgate with the hello-world this way. On a shared virtual
 * machine the speed of the same server moves by a third from one run to the next (docs/
 * operations.md), so a ratio of two single runs says little; each round's ratio comes from two
 * adjacent runs, and the median over the rounds is reported with its spread.
 */

/** A server under load in the rounds. The first contender is the baseline of every ratio. */
export interface Contender {
  label: string;
  serverPid: number;
  url: string;
  headers: Record<string, string>;
  runs: LoadRun[];
}

export interface RoundsOptions {
  generator: Generator;
  connections: number;
  /** Load on each contender before the first round (its steady speed is what is measured). */
  warmupSeconds: number;
  rounds: number;
  roundSeconds: number;
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
export const ms = (value: number) => `${value.toFixed(2)} ms`;
export const perSecond = (value: number) => `${value.toFixed(0).padStart(7)} req/s`;
const micros = (value: number | null) => (value === null ? '' : `${value.toFixed(0).padStart(4)} µs CPU/req`);
const cores = (value: number | null) => (value === null ? '?' : value.toFixed(2));

/**
 * Warm-up of every contender alike, then the rounds; odd rounds reverse the order (ABBA), so
 * drift in the machine's speed during a run falls on both sides of each ratio.
 */
export async function rounds(contenders: Contender[], options: RoundsOptions): Promise<void> {
  const load = (contender: Contender, seconds: number) =>
    runClosedLoop(options.generator, {
      url: contender.url,
      headers: contender.headers,
      connections: options.connections,
      seconds,
      serverPid: contender.serverPid,
    });
  for (const contender of contenders) {
    if (options.warmupSeconds > 0) await load(contender, options.warmupSeconds);
  }
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) contender.runs.push(await load(contender, options.roundSeconds));
    const [baseline, ...others] = contenders;
    const runOf = (contender: Contender) => contender.runs[round]!;
    console.log(
      `round ${round + 1}: ` +
        contenders
          .map(
            (c) =>
              `${c.label} ${runOf(c).requestsPerSecond.toFixed(0)} (${micros(runOf(c).serverMicrosPerRequest).trim()})`,
          )
          .join(', ') +
        others
          .map(
            (c) => `; ratio ${(runOf(c).requestsPerSecond / runOf(baseline!).requestsPerSecond).toFixed(3)}`,
          )
          .join('') +
        `; cores: ${contenders.map((c) => `${c.label} server ${cores(runOf(c).serverCores)} generator ${cores(runOf(c).generatorCores)} machine ${cores(runOf(c).machineCores)}`).join(' | ')}`,
    );
  }
}

/**
 * The medians of the rounds and, with a goal ratio, each non-baseline contender's median ratio to
 * the baseline and the spread of its per-round ratios (returned in contender order).
 */
export function summariseRounds(
  contenders: Contender[],
  options: RoundsOptions,
  goalRatio?: number,
): number[] {
  console.log(`\nmedian of ${options.rounds} rounds of ${options.roundSeconds} s:`);
  for (const contender of contenders) {
    const cpu = contender.runs.map((run) => run.serverMicrosPerRequest);
    console.log(
      `${contender.label.padEnd(44)} ${perSecond(median(contender.runs.map((run) => run.requestsPerSecond)))}   ` +
        `p50 ${ms(median(contender.runs.map((run) => run.p50Ms)))}   p99 ${ms(median(contender.runs.map((run) => run.p99Ms)))}   ` +
        micros(cpu.includes(null) ? null : median(cpu as number[])),
    );
  }
  if (goalRatio === undefined) return [];
  const [baseline, ...others] = contenders;
  return others.map((contender) => {
    const ratios = contender.runs.map(
      (run, i) => run.requestsPerSecond / baseline!.runs[i]!.requestsPerSecond,
    );
    const ratio = median(ratios);
    console.log(
      `ratio ${contender.label}: ${ratio.toFixed(3)} (goal >= ${goalRatio}; rounds ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`,
    );
    return ratio;
  });
}
