import type { Selectable } from 'kysely';
import type { Db } from '../../db/index.js';
import { forbidden, invalid, notFound } from '../../errors.js';
import type { Principal } from '../../tenancy.js';
import type { CdrsTable, Disposition, RatingState } from './schema.js';

export type Cdr = Selectable<CdrsTable>;

/** Filters shared by the list, the CSV export and re-rating. */
export interface CdrFilter {
  switchId?: string;
  callId?: string;
  customerId?: string;
  carrierId?: string;
  from?: Date;
  to?: Date;
  callerPrefix?: string;
  calleePrefix?: string;
  disposition?: Disposition;
  ratingState?: RatingState;
}

/** CDRs a principal may read: all, its customers', or its own (seed 000's customer API). */
export function visibleCdrs(db: Db, principal: Principal) {
  let query = db.selectFrom('cdrs').selectAll();
  if (principal.role === 'partner') query = query.where('partner_id', '=', principal.partnerId!);
  if (principal.role === 'customer') query = query.where('customer_id', '=', principal.customerId!);
  return query;
}

const DIGITS = /^\d{1,20}$/;

function checkFilter(principal: Principal, filter: CdrFilter): void {
  // Which carrier took a call is the operator's business (CDRs show carrier_id to admin keys only).
  if (filter.carrierId && principal.role !== 'admin')
    throw forbidden('Only the operator filters CDRs by carrier (carrier_id)');
  if (filter.from && filter.to && filter.from > filter.to) throw invalid('from is after to', 'from');
  for (const [name, value] of [
    ['caller_prefix', filter.callerPrefix],
    ['callee_prefix', filter.calleePrefix],
  ] as const) {
    if (value !== undefined && !DIGITS.test(value)) throw invalid(`${name} must be digits`, name);
  }
}

export function filteredCdrs(db: Db, principal: Principal, filter: CdrFilter) {
  checkFilter(principal, filter);
  let query = visibleCdrs(db, principal);
  if (filter.switchId) query = query.where('switch_id', '=', filter.switchId);
  if (filter.callId) query = query.where('call_id', '=', filter.callId);
  if (filter.customerId) query = query.where('customer_id', '=', filter.customerId);
  if (filter.carrierId) query = query.where('carrier_id', '=', filter.carrierId);
  if (filter.from) query = query.where('start_time', '>=', filter.from);
  if (filter.to) query = query.where('start_time', '<', filter.to);
  if (filter.callerPrefix) query = query.where('caller', 'like', `${filter.callerPrefix}%`);
  if (filter.calleePrefix) query = query.where('callee', 'like', `${filter.calleePrefix}%`);
  if (filter.disposition) query = query.where('disposition', '=', filter.disposition);
  if (filter.ratingState) query = query.where('rating_state', '=', filter.ratingState);
  return query;
}

export async function listCdrs(
  db: Db,
  principal: Principal,
  filter: CdrFilter,
  page: { limit: number; startingAfter?: string },
): Promise<Cdr[]> {
  let query = filteredCdrs(db, principal, filter);
  if (page.startingAfter) query = query.where('id', '>', page.startingAfter);
  return query
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

/** One CDR by its id; one the principal may not read is as absent as one that does not exist. */
export async function getCdr(db: Db, principal: Principal, id: string): Promise<Cdr> {
  const row = await visibleCdrs(db, principal).where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('CDR');
  return row;
}

export const EXPORT_BATCH_ROWS = 2_000;

/**
 * Keyset-paged reads for a streamed export: memory stays bounded whatever the filter matches.
 * Checks the filter now, so a bad one is a 400 before the CSV answer starts; reads lazily.
 */
export function exportCdrs(db: Db, principal: Principal, filter: CdrFilter): AsyncGenerator<Cdr[]> {
  checkFilter(principal, filter);
  return exportBatches(db, principal, filter);
}

async function* exportBatches(db: Db, principal: Principal, filter: CdrFilter): AsyncGenerator<Cdr[]> {
  let after: string | undefined;
  for (;;) {
    let query = filteredCdrs(db, principal, filter);
    if (after) query = query.where('id', '>', after);
    const rows = await query.orderBy('id').limit(EXPORT_BATCH_ROWS).execute();
    if (rows.length) yield rows;
    if (rows.length < EXPORT_BATCH_ROWS) return;
    after = rows.at(-1)!.id;
  }
}
