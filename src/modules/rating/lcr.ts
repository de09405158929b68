import type { Carrier } from './carriers.js';
import { NO_MATCH } from './prefix-index.js';
import type { LoadedCard } from './rating-index.js';

/**
 * Least-cost routing over in-memory indexes: each active carrier's buy card is matched against
 * the number, blocked and unmatched carriers drop out, and the rest are ordered by buy rate at
 * the matched prefix (ties by priority) or, with the `priority` strategy, by priority first.
 * Pure and synchronous: costs are compared as integer units, no Decimal is made here.
 */
export type LcrStrategy = 'lcr' | 'priority';

export interface CarrierRoute {
  carrier: Carrier;
  loaded: LoadedCard;
}

export interface LcrOptions {
  strategy: LcrStrategy;
  /** Drop carriers whose rate exceeds this many 1e-8 units per minute. */
  maxRateUnits?: number;
}

/** The carriers LCR may rank for a price in one currency, and the ones it leaves out. */
export interface CarrierSelection {
  routes: CarrierRoute[];
  /** Carriers whose buy card is in another currency than the price (their ids). */
  otherCurrency: string[];
}

/**
 * Only carriers whose buy card is in the price's currency: there are no exchange rates here, so a
 * cost in another currency cannot be compared with the price, nor ranked against the others.
 * LCR and call authorization both choose carriers through this (cached per currency in RatingIndex).
 */
export function carriersInCurrency(routes: readonly CarrierRoute[], currency: string): CarrierSelection {
  const selection: CarrierSelection = { routes: [], otherCurrency: [] };
  for (const route of routes) {
    if (route.loaded.card.currency === currency) selection.routes.push(route);
    else selection.otherCurrency.push(route.carrier.id);
  }
  return selection;
}

export interface LcrCandidate {
  route: CarrierRoute;
  version: number;
  rateUnits: number;
}

const byPriority = (a: LcrCandidate, b: LcrCandidate) => a.route.carrier.priority - b.route.carrier.priority;
const byRate = (a: LcrCandidate, b: LcrCandidate) => a.rateUnits - b.rateUnits;
const LCR_ORDER = (a: LcrCandidate, b: LcrCandidate) => byRate(a, b) || byPriority(a, b);
const PRIORITY_ORDER = (a: LcrCandidate, b: LcrCandidate) => byPriority(a, b) || byRate(a, b);

/**
 * The hot path of routing: one index match per carrier and a candidate object per carrier that
 * matched, nothing else allocated (the orderings are made once, and a handful of candidates are
 * put in order by insertion, not by Array.prototype.sort).
 */
export function rankRoutes(
  number: string,
  atMs: number,
  routes: readonly CarrierRoute[],
  options: LcrOptions,
): LcrCandidate[] {
  const order = options.strategy === 'lcr' ? LCR_ORDER : PRIORITY_ORDER;
  const maxRateUnits = options.maxRateUnits;
  const candidates: LcrCandidate[] = [];
  for (let r = 0; r < routes.length; r++) {
    const route = routes[r]!;
    if (route.carrier.status !== 'active') continue;
    const index = route.loaded.index;
    const version = index.match(number, atMs);
    if (version === NO_MATCH || index.isBlocked(version)) continue;
    const rateUnits = index.rateUnitsOf(version);
    if (maxRateUnits !== undefined && rateUnits > maxRateUnits) continue;
    const candidate: LcrCandidate = { route, version, rateUnits };
    // Insertion keeps equal candidates in carrier order, as the stable sort did.
    let at = candidates.length;
    candidates.push(candidate);
    while (at > 0 && order(candidates[at - 1]!, candidate) > 0) {
      candidates[at] = candidates[at - 1]!;
      at--;
    }
    candidates[at] = candidate;
  }
  return candidates;
}
