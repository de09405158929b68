/**
 * Expected outcomes of domain operations, as values with precise names. Services throw these;
 * the HTTP layer maps each kind to a status in one table (src/http/errors.ts). Services never
 * know about HTTP.
 */
export type DomainErrorKind =
  | 'invalid'
  | 'not_found'
  | 'conflict'
  | 'forbidden'
  | 'insufficient_funds'
  | 'payment_declined'
  | 'too_large'
  /** A provider we depend on (a payment gateway) did not answer; the client may retry. */
  | 'unavailable'
  /** A reference key (an Idempotency-Key) that already names a different effect. */
  | 'reference_reused';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly param?: string,
    /** Item-level problems (e.g. every rejected row of a batch), shown as `error.details`. */
    readonly details?: Record<string, unknown>[],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string, param?: string) => new DomainError('invalid', message, param);
export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const conflict = (message: string, param?: string) => new DomainError('conflict', message, param);
export const forbidden = (message: string) => new DomainError('forbidden', message);
export const tooLarge = (message: string) => new DomainError('too_large', message);
