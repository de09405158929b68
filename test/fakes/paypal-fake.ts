import { randomBytes } from 'node:crypto';
import { type FakeAnswer, type FakeRequest, HttpFake, json } from './http-fake.js';

/**
 * A local stand-in for PayPal: the REST API's OAuth token endpoint and Orders v2 (get, capture
 * with PayPal-Request-Id replays, PayPal's error documents `{ name, message, details: [{ issue }] }`),
 * and the IPN verification endpoint, which answers VERIFIED only for a message this fake sent,
 * posted back byte for byte after `cmd=_notify-validate&`. It is not PayPal.
 */
type Order = {
  id: string;
  status: 'APPROVED' | 'COMPLETED';
  decline?: boolean;
  pending?: boolean;
  purchase_units: {
    custom_id?: string;
    amount: { currency_code: string; value: string };
    payments?: unknown;
  }[];
};

const paypalError = (status: number, name: string, issue: string, message: string) =>
  json(status, {
    name,
    message,
    details: [{ issue, description: message }],
    debug_id: randomBytes(6).toString('hex'),
  });

export class PaypalFake extends HttpFake {
  readonly orders = new Map<string, Order>();
  private readonly sentIpns = new Set<string>();
  private readonly captureReplies = new Map<string, FakeAnswer>();
  private readonly token = `A21AA${randomBytes(16).toString('hex')}`;

  constructor(
    readonly clientId = 'paypal-client-id',
    readonly clientSecret = 'paypal-client-secret',
  ) {
    super((request) => this.route(request));
  }

  get ipnVerifyUrl() {
    return `${this.url}/cgi-bin/webscr`;
  }

  /** An order the buyer approved in PayPal's checkout, ready to capture. */
  approvedOrder(
    value: string,
    currency: string,
    customId?: string,
    options: { decline?: boolean; pending?: boolean } = {},
  ) {
    const id = randomBytes(9).toString('hex').toUpperCase().slice(0, 17);
    this.orders.set(id, {
      id,
      status: 'APPROVED',
      ...options,
      purchase_units: [
        { ...(customId ? { custom_id: customId } : {}), amount: { currency_code: currency, value } },
      ],
    });
    return id;
  }

  /** An IPN message as PayPal posts it (urlencoded); only messages made here verify. */
  ipn(fields: Record<string, string>): string {
    const body = new URLSearchParams({
      txn_type: 'web_accept',
      payment_date: '10:00:00 May 15, 2026 PDT',
      notify_version: '3.9',
      charset: 'UTF-8',
      verify_sign: randomBytes(20).toString('hex'),
      ...fields,
    }).toString();
    this.sentIpns.add(body);
    return body;
  }

  private route(request: FakeRequest): FakeAnswer {
    if (request.path === '/cgi-bin/webscr') return this.verify(request.body);
    if (request.path === '/v1/oauth2/token') return this.oauth(request);
    if (request.headers.authorization !== `Bearer ${this.token}`)
      return json(401, {
        name: 'AUTHENTICATION_FAILURE',
        message:
          'Authentication failed due to invalid authentication credentials or a missing Authorization header.',
      });
    const match = /^\/v2\/checkout\/orders\/([^/]+)(\/capture)?$/.exec(request.path);
    const order = match ? this.orders.get(decodeURIComponent(match[1]!)) : undefined;
    if (!match || !order)
      return paypalError(
        404,
        'RESOURCE_NOT_FOUND',
        'INVALID_RESOURCE_ID',
        'The specified resource does not exist.',
      );
    if (request.method === 'GET') return json(200, order);
    const requestId = request.headers['paypal-request-id'];
    const replay = typeof requestId === 'string' ? this.captureReplies.get(requestId) : undefined;
    if (replay) return replay;
    const answer = this.capture(order);
    if (typeof requestId === 'string') this.captureReplies.set(requestId, answer);
    return answer;
  }

  private verify(body: string): FakeAnswer {
    const prefix = 'cmd=_notify-validate&';
    const verified = body.startsWith(prefix) && this.sentIpns.has(body.slice(prefix.length));
    return { status: 200, body: verified ? 'VERIFIED' : 'INVALID', contentType: 'text/html; charset=UTF-8' };
  }

  private oauth(request: FakeRequest): FakeAnswer {
    const expected = `Basic ${Buffer.from(`${this.clientId}:${this.clientSecret}`).toString('base64')}`;
    if (request.headers.authorization !== expected || request.body !== 'grant_type=client_credentials')
      return json(401, { error: 'invalid_client', error_description: 'Client Authentication failed' });
    return json(200, {
      scope: 'https://uri.paypal.com/services/payments/payment',
      access_token: this.token,
      token_type: 'Bearer',
      expires_in: 32400,
    });
  }

  private capture(order: Order): FakeAnswer {
    if (order.status === 'COMPLETED')
      return paypalError(422, 'UNPROCESSABLE_ENTITY', 'ORDER_ALREADY_CAPTURED', 'Order already captured.');
    if (order.decline)
      return paypalError(
        422,
        'UNPROCESSABLE_ENTITY',
        'INSTRUMENT_DECLINED',
        'The instrument presented was declined.',
      );
    const unit = order.purchase_units[0]!;
    const capture = {
      id: randomBytes(9).toString('hex').toUpperCase().slice(0, 17),
      status: order.pending ? 'PENDING' : 'COMPLETED',
      amount: unit.amount,
      final_capture: true,
      ...(unit.custom_id ? { custom_id: unit.custom_id } : {}),
    };
    order.status = 'COMPLETED';
    unit.payments = { captures: [capture] };
    return json(201, order);
  }
}
