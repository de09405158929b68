import { DomainError, forbidden, invalid, notFound } from '../../errors.js';
import type { Principal } from '../../tenancy.js';
import type { CustomerCache, CustomerSnapshot } from '../accounts/customer-cache.js';
import { type CarrierSelection, type LcrCandidate, type LcrStrategy, rankRoutes } from './lcr.js';
import { NO_MATCH } from './prefix-index.js';
import type { LoadedCard, RatingIndex } from './rating-index.js';
import { toUnits } from './units.js';
import { normaliseNumber, requireAmount, requireTimestamp } from './values.js';

/** Rate lookup and LCR as the API asks for them: whose card, which number, at what time. */
export interface CardSelector {
  customer_id?: string;
  ratecard_id?: string;
}

export interface RateQuery extends CardSelector {
  number: string;
  at?: string;
}

export interface Match {
  loaded: LoadedCard;
  version: number;
  number: string;
  at: Date;
}

export function requireNumber(text: string): string {
  const number = normaliseNumber(text);
  if (!number)
    throw invalid(`number '${text}' is not a phone number (digits, optionally with a leading +)`, 'number');
  return number;
}

/**
 * The sell card a query is about: a named card (operator only: cards are operator prices), or
 * a customer's card (any caller who may see that customer). A customer key defaults to itself.
 */
export function selectSellCard(
  customers: Customers,
  principal: Principal,
  selector: CardSelector,
): string | Promise<string> {
  if (selector.ratecard_id && selector.customer_id)
    throw invalid('Give customer_id or ratecard_id, not both', 'ratecard_id');
  if (selector.ratecard_id) {
    if (principal.role !== 'admin')
      throw forbidden('Only the operator may look up a rate card directly; use customer_id');
    return selector.ratecard_id;
  }
  const customerId = selector.customer_id ?? principal.customerId;
  if (!customerId)
    throw invalid("Missing required parameter 'customer_id' (or 'ratecard_id')", 'customer_id');
  const cached = customers.peekVisible(principal, customerId);
  return cached === undefined
    ? customers.getVisible(principal, customerId).then(sellCardOf)
    : sellCardOf(cached);
}

/**
 * Customers as the rating queries read them: from the customer cache, as call authorization does,
 * so a lookup for a cached customer's card waits for no query.
 */
export type Customers = Pick<CustomerCache, 'peekVisible' | 'getVisible'>;

function sellCardOf(customer: CustomerSnapshot | null): string {
  if (!customer) throw notFound('Customer');
  if (!customer.ratecardId)
    throw invalid('This customer has no rate card (set ratecard_id on the customer)', 'customer_id');
  return customer.ratecardId;
}

/** The loaded sell card of a query: without a promise when it and its customer are in memory. */
export function sellCardIndex(
  index: RatingIndex,
  customers: Customers,
  principal: Principal,
  selector: CardSelector,
): LoadedCard | Promise<LoadedCard> {
  const card = selectSellCard(customers, principal, selector);
  const loaded = typeof card === 'string' ? index.peek(card) : undefined;
  return loaded ?? Promise.resolve(card).then((id) => index.get(id));
}

function noRate(number: string, loaded: LoadedCard, at: Date): DomainError {
  const why =
    loaded.index.versionCount === 0
      ? 'the card has no rates'
      : `no prefix of ${number} has a rate in force at ${at.toISOString()}`;
  return new DomainError('not_found', `no_rate: ${why} (rate card ${loaded.card.id})`, 'number');
}

/** Synchronous when the card is in memory (nearly always): GET /rates/lookup then answers without a promise. */
export function lookupRate(
  index: RatingIndex,
  customers: Customers,
  principal: Principal,
  query: RateQuery,
): Match | Promise<Match> {
  const number = requireNumber(query.number);
  const at = query.at ? requireTimestamp(query.at, 'at') : new Date();
  const loaded = sellCardIndex(index, customers, principal, query);
  return loaded instanceof Promise
    ? loaded.then((card) => rateOn(card, number, at))
    : rateOn(loaded, number, at);
}

function rateOn(loaded: LoadedCard, number: string, at: Date): Match {
  const version = loaded.index.match(number, at.getTime());
  if (version === NO_MATCH) throw noRate(number, loaded, at);
  return { loaded, version, number, at };
}

export interface LcrQuery extends RateQuery {
  strategy?: LcrStrategy;
  max_cost?: string;
  profitable_only?: boolean;
}

export interface LcrAnswer {
  sell: Match;
  routes: LcrCandidate[];
  /** Carriers left out because their buy card is in another currency than the sell card. */
  otherCurrency: string[];
}

/** Synchronous when the cards and the carrier list are in memory (nearly always), as lookupRate. */
export function leastCostRoutes(
  index: RatingIndex,
  customers: Customers,
  principal: Principal,
  query: LcrQuery,
): LcrAnswer | Promise<LcrAnswer> {
  const sell = lookupRate(index, customers, principal, query);
  return sell instanceof Promise
    ? sell.then((match) => routesFor(index, match, query))
    : routesFor(index, sell, query);
}

function routesFor(index: RatingIndex, sell: Match, query: LcrQuery): LcrAnswer | Promise<LcrAnswer> {
  const currency = sell.loaded.card.currency;
  const selection = index.peekCarrierRoutesIn(currency);
  return selection === undefined
    ? index.carrierRoutesIn(currency).then((settled) => rank(sell, settled, query))
    : rank(sell, selection, query);
}

function rank(sell: Match, { routes, otherCurrency }: CarrierSelection, query: LcrQuery): LcrAnswer {
  const limits = [query.max_cost ? toUnits(requireAmount(query.max_cost, 'max_cost')) : null];
  if (query.profitable_only) limits.push(sell.loaded.index.rateUnitsOf(sell.version));
  const bounded = limits.filter((limit): limit is number => limit !== null);
  const ranked = rankRoutes(sell.number, sell.at.getTime(), routes, {
    strategy: query.strategy ?? 'lcr',
    ...(bounded.length ? { maxRateUnits: Math.min(...bounded) } : {}),
  });
  return { sell, routes: ranked, otherCurrency };
}
