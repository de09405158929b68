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

export interface LcrCandidate {
  route: CarrierRoute;
  version: number;
  rateUnits: number;
}

export function rankRoutes(
  number: string,
  atMs: number,
  routes: readonly CarrierRoute[],
  options: LcrOptions,
): LcrCandidate[] {
  const candidates: LcrCandidate[] = [];
  for (const route of routes) {
    if (route.carrier.status !== 'active') continue;
    const version = route.loaded.index.match(number, atMs);
    if (version === NO_MATCH || route.loaded.index.isBlocked(version)) continue;
    const rateUnits = route.loaded.index.rateUnitsOf(version);
    if (options.maxRateUnits !== undefined && rateUnits > options.maxRateUnits) continue;
    candidates.push({ route, version, rateUnits });
  }
  const byPriority = (a: LcrCandidate, b: LcrCandidate) =>
    a.route.carrier.priority - b.route.carrier.priority;
  const byRate = (a: LcrCandidate, b: LcrCandidate) => a.rateUnits - b.rateUnits;
  return candidates.sort(
    options.strategy === 'lcr'
      ? (a, b) => byRate(a, b) || byPriority(a, b)
      : (a, b) => byPriority(a, b) || byRate(a, b),
  );
}
