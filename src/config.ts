import { networkProblem } from './networks.js';

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
  /**
   * Whether the plain successful rate lookups and LCR queries are answered by the direct lane
   * (DIRECT_LANE, default true; decision 0054). Off behind a trusted proxy.
   */
  directLane: boolean;
  /** Known operator admin key created at start when absent (scripts, tests). */
  adminKey: string | undefined;
  bodyLimitBytes: number;
  rateLimitMax: number;
  rateLimitWindowMs: number;
  /** Failed authentications one address may make per minute before it gets 429 (AUTH_FAILURES_PER_MINUTE). */
  authFailuresPerMinute: number;
  idempotencyTtlHours: number;
  /** A request still 'running' after this is taken to have died with its process (IDEMPOTENCY_ABANDON_SECONDS). */
  idempotencyAbandonSeconds: number;
  pageLimitMax: number;
  shutdownGraceMs: number;
  /** Most CDRs one POST /cdrs may carry (CDR_BATCH_MAX). */
  cdrBatchMax: number;
  /** Body limit of POST /cdrs as a JSON array (CDR_BODY_LIMIT_BYTES); NDJSON/CSV stream past it. */
  cdrBodyLimitBytes: number;
  /** Cap on a call authorization's max_duration_seconds (CALL_MAX_DURATION_SECONDS, default 3 h). */
  callMaxDurationSeconds: number;
  /** A live call whose end never arrives is freed after this (CALL_TIMEOUT_SECONDS). */
  callTimeoutSeconds: number;
  /**
   * 32-byte key (64 hex chars or base64) sealing gateway credentials at rest (AES-256-GCM), from
   * TOLLGATE_SECRETS_KEY. Unset: a fixed development key is used and `secretsKeyIsDefault` says
   * so; never run live gateways like that (docs/payments.md).
   */
  secretsKey: Buffer;
  secretsKeyIsDefault: boolean;
  /** How often `serve` charges due recurring payments and reconciles payments (PAYMENTS_JOB_INTERVAL_SECONDS; 0: never). */
  paymentsJobIntervalSeconds: number;
  /** How often `serve` sends due webhook deliveries (WEBHOOK_INTERVAL_SECONDS, default 5; 0: never). */
  webhookIntervalSeconds: number;
  /**
   * Addresses or CIDR ranges webhook deliveries may reach although they are not public
   * (loopback, private, link-local, …); by default none (decision 0052).
   */
  webhookAllowedNetworks: string[];
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

/** Comma-separated addresses or CIDR ranges; every entry must parse. */
function networks(env: Env, name: string): string[] {
  const entries = (env[name] ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) checkNetwork(name, entry);
  return entries;
}

function checkNetwork(name: string, entry: string): void {
  const problem = networkProblem(entry);
  if (problem !== null) {
    throw new ConfigError(`${name}: '${entry}' is not an IP address or CIDR range: ${problem}`);
  }
}

/** The names Fastify's trustProxy (proxy-addr) takes besides addresses and ranges. */
const TRUST_PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

function trustProxy(raw: string | undefined): Config['trustProxy'] {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  // proxy-addr reads addresses as leniently as ipaddr.js does (010 as octal): held to the same
  // form as the allow-lists, so the proxy trusted is the one the operator wrote.
  for (const entry of raw.split(',').map((part) => part.trim())) {
    if (!TRUST_PROXY_RANGE_NAMES.includes(entry)) checkNetwork('TRUST_PROXY', entry);
  }
  return raw;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(`${name} must be true or false, got '${raw}'`);
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

// Development only: lets the system run out of the box. Anything sealed with it is readable by
// anyone with the source code.
const DEV_SECRETS_KEY = Buffer.from('tollgate-development-secrets-key!', 'utf8').subarray(0, 32);

function secretsKey(raw: string | undefined): Buffer {
  if (raw === undefined || raw === '') return DEV_SECRETS_KEY;
  const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32) {
    throw new ConfigError('TOLLGATE_SECRETS_KEY must be 32 bytes: 64 hex characters or base64');
  }
  return key;
}

export function loadConfig(env: Env = process.env): Config {
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl: databaseUrl(env.DATABASE_URL),
    dataDir: env.TOLLGATE_DATA_DIR || './data',
    logLevel: logLevel(env.LOG_LEVEL),
    trustProxy: trustProxy(env.TRUST_PROXY),
    directLane: flag(env, 'DIRECT_LANE', true),
    adminKey: adminKey(env.TOLLGATE_ADMIN_KEY),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 1_048_576, 1024, 1_073_741_824),
    rateLimitMax: integer(env, 'RATE_LIMIT_MAX', 6000, 1, 10_000_000),
    rateLimitWindowMs: integer(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 86_400_000),
    authFailuresPerMinute: integer(env, 'AUTH_FAILURES_PER_MINUTE', 60, 1, 1_000_000),
    idempotencyTtlHours: integer(env, 'IDEMPOTENCY_TTL_HOURS', 24, 24, 24 * 365),
    idempotencyAbandonSeconds: integer(env, 'IDEMPOTENCY_ABANDON_SECONDS', 60, 1, 3600),
    pageLimitMax: 100,
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    cdrBatchMax: integer(env, 'CDR_BATCH_MAX', 10_000, 1, 1_000_000),
    cdrBodyLimitBytes: integer(env, 'CDR_BODY_LIMIT_BYTES', 16 * 1_048_576, 1024, 1_073_741_824),
    callMaxDurationSeconds: integer(env, 'CALL_MAX_DURATION_SECONDS', 10_800, 1, 86_400),
    callTimeoutSeconds: integer(env, 'CALL_TIMEOUT_SECONDS', 14_400, 60, 172_800),
    secretsKey: secretsKey(env.TOLLGATE_SECRETS_KEY),
    secretsKeyIsDefault: !env.TOLLGATE_SECRETS_KEY,
    paymentsJobIntervalSeconds: integer(env, 'PAYMENTS_JOB_INTERVAL_SECONDS', 60, 0, 86_400),
    webhookIntervalSeconds: integer(env, 'WEBHOOK_INTERVAL_SECONDS', 5, 0, 3_600),
    webhookAllowedNetworks: networks(env, 'WEBHOOK_ALLOWED_NETWORKS'),
  };
}
