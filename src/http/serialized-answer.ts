import type { FastifyReply, FastifyRequest } from 'fastify';
import { selfUrl } from './envelope.js';
import { responseFormat } from './formats.js';

/** The serialized JSON answer last built for an immutable version of something, and for which URL. */
interface SerializedAnswer {
  url: string;
  body: string;
}

const ANSWERS = new WeakMap<object, SerializedAnswer>();
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Answers a read of an immutable value (a cached customer's committed version, say) with the
 * JSON its route's response schema serialized the last time the same URL asked for the same
 * version, serializing it only when either changed. Building the envelope and running the
 * response serializer was about a tenth of a cached read's CPU (docs/operations.md, eighth
 * session); the answer depends only on the version and on the request's absolute URL (its links),
 * so keying by the version object (a new object per committed change) and that URL is exact.
 *
 * JSON only: an `.xml`/`.html` request gets the envelope object, which the format layer renders.
 * Sends the answer itself (the handler then returns nothing). The string still goes through every onSend hook, so headers, metrics and logs are unchanged.
 */
export function answerFromVersion(
  request: FastifyRequest,
  reply: FastifyReply,
  version: object,
  build: () => unknown,
): void {
  if (responseFormat(request) !== 'json') {
    reply.send(build());
    return;
  }
  const url = selfUrl(request);
  let answer = ANSWERS.get(version);
  if (answer === undefined || answer.url !== url) {
    answer = { url, body: reply.serialize(build()) as string };
    ANSWERS.set(version, answer);
  }
  reply.type(JSON_TYPE).send(answer.body);
}
