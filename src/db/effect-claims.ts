/**
 * An Idempotency-Key claim written in the same transaction as the effect it guards, for routes
 * whose effect is batched (PUT /partner/funds: migrations/0025,
 * docs/decisions/0025-idempotency-claim-in-transfer-batch.md). The HTTP layer makes it
 * (src/http/idempotency.ts, `idempotentEffect`), the service carries it into its statement and
 * says whether it was written.
 */
export interface EffectClaim {
  scope: string;
  key: string;
  /** The request's fingerprint, stored with the claim (a different request under the key is 409). */
  fingerprint: string;
  /**
   * Set by the service once the claim is committed as this request's, so an error the effect
   * throws after that (a refusal) is answered and stored under the key.
   */
  held: boolean;
  /**
   * Set by the service when the claim was committed in the final state 'replay' with an effect
   * that answers any retry by itself (a transfer found again by its reference key): no answer is
   * stored under the key (decision 0045).
   */
  answeredByEffect?: boolean;
}

/**
 * What the service answers when it did not run the effect because its claim was not written:
 * another request holds the key (or an earlier item of the same batch), the batch statement
 * failed, or the effect could not be batched. The caller then claims the key the generic way and
 * runs the effect again without one.
 */
export const CLAIM_NOT_HELD: unique symbol = Symbol('claim not held');
