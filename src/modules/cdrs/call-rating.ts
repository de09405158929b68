import { Decimal } from '../../money/index.js';
import { callCost } from '../rating/charging.js';
import { NO_MATCH } from '../rating/prefix-index.js';
import type { LoadedCard } from '../rating/rating-index.js';

/**
 * Prices one leg of a call (the customer's sell card or the carrier's buy card) with the one
 * charging rule. Pure over an already loaded card index.
 */
export type LegRating =
  | {
      rated: true;
      ratecardId: string;
      currency: string;
      prefix: string;
      destination: string;
      ratePerMinute: string;
      billedSeconds: number;
      cost: Decimal;
    }
  | { rated: false; reason: 'no_rate' };

const ZERO = new Decimal(0);

/**
 * `billsec` is the answered time. A call nobody answered costs nothing: the connection fee is
 * for a connected call, so it is not charged when billsec is 0.
 */
export function rateLeg(card: LoadedCard, callee: string, startTime: Date, billsec: number): LegRating {
  const slot = card.index.match(callee, startTime.getTime());
  if (slot === NO_MATCH) return { rated: false, reason: 'no_rate' };
  const version = card.index.version(slot);
  const priced =
    billsec === 0
      ? { billedSeconds: 0, cost: ZERO }
      : callCost({
          durationSeconds: billsec,
          ratePerMinute: version.rate,
          connectionFee: version.connectionFee,
          initialIncrementSeconds: version.initialIncrementSeconds,
          incrementSeconds: version.incrementSeconds,
          roundingDecimals: card.card.rounding_decimals,
          roundingMode: card.card.rounding_mode,
        });
  return {
    rated: true,
    ratecardId: card.card.id,
    currency: card.card.currency,
    prefix: version.prefix,
    destination: version.destination,
    ratePerMinute: version.rate,
    ...priced,
  };
}
