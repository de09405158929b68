import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { conflict, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Principal } from '../../tenancy.js';
import {
  type Customer,
  findCustomerByAccountNumber,
  getCustomer,
  visibleCustomers,
} from '../accounts/customers.js';
import { normaliseNumber } from '../rating/values.js';
import { checkCustomerSelector } from './call-authorization.js';

/**
 * Calls in progress, for per-customer concurrent-call limits. A switch reports start and end;
 * a call whose end never arrives expires (its max duration, or CALL_TIMEOUT_SECONDS) so a lost
 * end cannot block the customer for ever.
 */

/** How a request names its customer: one way, or not at all for a customer key (itself). */
export interface CustomerSelector {
  customer_id?: string;
  account_number?: string;
}

export async function findCallingCustomer(
  db: Db,
  principal: Principal,
  selector: CustomerSelector,
): Promise<Customer> {
  checkCustomerSelector(selector);
  if (selector.customer_id) return getCustomer(db, principal, selector.customer_id);
  if (selector.account_number) return findCustomerByAccountNumber(db, principal, selector.account_number);
  if (principal.customerId) return getCustomer(db, principal, principal.customerId);
  throw invalid("Missing required parameter 'customer_id'", 'customer_id');
}

export interface StartCall extends CustomerSelector {
  callee: string;
  max_duration_seconds?: number;
}

export async function startCall(
  db: Db,
  principal: Principal,
  callId: string,
  request: StartCall,
  timeoutSeconds: number,
) {
  const callee = normaliseNumber(request.callee);
  if (!callee) throw invalid(`callee '${request.callee}' is not a phone number`, 'callee');
  const customer = await findCallingCustomer(db, principal, request);
  const lifetimeSeconds = Math.min(request.max_duration_seconds ?? timeoutSeconds, timeoutSeconds);
  return db.transaction().execute(async (trx) => {
    // The customer row lock serialises starts of one customer, so two calls cannot both take
    // the last free slot.
    await trx.selectFrom('customers').select('id').where('id', '=', customer.id).forUpdate().execute();
    await trx
      .deleteFrom('live_calls')
      .where('customer_id', '=', customer.id)
      .where('expires_at', '<=', new Date())
      .execute();
    const live = await sql<{ n: number }>`
      select count(*)::int as n from live_calls where customer_id = ${customer.id}`.execute(trx);
    const limit = customer.concurrent_call_limit;
    if (limit !== null && (live.rows[0]?.n ?? 0) >= limit) {
      throw conflict(`concurrent_limit: ${limit} call(s) already in progress`, 'call_id');
    }
    const inserted = await trx
      .insertInto('live_calls')
      .values({
        id: newId('liveCall'),
        call_id: callId,
        customer_id: customer.id,
        callee,
        expires_at: new Date(Date.now() + lifetimeSeconds * 1000),
      })
      .onConflict((oc) => oc.columns(['customer_id', 'call_id']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!inserted) throw conflict(`call '${callId}' has already started`, 'call_id');
    return inserted;
  });
}

/**
 * Ends the caller's live call with this id; another tenant's call is not found. Call ids are the
 * switches' own, so two customers' calls can share one (two PBXs' Asterisk uniqueids): a key that
 * sees both must name the customer rather than end both, or one it did not mean.
 */
export async function endCall(db: Db, principal: Principal, callId: string, selector: CustomerSelector) {
  const named =
    selector.customer_id || selector.account_number
      ? await findCallingCustomer(db, principal, selector)
      : null;
  return db.transaction().execute(async (trx) => {
    const live = await trx
      .selectFrom('live_calls')
      .select('customer_id')
      .where('call_id', '=', callId)
      .where((eb) =>
        named
          ? eb('customer_id', '=', named.id)
          : eb('customer_id', 'in', visibleCustomers(trx, principal).clearSelect().select('customers.id')),
      )
      .limit(2)
      .forUpdate()
      .execute();
    if (live.length === 0) throw notFound('Live call');
    if (live.length > 1)
      throw conflict(
        `call '${callId}' is live for more than one customer: name the customer (customer_id or account_number)`,
        'customer_id',
      );
    return trx
      .deleteFrom('live_calls')
      .where('call_id', '=', callId)
      .where('customer_id', '=', live[0]!.customer_id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/**
 * Calls in progress that the principal may see, oldest first: a call past its expiry no longer
 * counts toward a limit, so it is not listed either (it is swept at the customer's next start).
 */
function visibleLiveCalls(db: Db, principal: Principal) {
  return db
    .selectFrom('live_calls')
    .selectAll()
    .where('expires_at', '>', new Date())
    .where('customer_id', 'in', visibleCustomers(db, principal).clearSelect().select('customers.id'));
}

export async function listLiveCalls(
  db: Db,
  principal: Principal,
  filter: { customerId?: string },
  page: { limit: number; startingAfter?: string },
) {
  let query = visibleLiveCalls(db, principal);
  if (filter.customerId) query = query.where('customer_id', '=', filter.customerId);
  if (page.startingAfter) query = query.where('id', '>', page.startingAfter);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

export async function getLiveCall(db: Db, principal: Principal, id: string) {
  const call = await visibleLiveCalls(db, principal).where('id', '=', id).executeTakeFirst();
  if (!call) throw notFound('Live call');
  return call;
}
