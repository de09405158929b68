/**
 * What links are built from: a FastifyRequest has these, and so does a request the direct lane
 * answers (direct-lane.ts).
 */
export interface RequestOrigin {
  readonly protocol: string;
  readonly host: string;
  /** The URL as the client sent it, before routing's rewrites. */
  readonly originalUrl: string;
}

/**
 * Absolute URL for a path on this server, built from the request's host. Fastify honours
 * X-Forwarded-Host/Proto only when TRUST_PROXY is configured, so a client cannot forge links.
 */
export function absoluteUrl(request: RequestOrigin, path: string): string {
  return originOf(request) + path;
}

/** The request's origin: protocol and host consult the proxy trust rules (cheap getters). */
function originOf(request: RequestOrigin): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * The URL as the client sent it: with its format suffix (`/customers.xml`), which routing strips
 * (formats.ts), so that following `self` or `next` keeps the format the client chose.
 */
export function selfUrl(request: RequestOrigin): string {
  return absoluteUrl(request, request.originalUrl);
}

export function ok<T>(request: RequestOrigin, data: T, links: Record<string, string> = {}, code = 200) {
  return { success: true as const, code, data, links: { self: selfUrl(request), ...links } };
}

export interface Page<T extends { id: string }> {
  items: T[];
  hasMore: boolean;
  limit: number;
}

/** Fetch limit+1 rows, keep `limit`: the extra row only tells whether there is more. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  return { items: rows.slice(0, limit), hasMore: rows.length > limit, limit };
}

export function okList<T extends { id: string }, R>(
  request: RequestOrigin,
  page: Page<T>,
  present: (item: T) => R,
) {
  const last = page.items.at(-1);
  const nextCursor = page.hasMore && last ? last.id : null;
  const links: Record<string, string> = { self: selfUrl(request) };
  if (nextCursor) {
    const next = new URL(selfUrl(request));
    next.searchParams.set('starting_after', nextCursor);
    next.searchParams.set('limit', String(page.limit));
    links.next = next.toString();
  }
  return {
    success: true as const,
    code: 200,
    data: page.items.map(present),
    meta: { has_more: page.hasMore, next_cursor: nextCursor, limit: page.limit },
    links,
  };
}
