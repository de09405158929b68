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
  | 'payment_declined';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly param?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string, param?: string) => new DomainError('invalid', message, param);
export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const conflict = (message: string, param?: string) => new DomainError('conflict', message, param);
export const forbidden = (message: string) => new DomainError('forbidden', message);
