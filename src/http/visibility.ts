import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../tenancy.js';
import { ApiError } from './errors.js';

/**
 * Object visibility, checked once for every route before validation or the handler runs: an id
 * in the path that the caller's tenant cannot see answers 404, whatever the method and body.
 * Services still scope their own queries; this layer makes the rule impossible to forget on a
 * new route, and is what the generic cross-tenant test relies on.
 */
export type VisibilityCheck = (principal: Principal, id: string) => Promise<boolean>;

declare module 'fastify' {
  interface FastifyInstance {
    visibility: Map<string, VisibilityCheck>;
  }
}

const ID_PREFIX = /^([a-z]+)_[0-9a-z]+$/;

/** Registers the check for ids with this prefix (`cus`, `par`, …); call from a module's routes. */
export function registerVisibility(app: FastifyInstance, prefix: string, check: VisibilityCheck): void {
  app.visibility.set(prefix, check);
}

export function installVisibility(app: FastifyInstance): void {
  app.decorate('visibility', new Map<string, VisibilityCheck>());
  // Callback style: most requests have nothing to check (or only their own id) and pass
  // synchronously; the checks that remain run in order.
  app.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
    const principal = request.principal;
    if (!principal || principal.role === 'admin') return done();
    const checks: Array<() => Promise<boolean>> = [];
    for (const value of Object.values((request.params ?? {}) as Record<string, string>)) {
      // A key always sees its own account; skipping the lookup saves a query on the commonest
      // reads (a customer reading itself). The service still loads and scopes the object.
      if (value === principal.customerId || value === principal.partnerId) continue;
      const prefix = ID_PREFIX.exec(value)?.[1];
      const check = prefix ? app.visibility.get(prefix) : undefined;
      if (check) checks.push(() => check(principal, value));
    }
    if (checks.length === 0) return done();
    runChecks(checks).then(() => done(), done);
  });
}

async function runChecks(checks: Array<() => Promise<boolean>>): Promise<void> {
  for (const check of checks) {
    if (!(await check())) throw new ApiError(404, 'not_found', 'Not found');
  }
}
