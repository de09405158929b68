/**
 * Every setting in one typed place. Read from environment variables and validated once at
 * start: a bad value stops the process with a message naming the variable, instead of
 * surfacing later as a confusing runtime error.
 */
export interface Config {
  port: number;
  host: string;
  /** postgres://… switches from the embedded PGlite database to PostgreSQL. */
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Passed to Fastify's trustProxy: false, true, a hop count or a list of addresses/CIDRs. */
  trustProxy: boolean | number | string;
  /** Known operator admin key created at start when absent (scripts, tests). */
  adminKey: string | undefined;
  bodyLimitBytes: number;
  rateLimitMax: number;
  rateLimitWindowMs: number;
  idempotencyTtlHours: number;
  pageLimitMax: number;
  shutdownGraceMs: number;
}

export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got '${raw}'`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function trustProxy(raw: string | undefined): Config['trustProxy'] {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw;
}

function databaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql://, got '${raw}'`);
  }
  return raw;
}

function logLevel(raw: string | undefined): Config['logLevel'] {
  const value = raw === undefined || raw === '' ? 'info' : raw;
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${value}'`);
  }
  return value as Config['logLevel'];
}

function adminKey(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < 24 || raw.length > 200 || /\s/.test(raw)) {
    throw new ConfigError('TOLLGATE_ADMIN_KEY must be 24 to 200 characters without spaces');
  }
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl: databaseUrl(env.DATABASE_URL),
    dataDir: env.TOLLGATE_DATA_DIR || './data',
    logLevel: logLevel(env.LOG_LEVEL),
    trustProxy: trustProxy(env.TRUST_PROXY),
    adminKey: adminKey(env.TOLLGATE_ADMIN_KEY),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024, 1_073_741_824),
    rateLimitMax: integer(env, 'RATE_LIMIT_MAX', 6000, 1, 10_000_000),
    rateLimitWindowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 86_400_000),
    idempotencyTtlHours: integer(env, 'IDEMPOTENCY_TTL_HOURS', 24, 24, 24 * 365),
    pageLimitMax: 100,
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
  };
}
