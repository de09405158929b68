import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import { invalid, notFound } from '../../errors.js';
import { Decimal, formatAmount } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import { type CustomerCache, type CustomerSnapshot, mayCall } from '../accounts/customer-cache.js';
import { findCustomerByAccountNumber } from '../accounts/customers.js';
import { callCost } from '../rating/charging.js';
import { rankRoutes } from '../rating/lcr.js';
import { NO_MATCH, type RateVersion } from '../rating/prefix-index.js';
import type { LoadedCard, RatingIndex } from '../rating/rating-index.js';
import { fromUnits } from '../rating/units.js';
import { normaliseNumber } from '../rating/values.js';

/**
 * Call authorization: before a call, the switch asks whether this customer may call this number,
 * for how long the available balance lasts at the rate in force, and over which carriers. (Card
 * payments have "authorizations" too; this is a different thing and never shares the name.)
 * `account_suspended`: the customer, or the partner (reseller) it belongs to, is suspended or
 * closed.
 */
export type CallRefusal =
  | 'account_suspended'
  | 'no_rate'
  | 'blocked_destination'
  | 'insufficient_funds'
  | 'concurrent_limit';

export interface CallAuthorizationRequest {
  customer_id?: string;
  account_number?: string;
  caller: string;
  callee: string;
  at?: Date;
}

export interface CallAuthorization {
  authorized: boolean;
  reason: CallRefusal | null;
  customer_id: string;
  callee: string;
  max_duration_seconds: number;
  available: string;
  currency: string;
  rate: RateVersion | null;
  carriers: { carrier_id: string; name: string; priority: number; prefix: string; rate: string }[];
}

/**
 * The longest whole-second call (up to the cap) whose cost, as the CDR will be charged (rounded
 * once, in the card's mode), the available funds pay for. Cost never falls as a call gets longer
 * and every second of a billing step costs what its end costs, so the answer is the end of the
 * last step that fits. Rounding moves a cost by less than one unit of the card's last decimal,
 * either way: steps whose exact cost is at most `available − unit` fit, steps whose exact cost is
 * at least `available + unit` do not, and the last fitting step is searched by halves between the
 * two. A card rounding down may so afford more than its exact cost would; one rounding up, less.
 * The window is a few steps on a card with cents or finer, so the hot path costs a handful of
 * charging-rule evaluations at most (about log2(cap) when rounding to whole units).
 */
export function affordableSeconds(
  available: Decimal,
  rate: RateVersion,
  card: LoadedCard,
  capSeconds: number,
): number {
  const { initialIncrementSeconds: initial, incrementSeconds: pulse } = rate;
  const fits = (seconds: number) =>
    callCost({
      durationSeconds: seconds,
      ratePerMinute: rate.rate,
      connectionFee: rate.connectionFee,
      initialIncrementSeconds: initial,
      incrementSeconds: pulse,
      roundingDecimals: card.card.rounding_decimals,
      roundingMode: card.card.rounding_mode,
    }).cost.lte(available);
  if (fits(capSeconds)) return capSeconds;
  // Any call up to the initial increment costs what the cap's does then, or the first step is
  // already too much: no call fits.
  if (capSeconds <= initial || !fits(initial)) return 0;
  // Zero rate: every call costs the connection fee, which the cap's cost showed is too much.
  if (new Decimal(rate.rate).isZero()) return 0;
  const unit = new Decimal(10).pow(-card.card.rounding_decimals);
  // How many steps after the first end where the exact cost reaches `limit`: computed exactly
  // (one division at 60 digits), so the floor and ceiling below are never off by one.
  const stepsTo = (limit: Decimal) =>
    limit.minus(rate.connectionFee).times(60).dividedBy(rate.rate).minus(initial).dividedBy(pulse);
  // Step k ends at initial + k·pulse. Steps ending at the cap or later cost at least what it does.
  let fitting = Math.max(0, stepsTo(available.minus(unit)).floor().toNumber());
  let failing = Math.min(
    stepsTo(available.plus(unit)).ceil().toNumber(),
    Math.ceil((capSeconds - initial) / pulse),
  );
  while (failing - fitting > 1) {
    const middle = Math.floor((fitting + failing) / 2);
    if (fits(initial + middle * pulse)) fitting = middle;
    else failing = middle;
  }
  return initial + fitting * pulse;
}

async function liveCallCount(db: Db, customerId: string): Promise<number> {
  const row = await sql<{ n: number }>`
    select count(*)::int as n from live_calls where customer_id = ${customerId} and expires_at > now()`.execute(
    db,
  );
  return row.rows[0]?.n ?? 0;
}

function refuse(
  customer: CustomerSnapshot,
  callee: string,
  reason: CallRefusal,
  extra: Partial<CallAuthorization> = {},
) {
  return {
    authorized: false,
    reason,
    customer_id: customer.id,
    callee,
    max_duration_seconds: 0,
    // What the customer has, whatever the refusal: "0" next to no_rate read as "no funds".
    available: formatAmount(customer.available),
    currency: customer.currency,
    rate: null,
    carriers: [],
    ...extra,
  } satisfies CallAuthorization;
}

/**
 * A request names its customer one way. With both, which one was meant is a guess, and a wrong
 * guess authorizes (or starts) a call on another account: a 400, as for a rate lookup.
 */
export function checkCustomerSelector(selector: { customer_id?: string; account_number?: string }): void {
  if (selector.customer_id && selector.account_number)
    throw invalid('Give customer_id or account_number, not both', 'account_number');
}

/**
 * The calling customer and its balance from the in-memory customer cache (exact invalidation on
 * customer changes and ledger postings, also across processes): no database round trip on a hit.
 * Tenancy as everywhere: a customer the caller may not see is not found.
 */
async function callingCustomer(
  db: Db,
  customers: CustomerCache,
  principal: Principal,
  request: CallAuthorizationRequest,
): Promise<CustomerSnapshot> {
  checkCustomerSelector(request);
  let id = request.customer_id ?? null;
  if (!id && request.account_number) {
    id = (await findCustomerByAccountNumber(db, principal, request.account_number)).id;
  }
  id ??= principal.customerId;
  if (!id) throw invalid("Missing required parameter 'customer_id'", 'customer_id');
  const customer = await customers.getVisible(principal, id);
  if (!customer) throw notFound('Customer');
  return customer;
}

export async function authorizeCall(
  db: Db,
  rating: RatingIndex,
  customers: CustomerCache,
  principal: Principal,
  request: CallAuthorizationRequest,
  maxCallSeconds: number,
): Promise<CallAuthorization> {
  const callee = normaliseNumber(request.callee);
  if (!callee) throw invalid(`callee '${request.callee}' is not a phone number`, 'callee');
  const customer = await callingCustomer(db, customers, principal, request);
  // The customer, or the partner it belongs to, is suspended or closed (a field of the snapshot).
  if (!mayCall(customer)) return refuse(customer, callee, 'account_suspended');
  if (!customer.ratecardId) return refuse(customer, callee, 'no_rate');
  const card = await rating.get(customer.ratecardId);
  const atMs = (request.at ?? new Date()).getTime();
  const slot = card.index.match(callee, atMs);
  if (slot === NO_MATCH) return refuse(customer, callee, 'no_rate');
  const rate = card.index.version(slot);
  if (rate.blocked) return refuse(customer, callee, 'blocked_destination', { rate });
  // Live calls are counted in the database: starts and ends come from any process.
  const limit = customer.concurrentCallLimit;
  if (limit !== null && (await liveCallCount(db, customer.id)) >= limit) {
    return refuse(customer, callee, 'concurrent_limit', { rate });
  }
  const available = customer.available;
  const seconds = affordableSeconds(available, rate, card, maxCallSeconds);
  if (seconds === 0) return refuse(customer, callee, 'insufficient_funds', { rate });
  // The carriers LCR would offer: only buy cards in the sell card's currency can be ranked by cost.
  const carriers = await rating.carrierRoutesIn(card.card.currency);
  const routes = rankRoutes(callee, atMs, carriers.routes, { strategy: 'lcr' });
  return {
    authorized: true,
    reason: null,
    customer_id: customer.id,
    callee,
    max_duration_seconds: seconds,
    available: formatAmount(available),
    currency: customer.currency,
    rate,
    carriers: routes.map(({ route, version, rateUnits }) => ({
      carrier_id: route.carrier.id,
      name: route.carrier.name,
      priority: route.carrier.priority,
      prefix: route.loaded.index.prefixOf(version),
      rate: fromUnits(rateUnits),
    })),
  };
}
