import type { LoadedCard, RatingIndex } from '../rating/rating-index.js';
import { rateLeg, unitsText } from './call-rating.js';
import type { CdrInput } from './cdr-record.js';
import type { Parties } from './parties.js';

/**
 * Prices CDRs: the sell leg from the customer's card (what the customer is charged), the buy
 * leg from the carrier's card (our cost), and the margin when both are in one currency. A CDR
 * whose sell leg cannot be priced is kept `unrated` with the reason, to be re-rated later.
 */
export type UnratedReason =
  | 'unknown_customer'
  | 'no_ratecard'
  | 'no_rate'
  | 'currency_mismatch'
  | 'unknown_carrier';

export interface PricedCdr {
  cdr: CdrInput;
  customerId: string | null;
  partnerId: string | null;
  unratedReason: UnratedReason | null;
  currency: string | null;
  sell: {
    ratecardId: string;
    prefix: string;
    destination: string;
    rate: string;
    billedSeconds: number;
    /** 1e-8 units (exact integers: call-rating.ts). */
    cost: bigint;
  } | null;
  buy: { ratecardId: string; rate: string; currency: string; cost: bigint } | null;
  margin: bigint | null;
}

/** Loads each distinct card once per batch. */
export class CardCache {
  private readonly cards = new Map<string, Promise<LoadedCard>>();
  constructor(private readonly rating: RatingIndex) {}
  get(cardId: string): Promise<LoadedCard> {
    let card = this.cards.get(cardId);
    if (!card) {
      card = this.rating.get(cardId);
      this.cards.set(cardId, card);
    }
    return card;
  }
}

function unrated(
  cdr: CdrInput,
  reason: UnratedReason,
  customerId: string | null,
  partnerId: string | null,
): PricedCdr {
  return {
    cdr,
    customerId,
    partnerId,
    unratedReason: reason,
    currency: null,
    sell: null,
    buy: null,
    margin: null,
  };
}

export async function priceCdr(cdr: CdrInput, parties: Parties, cards: CardCache): Promise<PricedCdr> {
  const customer = parties.customer(cdr);
  // A customer the sender cannot see: kept as the sending partner's, where it can find it (the
  // operator's feed keeps none).
  if (!customer) return unrated(cdr, 'unknown_customer', null, cdr.senderPartnerId);
  const carrier = cdr.carrierId ? parties.carrier(cdr.carrierId) : undefined;
  if (cdr.carrierId && !carrier) return unrated(cdr, 'unknown_carrier', customer.id, customer.partnerId);
  if (!customer.ratecardId) return unrated(cdr, 'no_ratecard', customer.id, customer.partnerId);
  const sellCard = await cards.get(customer.ratecardId);
  if (sellCard.card.currency !== customer.currency) {
    return unrated(cdr, 'currency_mismatch', customer.id, customer.partnerId);
  }
  const sell = rateLeg(sellCard, cdr.callee, cdr.startTime, cdr.billsec);
  if (!sell.rated) return unrated(cdr, sell.reason, customer.id, customer.partnerId);
  const buyLeg = carrier
    ? rateLeg(await cards.get(carrier.ratecardId), cdr.callee, cdr.startTime, cdr.billsec)
    : null;
  const buy = buyLeg?.rated
    ? {
        ratecardId: buyLeg.ratecardId,
        rate: buyLeg.ratePerMinute,
        currency: buyLeg.currency,
        cost: buyLeg.cost,
      }
    : null;
  return {
    cdr,
    customerId: customer.id,
    partnerId: customer.partnerId,
    unratedReason: null,
    currency: customer.currency,
    sell: {
      ratecardId: sell.ratecardId,
      prefix: sell.prefix,
      destination: sell.destination,
      rate: sell.ratePerMinute,
      billedSeconds: sell.billedSeconds,
      cost: sell.cost,
    },
    buy,
    margin: buy && buy.currency === customer.currency ? sell.cost - buy.cost : null,
  };
}

const amount = (units: bigint | null | undefined) =>
  units === null || units === undefined ? null : unitsText(units);

/** The row as stored (jsonb_to_recordset input: keys are column names). */
export function cdrRow(priced: PricedCdr, id: string, batchId: string) {
  const { cdr, sell, buy } = priced;
  return {
    id,
    sender_partner_id: cdr.senderPartnerId,
    switch_id: cdr.switchId,
    call_id: cdr.callId,
    batch_id: batchId,
    customer_id: priced.customerId,
    customer_ref: cdr.customerId ?? cdr.accountNumber ?? '',
    partner_id: priced.partnerId,
    carrier_id: cdr.carrierId,
    caller: cdr.caller,
    callee: cdr.callee,
    start_time: cdr.startTime.toISOString(),
    answer_time: cdr.answerTime?.toISOString() ?? null,
    end_time: cdr.endTime.toISOString(),
    duration: cdr.durationSeconds,
    billsec: cdr.billsec,
    disposition: cdr.disposition,
    hangup_cause: cdr.hangupCause,
    pdd_ms: cdr.pddMs,
    tags: cdr.tags,
    rating_state: priced.unratedReason ? 'unrated' : 'rated',
    unrated_reason: priced.unratedReason,
    currency: priced.currency,
    sell_ratecard_id: sell?.ratecardId ?? null,
    sell_prefix: sell?.prefix ?? null,
    destination: sell?.destination ?? null,
    sell_rate: sell?.rate ?? null,
    billed_seconds: sell?.billedSeconds ?? null,
    sell_cost: amount(sell?.cost),
    buy_ratecard_id: buy?.ratecardId ?? null,
    buy_rate: buy?.rate ?? null,
    buy_cost: amount(buy?.cost),
    buy_currency: buy?.currency ?? null,
    margin: amount(priced.margin),
    charged_amount: amount(sell?.cost) ?? '0',
  };
}
