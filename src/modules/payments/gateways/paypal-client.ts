/**
 * PayPal over plain HTTP (PayPal's own SDKs are either deprecated or server-only beta): the REST
 * API with OAuth client credentials for Instant Checkout (get and capture an order), and IPN
 * verification (the message posted back unchanged, prefixed with `cmd=_notify-validate`).
 * Base URLs are configurable; tested only against test/fakes/paypal-fake.ts.
 */
export interface PaypalSettings {
  clientId: string;
  clientSecret: string;
  mode: 'test' | 'live';
  /** REST API base (settings.base_url). */
  baseUrl?: string;
  /** IPN verification endpoint (settings.ipn_verify_url). */
  ipnVerifyUrl?: string;
  timeoutMs: number;
}

const REST_BASE = { test: 'https://api-m.sandbox.paypal.com', live: 'https://api-m.paypal.com' };
const IPN_VERIFY = {
  test: 'https://ipnpb.sandbox.paypal.com/cgi-bin/webscr',
  live: 'https://ipnpb.paypal.com/cgi-bin/webscr',
};

export interface PaypalAmount {
  currency_code: string;
  value: string;
}
export interface PaypalCapture {
  id: string;
  status: string;
  amount: PaypalAmount;
  custom_id?: string;
}
export interface PaypalOrder {
  id: string;
  status: string;
  purchase_units?: {
    custom_id?: string;
    amount?: PaypalAmount;
    payments?: { captures?: PaypalCapture[] };
  }[];
}

/** PayPal answered with an error document (`name`, `details[].issue`). */
export class PaypalError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly errorName: string,
    readonly issue: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function paypalClient(settings: PaypalSettings) {
  const base = settings.baseUrl ?? REST_BASE[settings.mode];
  const signal = () => AbortSignal.timeout(settings.timeoutMs);

  async function accessToken(): Promise<string> {
    const basic = Buffer.from(`${settings.clientId}:${settings.clientSecret}`).toString('base64');
    const response = await fetch(`${base}/v1/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
      signal: signal(),
    });
    const body = (await response.json()) as { access_token?: string; error_description?: string };
    if (!response.ok || !body.access_token)
      throw new PaypalError(
        response.status,
        'AUTHENTICATION_FAILURE',
        undefined,
        body.error_description ?? 'PayPal refused the credentials',
      );
    return body.access_token;
  }

  async function call(method: 'GET' | 'POST', path: string, requestId?: string): Promise<PaypalOrder> {
    const token = await accessToken();
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        // PayPal's idempotency header: a retried capture answers the first capture.
        ...(requestId ? { 'paypal-request-id': requestId } : {}),
      },
      ...(method === 'POST' ? { body: '{}' } : {}),
      signal: signal(),
    });
    const body = (await response.json()) as PaypalOrder & {
      name?: string;
      message?: string;
      details?: { issue?: string }[];
    };
    if (!response.ok)
      throw new PaypalError(
        response.status,
        body.name ?? 'ERROR',
        body.details?.[0]?.issue,
        body.message ?? `PayPal answered HTTP ${response.status}`,
      );
    return body;
  }

  return {
    getOrder: (orderId: string) => call('GET', `/v2/checkout/orders/${encodeURIComponent(orderId)}`),
    captureOrder: (orderId: string) =>
      call(
        'POST',
        `/v2/checkout/orders/${encodeURIComponent(orderId)}/capture`,
        `tollgate-capture-${orderId}`,
      ),
    /** PayPal's answer to the message posted back: exactly `VERIFIED` or `INVALID`. */
    async verifyIpn(rawBody: Buffer): Promise<'VERIFIED' | 'INVALID'> {
      const response = await fetch(settings.ipnVerifyUrl ?? IPN_VERIFY[settings.mode], {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'user-agent': 'Tollgate-IPN-Verification',
        },
        // The message's own bytes, unchanged: PayPal compares them with what it sent.
        body: Buffer.concat([Buffer.from('cmd=_notify-validate&'), rawBody]),
        signal: signal(),
      });
      const text = (await response.text()).trim();
      if (!response.ok || (text !== 'VERIFIED' && text !== 'INVALID'))
        throw new Error(`PayPal IPN verification answered HTTP ${response.status}: ${text.slice(0, 100)}`);
      return text;
    },
  };
}
