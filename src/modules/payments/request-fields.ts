import type { FastifyRequest } from 'fastify';
import { invalid } from '../../errors.js';
import type { CardInput } from './card.js';
import type { BankInput } from './gateways/types.js';

/** Turns seed 004's flat request fields into the services' typed inputs. */

interface CardBody {
  card_number?: string;
  exp_month?: number;
  exp_year?: number;
  cvv?: string;
  cardholder_name?: string;
}

interface BankBody {
  bank_account_number?: string;
  routing_number?: string;
  account_holder?: string;
}

function required<T>(body: Record<string, unknown>, name: string): T {
  if (body[name] === undefined || body[name] === '')
    throw invalid(`Missing required parameter '${name}'`, name);
  return body[name] as T;
}

/** A card when card_number is given: then every other card field is required, and named when missing. */
export function cardOf(body: CardBody): CardInput | undefined {
  if (body.card_number === undefined) return undefined;
  const fields = body as Record<string, unknown>;
  return {
    number: body.card_number,
    expMonth: required<number>(fields, 'exp_month'),
    expYear: required<number>(fields, 'exp_year'),
    cvv: required<string>(fields, 'cvv'),
    holderName: required<string>(fields, 'cardholder_name'),
  };
}

export function bankOf(body: BankBody): BankInput | undefined {
  if (body.bank_account_number === undefined) return undefined;
  const fields = body as Record<string, unknown>;
  return {
    accountNumber: body.bank_account_number,
    routingNumber: required<string>(fields, 'routing_number'),
    holderName: required<string>(fields, 'account_holder'),
  };
}

export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  return typeof key === 'string' && key !== '' ? key : undefined;
}
