import type { IncomingMessage } from 'node:http';
import { XMLBuilder } from 'fast-xml-parser';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Response formats (seed 001): JSON by default; XML or an HTML debug page when the path ends in
 * `.xml`/`.html` (or `.json`), or when `Accept` asks for it. Routes only ever produce the JSON
 * envelope; this layer renders it, so every format carries exactly the same data.
 */
export type ResponseFormat = 'json' | 'xml' | 'html';

const SUFFIX = /\.(json|xml|html)$/;
const FORMAT_OF_REQUEST = new WeakMap<IncomingMessage, ResponseFormat>();

/**
 * Fastify `rewriteUrl`: strips a format suffix before routing and remembers it, unless a route is
 * registered with that literal path (e.g. /api/v1/openapi.json).
 */
export function rewriteFormatSuffix(this: FastifyInstance, req: IncomingMessage): string {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const match = SUFFIX.exec(path);
  if (!match || !path.startsWith('/api/')) return url;
  if (this.hasRoute({ method: (req.method ?? 'GET') as 'GET', url: path })) return url;
  FORMAT_OF_REQUEST.set(req, match[1] as ResponseFormat);
  return path.slice(0, -match[0].length) + (queryAt === -1 ? '' : url.slice(queryAt));
}

export function formatFromAccept(accept: string | undefined): ResponseFormat {
  if (!accept) return 'json';
  // The first listed of the types we serve wins; */* and unknown types mean JSON.
  for (const part of accept.split(',')) {
    const type = part.split(';')[0]?.trim().toLowerCase();
    if (type === 'application/json') return 'json';
    if (type === 'application/xml' || type === 'text/xml') return 'xml';
    if (type === 'text/html') return 'html';
  }
  return 'json';
}

export function responseFormat(request: FastifyRequest): ResponseFormat {
  return FORMAT_OF_REQUEST.get(request.raw) ?? formatFromAccept(request.headers.accept);
}

const xmlBuilder = new XMLBuilder({ format: true, ignoreAttributes: true, suppressEmptyNode: false });

/** XML element names cannot start with a digit or hold most punctuation; arrays repeat `item`. */
function toXmlValue(value: unknown): unknown {
  if (Array.isArray(value)) return { item: value.map(toXmlValue) };
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      const safe = /^[A-Za-z_][\w.-]*$/.test(key) ? key : `_${key.replace(/[^\w.-]/g, '_')}`;
      out[safe] = toXmlValue(inner);
    }
    return out;
  }
  return value === null ? '' : value;
}

export function renderXml(envelope: unknown): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xmlBuilder.build({ response: toXmlValue(envelope) })}`;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function htmlValue(value: unknown): string {
  if (value && typeof value === 'object') {
    const rows = Object.entries(value)
      .map(([key, inner]) => `<tr><th>${escapeHtml(key)}</th><td>${htmlValue(inner)}</td></tr>`)
      .join('');
    return `<table>${rows}</table>`;
  }
  if (typeof value === 'string' && /^https?:\/\//.test(value)) {
    return `<a href="${escapeHtml(value)}">${escapeHtml(value)}</a>`;
  }
  return escapeHtml(value === null ? 'null' : String(value));
}

export function renderHtml(envelope: unknown): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Tollgate API</title><style>
body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f4f4f4}
</style></head><body>${htmlValue(envelope)}</body></html>`;
}

/** onSend: re-renders a JSON envelope as XML or HTML when that is what the client asked for. */
export function renderResponseFormat(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): unknown {
  const format = responseFormat(request);
  if (format === 'json' || typeof payload !== 'string') return payload;
  const type = String(reply.getHeader('content-type') ?? '');
  if (!type.startsWith('application/json')) return payload;
  const envelope = JSON.parse(payload);
  if (format === 'xml') {
    reply.type('application/xml; charset=utf-8');
    return renderXml(envelope);
  }
  reply.type('text/html; charset=utf-8');
  return renderHtml(envelope);
}
