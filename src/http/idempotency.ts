import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { Batcher, batcherPerDb } from '../db/batcher.js';
import { CLAIM_NOT_HELD, type EffectClaim } from '../db/effect-claims.js';
import type { Db } from '../db/index.js';
import { ApiError } from './errors.js';

/**
 * Idempotency-Key (api-conventions.md): the first completed answer to a write is stored with a
 * fingerprint of the request and replayed for retries with the same key. A different request
 * under the same key, or a retry while the first is still running, is 409. A 5xx answer is not
 * kept, so the client may retry it. Money-moving services additionally dedupe on their own
 * reference keys inside their transactions, which covers a crash between commit and storing.
 */
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_KEY_LENGTH = 255;
/** How long an answer stored after its reply is also kept in memory (two generations of this). */
const RECENT_ANSWERS_MS = 5_000;

interface IdempotencyState {
  scope: string;
  key: string;
}

/** The request was answered from its Idempotency-Key (a stored answer replayed): send nothing more. */
export const ANSWERED_FROM_KEY: unique symbol = Symbol('answered from the Idempotency-Key');

/**
 * The effect of a `claimsWithEffect` route: runs with the request's claim (or null), and answers
 * CLAIM_NOT_HELD when it did not run because the claim was not written.
 */
export type ClaimedEffect<T> = (claim: EffectClaim | null) => Promise<T | typeof CLAIM_NOT_HELD>;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: IdempotencyState | null;
    /** A claimsWithEffect route's claim, made by its effect (idempotentEffect). */
    pendingClaim: EffectClaim | null;
  }
  interface FastifyInstance {
    /**
     * Runs a claimsWithEffect route's effect under the request's Idempotency-Key: answers the
     * effect's result, or ANSWERED_FROM_KEY once the reply has been sent from the key (a replay).
     */
    idempotentEffect<T>(
      request: FastifyRequest,
      reply: FastifyReply,
      effect: ClaimedEffect<T>,
    ): Promise<T | typeof ANSWERED_FROM_KEY>;
  }
  interface FastifyContextConfig {
    /**
     * The handler dedupes its own effect inside its database transaction on a key derived from
     * the Idempotency-Key (the ledger's reference key `http:<scope>:<key>`). Its stored answer is
     * then written with asynchronous commit: a crash that loses it costs the retry a replay of the
     * committed effect, never a second one. See docs/decisions/0021-idempotency-async-commit.md.
     */
    dedupesOwnEffect?: boolean;
    /**
     * A dedupesOwnEffect route whose effect writes the Idempotency-Key claim in its own
     * transaction (PUT /partner/funds, in its transfer batch): the claim is not made before the
     * handler, which runs its effect through `app.idempotentEffect`. One statement and one wait
     * fewer per request; see docs/decisions/0025-idempotency-claim-in-transfer-batch.md. When the
     * effect commits its claim as 'replay' (`answeredByEffect`, decision 0045), no answer is
     * stored: a retry runs the effect again and it replays.
     */
    claimsWithEffect?: boolean;
    /**
     * The route's successful answer holds a secret that is shown once (an API key, a webhook
     * signing secret). Such an answer is not stored: a retry under its Idempotency-Key gets a
     * 409 saying the request already succeeded, never the secret again (it would otherwise sit in
     * the database for the key's lifetime and be replayed even after the key was revoked).
     */
    answerShownOnce?: boolean;
  }
}

/**
 * Runs the statement's own (implicit) transaction with `synchronous_commit = off`: it returns
 * without waiting for the WAL flush. Durable at the next flush (wal_writer_delay, or the next
 * synchronous commit on the server, e.g. the effect the request itself commits).
 */
const asyncCommit = sql`(select set_config('synchronous_commit', 'off', true)) as async_commit`;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return Buffer.isBuffer(value) ? value.toString('base64') : value;
}

export function requestFingerprint(request: FastifyRequest): string {
  return createHash('sha256')
    .update(`${request.method} ${request.url}\n${JSON.stringify(canonical(request.body ?? null))}`)
    .digest('hex');
}

interface StoredEntry {
  fingerprint: string;
  state: string;
  status_code: number | null;
  content_type: string | null;
  body: string | null;
  created_at: Date;
}

interface Windows {
  ttlMs: number;
  abandonedAfterMs: number;
}

interface Claim {
  scope: string;
  key: string;
  fingerprint: string;
}

/**
 * The first step of every claim, for all the claims that arrive together in one statement
 * (src/db/batcher.ts): insert 'running' rows, in key order so that two batches never wait for
 * each other's keys in opposite orders. True for each claim whose row this inserted; of two
 * claims of one key in one batch only the first is inserted (with its fingerprint) and wins.
 */
async function insertClaims(db: Db, claims: Claim[]): Promise<boolean[]> {
  // Asynchronous commit loses nothing here: if the handler commits an effect, that synchronous
  // commit flushes the WAL with this claim in it; if it commits none, a lost claim is harmless.
  const inserted = await sql<{ scope: string; key: string }>`
    insert into idempotency_keys (scope, key, fingerprint, state)
    select distinct on (c.scope, c.key) c.scope, c.key, c.fingerprint, 'running'
      from unnest(${claims.map((c) => c.scope)}::text[], ${claims.map((c) => c.key)}::text[],
                  ${claims.map((c) => c.fingerprint)}::text[]) with ordinality as c(scope, key, fingerprint, n),
           ${asyncCommit}
     order by c.scope, c.key, c.n
    on conflict (scope, key) do nothing
    returning scope, key`.execute(db);
  const fresh = new Set(inserted.rows.map((row) => `${row.scope}\n${row.key}`));
  return claims.map((claim) => fresh.delete(`${claim.scope}\n${claim.key}`));
}

const claimInserter = batcherPerDb((db: Db) => new Batcher((claims: Claim[]) => insertClaims(db, claims)));

interface StoredAnswer {
  scope: string;
  key: string;
  statusCode: number;
  contentType: string;
  body: string;
}

/**
 * The stored answers of routes that dedupe their own effect (asynchronous commit, see
 * dedupesOwnEffect), all those that arrive together in one statement.
 */
async function storeAnswers(db: Db, answers: StoredAnswer[]): Promise<undefined[]> {
  await sql`
    update idempotency_keys k
       set state = 'done', status_code = a.status_code, content_type = a.content_type, body = a.body
      from unnest(${answers.map((a) => a.scope)}::text[], ${answers.map((a) => a.key)}::text[],
                  ${answers.map((a) => a.statusCode)}::int[], ${answers.map((a) => a.contentType)}::text[],
                  ${answers.map((a) => a.body)}::text[]) as a(scope, key, status_code, content_type, body),
           ${asyncCommit}
     where k.scope = a.scope and k.key = a.key`.execute(db);
  return answers.map(() => undefined);
}

const answerStorer = batcherPerDb(
  (db: Db) => new Batcher((answers: StoredAnswer[]) => storeAnswers(db, answers)),
);

async function claim(
  db: Db,
  scope: string,
  key: string,
  fingerprint: string,
  windows: Windows,
): Promise<StoredEntry | null> {
  if (await claimInserter(db).submit({ scope, key, fingerprint })) return null;
  // Take over an expired entry, or a 'running' one its process abandoned (it died): one
  // conditional UPDATE, judged by the database clock, so only one retry can win it.
  const taken = await db
    .updateTable('idempotency_keys')
    .set({
      fingerprint,
      state: 'running',
      status_code: null,
      body: null,
      content_type: null,
      created_at: sql`now()`,
    })
    .where('scope', '=', scope)
    .where('key', '=', key)
    .where((eb) =>
      eb.or([
        eb('created_at', '<', sql<Date>`now() - make_interval(secs => ${windows.ttlMs / 1000})`),
        eb.and([
          eb('state', '=', 'running'),
          eb('created_at', '<', sql<Date>`now() - make_interval(secs => ${windows.abandonedAfterMs / 1000})`),
        ]),
      ]),
    )
    .returning('key')
    .executeTakeFirst();
  if (taken) return null;
  const entry = await db
    .selectFrom('idempotency_keys')
    .select(['fingerprint', 'state', 'status_code', 'content_type', 'body', 'created_at'])
    .where('scope', '=', scope)
    .where('key', '=', key)
    .executeTakeFirst();
  // Deleted between our statements (its first request failed with a 5xx): try again.
  return entry ?? claim(db, scope, key, fingerprint, windows);
}

/**
 * `abandonedAfterSeconds`: a 'running' entry older than this belonged to a process that died
 * mid-request; a retry may take it over (IDEMPOTENCY_ABANDON_SECONDS).
 */
export function registerIdempotency(
  app: FastifyInstance,
  db: Db,
  ttlHours: number,
  abandonedAfterSeconds: number,
): void {
  const windows: Windows = { ttlMs: ttlHours * 3_600_000, abandonedAfterMs: abandonedAfterSeconds * 1000 };
  app.decorateRequest('idempotency', null);
  // Answers of dedupesOwnEffect routes, by scope and key, from their reply until a few seconds
  // after their store commits: a retry that reads the claim while it is still 'running' is
  // answered from here (kept past the commit, so the read and this lookup cannot miss it between
  // them). Two generations, the older dropped every RECENT_ANSWERS_MS.
  let recentAnswers = new Map<string, StoredAnswer>();
  let olderAnswers = new Map<string, StoredAnswer>();
  const rotation = setInterval(() => {
    olderAnswers = recentAnswers;
    recentAnswers = new Map();
  }, RECENT_ANSWERS_MS);
  rotation.unref();
  const recentAnswer = (id: string) => recentAnswers.get(id) ?? olderAnswers.get(id);
  const pendingStores = new Set<Promise<void>>();
  app.addHook('onClose', async () => {
    clearInterval(rotation);
    await Promise.allSettled(pendingStores);
  });

  const checkedKey = (header: string | string[]): string => {
    if (Array.isArray(header) || header.length === 0 || header.length > MAX_KEY_LENGTH) {
      throw new ApiError(
        400,
        'invalid_request',
        `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`,
        'Idempotency-Key',
      );
    }
    return header;
  };
  const scopeOf = (request: FastifyRequest) => request.principal?.keyId ?? `ip:${request.ip}`;

  /**
   * Claims the key, or answers the request from it: 'claimed' (the request goes on and its
   * answer is stored under the key), 'answered' (with the stored answer), or 'replay' (the key's
   * effect is committed and answers by itself: the request goes on, runs it again and it
   * replays; nothing is stored). The 409s are thrown.
   */
  const claimOrAnswer = async (
    request: FastifyRequest,
    reply: FastifyReply,
    scope: string,
    key: string,
    fingerprint: string,
  ): Promise<'claimed' | 'answered' | 'replay'> => {
    const entry = await claim(db, scope, key, fingerprint, windows);
    if (!entry) {
      request.idempotency = { scope, key };
      return 'claimed';
    }
    if (entry.fingerprint !== fingerprint) {
      throw new ApiError(
        409,
        'idempotency',
        'Idempotency-Key was already used for a different request',
        'Idempotency-Key',
      );
    }
    if (entry.state === 'replay') {
      reply.header('idempotency-hit', 'true');
      return 'replay';
    }
    if (entry.state === 'done' && request.routeOptions.config.answerShownOnce && isSuccess(entry)) {
      throw new ApiError(
        409,
        'idempotency',
        'The request with this Idempotency-Key already succeeded; the secret it created is shown only once. List what it created, revoke it if it is not in use, and create another',
        'Idempotency-Key',
      );
    }
    // Still running in the database: its answer may be on its way from this process.
    const answer =
      entry.state === 'done' ? storedAnswerOf(scope, key, entry) : recentAnswer(answerId(scope, key));
    if (!answer) {
      throw new ApiError(
        409,
        'idempotency',
        'A request with this Idempotency-Key is still being processed',
        'Idempotency-Key',
      );
    }
    reply.header('idempotency-hit', 'true');
    reply.code(answer.statusCode).type(answer.contentType).send(answer.body);
    return 'answered';
  };

  const claimKey = async (request: FastifyRequest, reply: FastifyReply, header: string | string[]) => {
    const key = checkedKey(header);
    await claimOrAnswer(request, reply, scopeOf(request), key, requestFingerprint(request));
  };

  const idempotentEffect = async <T>(
    request: FastifyRequest,
    reply: FastifyReply,
    effect: ClaimedEffect<T>,
  ): Promise<T | typeof ANSWERED_FROM_KEY> => {
    const pending = request.pendingClaim;
    let result: T | typeof CLAIM_NOT_HELD;
    try {
      result = await effect(pending);
    } catch (error) {
      if (pending === null || pending.held) {
        if (pending) request.idempotency = { scope: pending.scope, key: pending.key };
        throw error;
      }
      // Refused before its claim was written (bad input): claimed the generic way, the refusal
      // is stored under the key as it was when every claim came first.
      const claimed = await claimOrAnswer(request, reply, pending.scope, pending.key, pending.fingerprint);
      if (claimed !== 'answered') throw error;
      return ANSWERED_FROM_KEY;
    }
    if (result !== CLAIM_NOT_HELD) {
      // A claim committed as 'replay' needs no stored answer: its effect answers retries.
      const storesAnswer = pending !== null && !pending.answeredByEffect;
      if (storesAnswer) request.idempotency = { scope: pending.scope, key: pending.key };
      return result;
    }
    // Not written (taken, a failed batch, or not batchable): claim the generic way, then run the
    // effect again without a claim (a 'replay' key: the effect finds itself and replays).
    if (pending === null) throw new Error('an effect without a claim answered CLAIM_NOT_HELD');
    const claimed = await claimOrAnswer(request, reply, pending.scope, pending.key, pending.fingerprint);
    if (claimed === 'answered') return ANSWERED_FROM_KEY;
    const again = await effect(null);
    if (again === CLAIM_NOT_HELD) throw new Error('an effect without a claim answered CLAIM_NOT_HELD');
    return again;
  };
  app.decorateRequest('pendingClaim', null);
  app.decorate('idempotentEffect', idempotentEffect);

  // Callback style: a request without an Idempotency-Key passes through synchronously, with no
  // promise; one with a key runs the async work as Fastify would.
  const preHandler = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const header = request.headers['idempotency-key'];
    if (header === undefined || !WRITE_METHODS.has(request.method)) return done();
    if (request.routeOptions.config.claimsWithEffect) {
      // Claimed by the handler's effect (idempotentEffect).
      try {
        const scope = scopeOf(request);
        const key = checkedKey(header);
        request.pendingClaim = { scope, key, fingerprint: requestFingerprint(request), held: false };
      } catch (error) {
        return done(error as Error);
      }
      return done();
    }
    claimKey(request, reply, header).then(() => done(), done);
  };
  // Only on routes that can write: reads (most requests) skip Fastify's preHandler stage.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((method) => WRITE_METHODS.has(method))) return;
    const own = route.preHandler === undefined ? [] : [route.preHandler].flat();
    route.preHandler = [preHandler, ...own];
  });

  const store = async (
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    state: IdempotencyState,
  ) => {
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await db
        .deleteFrom('idempotency_keys')
        .where('scope', '=', state.scope)
        .where('key', '=', state.key)
        .execute();
      return payload;
    }
    const contentType = String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8');
    if (request.routeOptions.config.dedupesOwnEffect) {
      // Not waited for: the effect is committed and deduped by the handler's own key, so the
      // answer can follow the reply (one round trip fewer per request; decision 0023). A retry
      // here is answered from recentAnswers until the store has surely committed; one at another
      // process may get the 409 "still being processed", and its next retry the stored answer.
      // An answer that never commits (a crash, a database error) leaves the key running until it
      // is abandoned: then a retry runs the handler again, which replays its committed effect.
      const answer = {
        scope: state.scope,
        key: state.key,
        statusCode: reply.statusCode,
        contentType,
        body: payload,
      };
      recentAnswers.set(answerId(state.scope, state.key), answer);
      const stored: Promise<void> = answerStorer(db)
        .submit(answer)
        .then(
          () => undefined,
          (error: unknown) => request.log.error({ err: error }, 'storing an Idempotency-Key answer failed'),
        )
        .finally(() => pendingStores.delete(stored));
      pendingStores.add(stored);
      return payload;
    }
    // Synchronous: a handler that does not dedupe by itself must not lose its answer.
    const keptBody = request.routeOptions.config.answerShownOnce && reply.statusCode < 300 ? null : payload;
    await sql`
      update idempotency_keys
         set state = 'done', status_code = ${reply.statusCode}, content_type = ${contentType}, body = ${keptBody}
       where scope = ${state.scope} and key = ${state.key}`.execute(db);
    return payload;
  };
  app.addHook('onSend', (request, reply, payload, done) => {
    const state = request.idempotency;
    if (!state) return done(null, payload);
    request.idempotency = null;
    store(request, reply, payload, state).then(
      (stored) => done(null, stored),
      (error) => done(error as Error),
    );
  });
}

const answerId = (scope: string, key: string) => `${scope}\n${key}`;

const isSuccess = (entry: StoredEntry) => (entry.status_code ?? 200) < 300;

const storedAnswerOf = (scope: string, key: string, entry: StoredEntry): StoredAnswer => ({
  scope,
  key,
  statusCode: entry.status_code ?? 200,
  contentType: entry.content_type ?? 'application/json; charset=utf-8',
  body: entry.body ?? '',
});

export async function purgeExpiredIdempotencyKeys(db: Db, ttlHours: number): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', new Date(Date.now() - ttlHours * 3_600_000))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
