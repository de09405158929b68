/**
 * Starting the servers the benchmarks measure, one way for all of them: the bare Fastify
 * hello-world baseline and Tollgate both run with the server's V8 flags (src/node-flags.ts), so a
 * ratio compares code, not process settings. (The flags change nothing measurable for the
 * hello-world, which leaves almost no garbage; they are passed to it so that nobody has to take
 * that on trust.)
 */
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';
import { freePort } from '../test/helpers/server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STARTUP_TIMEOUT_MS = 180_000;

/**
 * Node arguments that run bench/hello-world.ts. It is plain JavaScript evaluated without a loader,
 * as Tollgate's compiled dist/ runs.
 */
export function helloWorldArgs(): string[] {
  return [
    ...SERVER_NODE_FLAGS,
    '--input-type=module',
    '--eval',
    readFileSync(join(ROOT, 'bench/hello-world.ts'), 'utf8'),
  ];
}

export interface NodeServer {
  url: string;
  child: ChildProcess;
}

export interface StartOptions {
  stdio?: StdioOptions;
  /** More of the server's output to show if it does not come up (a log file's tail, say). */
  output?: () => string;
}

/** Spawns node with `args` on a free port and waits until `readyPath` answers 2xx. */
export async function startNodeServer(
  args: string[],
  env: Record<string, string>,
  readyPath: string,
  { stdio = ['ignore', 'ignore', 'inherit'], output = () => '' }: StartOptions = {},
): Promise<NodeServer> {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio,
  });
  // Piped standard error (`stdio[2]` 'pipe') is kept to explain a server that does not come up.
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(url + readyPath)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill('SIGKILL');
  throw new Error(
    `node ${args.slice(0, 4).join(' ')} did not come up on ${url}${readyPath}\n${output()}${stderr}`,
  );
}

/** Garbage collections of a Tollgate server so far, by kind, from its /metrics (prom-client's). */
export interface ServerGc {
  minor: { count: number; ms: number };
  major: { count: number; ms: number };
}

export async function serverGc(baseUrl: string): Promise<ServerGc> {
  const response = await fetch(`${baseUrl}/metrics`);
  const text = await response.text();
  // A kind's series appears at its first collection, so a missing series is zero; a missing
  // histogram means the metric was renamed, and zeros would then be a false reading.
  if (!response.ok || !text.includes('# TYPE tollgate_nodejs_gc_duration_seconds histogram')) {
    throw new Error(`${baseUrl}/metrics (${response.status}) has no tollgate_nodejs_gc_duration_seconds`);
  }
  const read = (kind: string, part: 'count' | 'sum') =>
    Number(
      text.match(
        new RegExp(`^tollgate_nodejs_gc_duration_seconds_${part}\\{kind="${kind}"\\} (\\S+)$`, 'm'),
      )?.[1] ?? 0,
    );
  const of = (kind: string) => ({ count: read(kind, 'count'), ms: read(kind, 'sum') * 1000 });
  return { minor: of('minor'), major: of('major') };
}

/** What a server collected between two readings of serverGc, as one line. */
export function gcBetween(before: ServerGc, after: ServerGc, seconds: number): string {
  const line = (kind: 'minor' | 'major', label: string) => {
    const count = after[kind].count - before[kind].count;
    const ms = after[kind].ms - before[kind].ms;
    return `${count} ${label} (${(count / seconds).toFixed(1)}/s, ${ms.toFixed(1)} ms${count ? `, ${(ms / count).toFixed(2)} ms each` : ''})`;
  };
  return `${line('minor', 'scavenges')}, ${line('major', 'mark-compacts')}`;
}
